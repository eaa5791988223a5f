"""How much one model call may carry, checked before it is admitted or sent upstream, as
OpenAI and DashScope document their own limits: inputs per embeddings call, tokens per
input and per request, messages and prompt tokens per chat call. Every surface (OpenAI,
DashScope, apps, batches, ingestion) routes through here, so the limits bind them all; the
numbers are settings (README, "Configuration").

Tokens are counted only where they could exceed a limit: a text has no more tokens than
UTF-8 bytes, so texts shorter than the limit in bytes are not tokenised again.
"""

from django.conf import settings

from kernel.errors import InvalidParameter
from kernel.tokens import count_tokens


class TooManyInputs(InvalidParameter):
    code = "InvalidParameter.TooManyInputs"


class InputTooLong(InvalidParameter):
    code = "InvalidParameter.InputTooLong"


class RequestTooLong(InvalidParameter):
    code = "InvalidParameter.RequestTooLong"


def _tokens_over(text: str, limit: int, model: str) -> int | None:
    """``text``'s token count when it is over ``limit``, else None."""
    if len(text.encode()) <= limit:
        return None
    tokens = count_tokens(text, model)
    return tokens if tokens > limit else None


def _field(surface: str) -> str:
    return "input.texts" if surface == "dashscope" else "input"


def check_embedding_inputs(inputs: list[str], *, model: str, surface: str) -> None:
    """Refuse an embeddings call with too many inputs, or an input over the per-input token
    limit (before the request's tokens are counted at all)."""
    most = (
        settings.DASHSCOPE_EMBEDDING_MAX_INPUTS
        if surface == "dashscope"
        else settings.EMBEDDING_MAX_INPUTS
    )
    field = _field(surface)
    if len(inputs) > most:
        raise TooManyInputs(
            f"{field}: batch size is invalid, it should not be larger than {most} "
            f"(this call has {len(inputs)}).",
            param=field,
        )
    per_input = settings.EMBEDDING_MAX_INPUT_TOKENS
    for index, text in enumerate(inputs):
        if (tokens := _tokens_over(text, per_input, model)) is not None:
            raise InputTooLong(
                f"{field}[{index}]: this model's maximum input length is {per_input} tokens, "
                f"but the input has {tokens}.",
                param=f"{field}[{index}]",
            )


def check_embedding_tokens(tokens: int, *, surface: str) -> None:
    """Refuse an embeddings call with more tokens in all than one request may carry."""
    most = settings.EMBEDDING_MAX_REQUEST_TOKENS
    if tokens > most:
        field = _field(surface)
        raise RequestTooLong(
            f"{field}: requested {tokens} tokens, at most {most} tokens per request.",
            param=field,
        )


def check_chat_messages(message_count: int) -> None:
    """Refuse a chat call with more messages than one request may carry."""
    most = settings.CHAT_MAX_MESSAGES
    if message_count > most:
        raise TooManyInputs(
            f"messages: at most {most} messages per request (this call has {message_count}).",
            param="messages",
        )


def check_prompt_tokens(tokens: int) -> None:
    """Refuse a chat call whose prompt has more tokens than one request may carry."""
    most = settings.CHAT_MAX_PROMPT_TOKENS
    if tokens > most:
        raise RequestTooLong(
            f"messages: the prompt has {tokens} tokens, at most {most} per request.",
            param="messages",
        )
