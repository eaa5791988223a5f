"""The gateway's response cache: a workspace that opts in for a model (its grant's
``response_cache_seconds``) has identical deterministic chat requests answered from Redis.

Deterministic means what the caller asked for can be answered again: temperature 0 (after
the endpoint's defaults) or a ``seed``. Identical means the request as the provider would
receive it, every field, so a different tool list, stop word or output cap is a different
entry. The key carries the workspace and the endpoint: no workspace ever reads another's
answers, and an endpoint pointed elsewhere starts a new cache only when its id changes
(changing its upstream in place keeps entries until they expire, like any TTL cache).

The cache is an optimisation: when Redis fails, the call goes upstream as if it missed.
"""

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import redis

from kernel.redis_connection import async_redis_client, redis_client
from plugins.async_streams import aclose
from plugins.base import ChatChunk, ChatMessage, ChatRequest, ChatResponse, Usage

logger = logging.getLogger(__name__)

_PREFIX = "ms:response-cache"


def deterministic(request: ChatRequest) -> bool:
    """Whether the answer to ``request`` may be given again: temperature 0 or a seed."""
    return request.temperature == 0 or request.extra.get("seed") is not None


@dataclass(frozen=True)
class ResponseCache:
    """One request's place in the cache: where its answer is, and for how long it stays."""

    key: str
    seconds: int

    def answer(self) -> ChatResponse | None:
        """The cached answer, or None on a miss (or when Redis cannot be read)."""
        try:
            stored = redis_client().get(self.key)
        except redis.RedisError as exc:
            logger.warning("Response cache unreadable (%s); calling upstream", exc)
            return None
        return ChatResponse.model_validate_json(stored) if stored else None

    async def aanswer(self) -> ChatResponse | None:
        """``answer``, for async code."""
        try:
            stored = await async_redis_client().get(self.key)
        except redis.RedisError as exc:
            logger.warning("Response cache unreadable (%s); calling upstream", exc)
            return None
        return ChatResponse.model_validate_json(stored) if stored else None

    def keep(self, answer: ChatResponse) -> None:
        """Store ``answer`` for ``seconds``; a failure to store costs only the next hit."""
        try:
            redis_client().set(self.key, answer.model_dump_json(), ex=self.seconds)
        except redis.RedisError as exc:
            logger.warning("Response cache not written (%s)", exc)

    async def akeep(self, answer: ChatResponse) -> None:
        """``keep``, for async code."""
        try:
            await async_redis_client().set(self.key, answer.model_dump_json(), ex=self.seconds)
        except redis.RedisError as exc:
            logger.warning("Response cache not written (%s)", exc)

    async def akept(self, chunks: AsyncIterator[ChatChunk]) -> AsyncIterator[ChatChunk]:
        """``kept``, for an async stream."""
        assembled = _Assembly()
        try:
            async for chunk in chunks:
                assembled.add(chunk)
                yield chunk
        finally:
            await aclose(chunks)  # closed early: the upstream call ends here
        if assembled.finish_reason is not None:
            await self.akeep(assembled.answer())

    def kept(self, chunks: Iterator[ChatChunk]) -> Iterator[ChatChunk]:
        """``chunks`` passed through; once they end with a finish reason, the answer they
        make is kept. A stream that fails or is abandoned keeps nothing."""
        assembled = _Assembly()
        for chunk in chunks:
            assembled.add(chunk)
            yield chunk
        if assembled.finish_reason is not None:
            self.keep(assembled.answer())


def cache_for(
    workspace_id: object, endpoint_id: object, seconds: int, request: ChatRequest
) -> ResponseCache | None:
    """The cache place of ``request`` (as the provider receives it), or None when the
    workspace keeps no answers of this model or the request is not deterministic."""
    if seconds <= 0 or not deterministic(request):
        return None
    canonical = json.dumps(
        request.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return ResponseCache(f"{_PREFIX}:{workspace_id}:{endpoint_id}:{digest}", seconds)


async def areplay(answer: ChatResponse) -> AsyncIterator[ChatChunk]:
    """``replay``, as an async stream."""
    for chunk in replay(answer):
        yield chunk


def replay(answer: ChatResponse) -> Iterator[ChatChunk]:
    """A cached answer as a stream: its text, then the last chunk with its tool calls,
    finish reason and usage, as a provider streams them."""
    if answer.message.content:
        yield ChatChunk(content=answer.message.content)
    yield ChatChunk(
        tool_calls=answer.message.tool_calls,
        finish_reason=answer.finish_reason,
        usage=answer.usage,
    )


class _Assembly:
    """A streamed answer put back together (text joined; tool calls come whole, last)."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.chunks: list[ChatChunk] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def add(self, chunk: ChatChunk) -> None:
        self.text.append(chunk.content)
        self.chunks.append(chunk)
        self.usage = chunk.usage or self.usage
        self.finish_reason = chunk.finish_reason or self.finish_reason

    def answer(self) -> ChatResponse:
        tool_calls = [call for chunk in self.chunks for call in chunk.tool_calls]
        text = "".join(self.text)
        return ChatResponse(
            message=ChatMessage(role="assistant", content=text or None, tool_calls=tool_calls),
            finish_reason=self.finish_reason or "stop",
            usage=self.usage,
        )
