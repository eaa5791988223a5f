"""Metering gateway calls without slowing them.

A ``Meter`` follows one call (latency, time to first token, tokens) and, when it ends,
appends one small JSON event to a Redis list: one round trip, no database write on the
request's path. ``apps.usage.services.flush_usage`` moves events into the ledger in
batches (a periodic worker task, and before every usage read). If Redis cannot take the
event, it is written to the database directly: slower, never lost.
"""

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import redis
from asgiref.sync import sync_to_async
from django.utils import timezone

from apps.accounts.models import ApiKey, Workspace
from apps.model_endpoints.models import ModelEndpoint
from apps.usage.limiter import Ticket
from apps.usage.models import CallStatus
from apps.usage.quotas import aadmit_call, admit_call, asettle_call, settle_call
from apps.usage.services import PENDING_KEY, write_events
from kernel.redis_connection import async_redis_client, redis_client
from kernel.request_id import current_request_id
from kernel.tokens import estimated_usage
from plugins.async_streams import aclose
from plugins.base import ChatChunk, Usage

logger = logging.getLogger(__name__)


@dataclass
class UsageEvent:
    workspace_id: str
    api_key_id: str | None
    endpoint_id: str | None
    model: str
    surface: str
    capability: str
    input_tokens: int
    output_tokens: int
    tokens_counted_locally: bool
    latency_ms: int
    time_to_first_token_ms: int | None
    status: str
    error_code: str
    cost: str
    request_id: str
    created_at: str
    app_id: str | None = None
    batch_id: str | None = None
    app_node: str | None = None
    cache_hit: bool = False


@dataclass
class Meter:
    endpoint: ModelEndpoint
    workspace: Workspace
    #: The key that made the call; None for the platform's own calls (ingestion, hit test).
    api_key: ApiKey | None
    surface: str
    capability: str
    request_id: str = field(default_factory=current_request_id)
    prompt_text: str = ""
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    finished: bool = False
    #: The quota admission this call holds, settled when it ends.
    ticket: Ticket | None = None
    #: The configuration version routing read (kernel.config_cache), reused for quotas.
    config_version: bytes | None = None
    #: The agent app whose run makes the call (apps.applications), for usage by app.
    app_id: str | None = None
    #: The batch whose line makes the call (apps.batch), for usage by batch.
    batch_id: str | None = None
    #: The workflow node (of ``app_id``) whose run makes the call, for usage by node.
    app_node: str | None = None
    #: The response cache's part in the call: "hit", "miss", or "" when it had none
    #: (apps.gateway.response_cache). A hit costs nothing and uses no quota tokens.
    cache: str = ""

    def for_endpoint(self, endpoint: ModelEndpoint) -> "Meter":
        """A fresh meter for another call of the same request, on ``endpoint`` (a model
        group's next member): the same workspace, key, surface and tags."""
        return Meter(
            endpoint,
            self.workspace,
            self.api_key,
            self.surface,
            self.capability,
            request_id=self.request_id,
            config_version=self.config_version,
            app_id=self.app_id,
            batch_id=self.batch_id,
            app_node=self.app_node,
        )

    def first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()

    def admit(self, reserved_tokens: int) -> None:
        """Hold the call to its workspace's quotas (``QuotaExceeded`` when over)."""
        self.ticket = admit_call(
            self.workspace, self.endpoint, reserved_tokens, self.config_version
        )

    async def aadmit(self, reserved_tokens: int) -> None:
        """``admit``, for async code."""
        self.ticket = await aadmit_call(
            self.workspace, self.endpoint, reserved_tokens, self.config_version
        )

    def finish(
        self,
        *,
        status: CallStatus,
        usage: Usage | None = None,
        completion_text: str = "",
        error_code: str = "",
    ) -> None:
        """Record the call once; later calls are ignored (a stream may end twice)."""
        if self.finished:
            return
        event, used = self._ending(status, usage, completion_text, error_code)
        record(event)
        if self.ticket is not None:
            settle_call(self.ticket, used)

    async def afinish(
        self,
        *,
        status: CallStatus,
        usage: Usage | None = None,
        completion_text: str = "",
        error_code: str = "",
    ) -> None:
        """``finish``, for async code."""
        if self.finished:
            return
        event, used = self._ending(status, usage, completion_text, error_code)
        await arecord(event)
        if self.ticket is not None:
            await asettle_call(self.ticket, used)

    def _ending(
        self, status: CallStatus, usage: Usage | None, completion_text: str, error_code: str
    ) -> tuple[UsageEvent, int]:
        """The call's ledger event, and the tokens to settle its quota ticket to."""
        self.finished = True
        counted_locally = usage is None
        if usage is None:
            usage = estimated_usage(self.prompt_text, completion_text, self.endpoint.upstream_model)
        now = time.monotonic()
        endpoint = self.endpoint
        hit = self.cache == "hit"
        cost = (
            Decimal(0)
            if hit
            else (
                Decimal(usage.input_tokens) * endpoint.price_input_per_1k
                + Decimal(usage.output_tokens) * endpoint.price_output_per_1k
            )
            / 1000
        )
        event = UsageEvent(
            workspace_id=str(self.workspace.pk),
            api_key_id=str(self.api_key.pk) if self.api_key else None,
            endpoint_id=str(endpoint.pk),
            model=endpoint.name,
            surface=self.surface,
            capability=self.capability,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            tokens_counted_locally=counted_locally,
            latency_ms=round((now - self.started) * 1000),
            time_to_first_token_ms=(
                round((self.first_token_at - self.started) * 1000) if self.first_token_at else None
            ),
            status=status.value,
            error_code=error_code,
            cost=str(cost),
            request_id=self.request_id,
            created_at=timezone.now().isoformat(),
            app_id=self.app_id,
            batch_id=self.batch_id,
            app_node=self.app_node,
            cache_hit=hit,
        )
        spent = status != CallStatus.ERROR and not hit
        return event, usage.input_tokens + usage.output_tokens if spent else 0

    def watch(self, chunks: Iterator[ChatChunk]) -> Iterator[ChatChunk]:
        """Pass a stream through, timing its first token and recording it when it ends:
        completed, failed, or abandoned by the client (closed early)."""
        seen = _Seen()
        status, error_code = CallStatus.CANCELLED, ""
        try:
            for chunk in chunks:
                self._saw(seen, chunk)
                yield chunk
            status = CallStatus.OK
        except Exception as exc:
            status, error_code = CallStatus.ERROR, type(exc).__name__
            raise
        finally:
            self.finish(
                status=status, usage=seen.usage, completion_text=seen.text(), error_code=error_code
            )

    async def awatch(self, chunks: AsyncIterator[ChatChunk]) -> AsyncIterator[ChatChunk]:
        """``watch``, for an async stream. Closing it (the client went away) closes
        ``chunks`` (and so the upstream call) before the call is recorded as cancelled."""
        seen = _Seen()
        status, error_code = CallStatus.CANCELLED, ""
        try:
            async for chunk in chunks:
                self._saw(seen, chunk)
                yield chunk
            status = CallStatus.OK
        except Exception as exc:
            status, error_code = CallStatus.ERROR, type(exc).__name__
            raise
        finally:
            await aclose(chunks)
            await self.afinish(
                status=status, usage=seen.usage, completion_text=seen.text(), error_code=error_code
            )

    def _saw(self, seen: "_Seen", chunk: ChatChunk) -> None:
        if chunk.content or chunk.tool_calls:
            self.first_token()
        seen.pieces.append(chunk.content)
        seen.usage = chunk.usage or seen.usage


@dataclass
class _Seen:
    """What a watched stream has passed so far."""

    pieces: list[str] = field(default_factory=list)
    usage: Usage | None = None

    def text(self) -> str:
        return "".join(self.pieces)


def record(event: UsageEvent) -> None:
    payload = json.dumps(asdict(event))
    try:
        redis_client().rpush(PENDING_KEY, payload)
    except redis.RedisError:
        logger.warning("Redis refused a usage event; writing it to the database directly")
        write_events([payload])


async def arecord(event: UsageEvent) -> None:
    """``record``, for async code (the database fallback runs on a thread)."""
    payload = json.dumps(asdict(event))
    try:
        await async_redis_client().rpush(PENDING_KEY, payload)
    except redis.RedisError:
        logger.warning("Redis refused a usage event; writing it to the database directly")
        await sync_to_async(write_events)([payload])


@dataclass(frozen=True)
class ToolCallTags:
    """Who made a tool call, for its line in the ledger (the run's surface, key and app)."""

    surface: str
    api_key: ApiKey | None = None
    app_id: str | None = None
    app_node: str | None = None
    request_id: str = ""


def record_tool_call(
    workspace_id: object,
    tool: str,
    *,
    tags: ToolCallTags,
    latency_ms: int,
    status: CallStatus,
    error_code: str = "",
) -> None:
    """Meter one call of an external tool (an MCP server's): a ledger line with the tool
    as its ``model``, capability ``tool`` and no tokens, so that usage counts calls and
    errors by tool as it does by model."""
    record(
        UsageEvent(
            workspace_id=str(workspace_id),
            api_key_id=str(tags.api_key.pk) if tags.api_key else None,
            endpoint_id=None,
            model=tool[:100],
            surface=tags.surface,
            capability="tool",
            input_tokens=0,
            output_tokens=0,
            tokens_counted_locally=False,
            latency_ms=latency_ms,
            time_to_first_token_ms=None,
            status=status.value,
            error_code=error_code[:64],
            cost="0",
            request_id=tags.request_id or current_request_id(),
            created_at=timezone.now().isoformat(),
            app_id=tags.app_id,
            app_node=tags.app_node,
        )
    )
