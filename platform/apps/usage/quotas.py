"""Quotas as the gateway applies them: which limits bind a call, admission, settlement.

A call is bound by its workspace's quota for all models and by the quota for the model it
names, when they exist. Redis being unreachable fails closed (503) unless
``MINISTUDIO_QUOTA_FAIL_OPEN`` is set, in which case the call goes through unlimited and
the event is logged.
"""

import functools
import logging

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Q

from apps.accounts.models import Workspace
from apps.model_endpoints.models import ModelEndpoint
from apps.usage.limiter import (
    LEASE_MS,
    MINUTE_MS,
    AsyncLimiter,
    Check,
    Limiter,
    Refusal,
    Ticket,
    period_suffix,
    until_period_end_ms,
)
from apps.usage.models import Quota
from kernel import config_cache
from kernel.errors import ApiError
from kernel.redis_connection import async_redis_client, redis_client

logger = logging.getLogger(__name__)


class QuotaExceeded(ApiError):
    """A quota refused the call; ``retry_after`` says when it may pass."""

    status = 429


class QuotaUnavailable(ApiError):
    status = 503
    code = "QuotaServiceUnavailable"


@functools.cache
def _limiter(client: redis.Redis) -> Limiter:
    return Limiter(client)


def limiter() -> Limiter:
    return _limiter(redis_client())


@functools.lru_cache(maxsize=8)  # one per event loop's client; a handful at most
def _async_limiter(client: redis.asyncio.Redis) -> AsyncLimiter:
    return AsyncLimiter(client)


def checks_for(quota: Quota) -> list[Check]:
    """The Redis checks a quota row stands for."""
    prefix = f"ministudio:quota:{quota.pk}"
    scope = quota.scope
    checks = []
    if quota.requests_per_minute is not None:
        checks.append(
            Check(
                "requests_sliding",
                (f"{prefix}:rpm",),
                quota.requests_per_minute,
                MINUTE_MS,
                f"requests per minute of {scope}",
                name="requests_per_minute",
            )
        )
    if quota.tokens_per_minute is not None:
        keys = (f"{prefix}:tpm:z", f"{prefix}:tpm:h", f"{prefix}:tpm:sum")
        checks.append(
            Check(
                "tokens_sliding",
                keys,
                quota.tokens_per_minute,
                MINUTE_MS,
                f"tokens per minute of {scope}",
                name="tokens_per_minute",
            )
        )
    for period, limit in (("day", quota.tokens_per_day), ("month", quota.tokens_per_month)):
        if limit is not None:
            key = f"{prefix}:tokens:{period}:{period_suffix(period)}"
            checks.append(
                Check(
                    "tokens_fixed",
                    (key,),
                    limit,
                    until_period_end_ms(period),
                    f"tokens per {period} of {scope}",
                    name=f"tokens_per_{period}",
                )
            )
    if quota.concurrent_requests is not None:
        checks.append(
            Check(
                "concurrency",
                (f"{prefix}:concurrent",),
                quota.concurrent_requests,
                LEASE_MS,
                f"concurrent requests of {scope}",
                name="concurrent_requests",
            )
        )
    return checks


_ALLOCATION = {"tokens_fixed"}


def quotas_binding(workspace: Workspace, endpoint: ModelEndpoint) -> list[Quota]:
    """The workspace's quota for all models and its quota for ``endpoint``, if any."""
    return list(
        Quota.objects.in_workspace(workspace)
        .filter(Q(endpoint__isnull=True) | Q(endpoint=endpoint))
        .select_related("workspace", "endpoint")
    )


def admit_call(
    workspace: Workspace,
    endpoint: ModelEndpoint,
    tokens: int,
    config_version: bytes | None = None,
) -> Ticket:
    """Admit a call reserving ``tokens``, or raise ``QuotaExceeded`` naming the limit.

    ``config_version`` is the caller's read of ``kernel.config_cache``'s version: with
    it, the quota rows come from the process's cache while no quota has changed."""
    quotas = config_cache.cached(
        ("quotas", workspace.pk, endpoint.pk),
        config_version,
        lambda: quotas_binding(workspace, endpoint),
    )
    checks = [check for quota in quotas for check in checks_for(quota)]
    if not checks:
        return Ticket("", tokens)
    try:
        outcome = limiter().admit(checks, tokens)
    except redis.RedisError as exc:
        return _unlimited_or_refused(exc, tokens)
    return _admitted(outcome, tokens)


async def aadmit_call(
    workspace: Workspace,
    endpoint: ModelEndpoint,
    tokens: int,
    config_version: bytes | None = None,
) -> Ticket:
    """``admit_call`` for async code: the quota rows from the process's cache (the
    database, on a thread, only after a change) and one round trip on the loop's client."""
    quotas = await config_cache.acached(
        ("quotas", workspace.pk, endpoint.pk),
        config_version,
        sync_to_async(quotas_binding),
        workspace,
        endpoint,
    )
    checks = [check for quota in quotas for check in checks_for(quota)]
    if not checks:
        return Ticket("", tokens)
    try:
        outcome = await _async_limiter(async_redis_client()).admit(checks, tokens)
    except redis.RedisError as exc:
        return _unlimited_or_refused(exc, tokens)
    return _admitted(outcome, tokens)


def _unlimited_or_refused(exc: redis.RedisError, tokens: int) -> Ticket:
    """With the quota store unreachable: admitted without limits when configured to fail
    open, else ``QuotaUnavailable``."""
    if settings.QUOTA_FAIL_OPEN:
        logger.warning("Quota store unreachable (%s); admitting without limits", exc)
        return Ticket("", tokens)
    raise QuotaUnavailable(
        "Quotas cannot be checked right now (the quota store is unreachable); try again."
    ) from None


def _admitted(outcome: Ticket | Refusal, tokens: int) -> Ticket:
    if isinstance(outcome, Refusal):
        check = outcome.check
        code = "Throttling.AllocationQuota" if check.kind in _ALLOCATION else "Throttling.RateQuota"
        raise QuotaExceeded(
            f"Quota exceeded: {check.label} is {check.limit}"
            + (f" (this call reserves {tokens} tokens)" if "tokens" in check.kind else "")
            + f". Retry after {outcome.retry_after_seconds}s.",
            code=code,
            retry_after=outcome.retry_after_seconds,
        )
    return outcome


def settle_call(ticket: Ticket, used_tokens: int) -> None:
    if not ticket.checks:  # no quota applied: nothing to settle, no round trip
        return
    try:
        limiter().settle(ticket, used_tokens)
    except redis.RedisError as exc:  # the reservation stands; better than failing the answer
        logger.warning("Could not settle a quota reservation: %s", exc)


async def asettle_call(ticket: Ticket, used_tokens: int) -> None:
    """``settle_call`` for async code."""
    if not ticket.checks:
        return
    try:
        await _async_limiter(async_redis_client()).settle(ticket, used_tokens)
    except redis.RedisError as exc:
        logger.warning("Could not settle a quota reservation: %s", exc)
