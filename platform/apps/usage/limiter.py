"""Exact rate and budget limits in Redis, independent of Django.

Each call is admitted against all its limits by one Lua script (``admission.lua``): there
is no moment between checking and charging, so no number of web processes or threads can
over-admit. Token limits are charged the call's *reservation* (prompt + maximum output)
up front and settled to the real count afterwards (``settlement.lua``); a failed call
gives its tokens back. Per-minute limits are sliding windows (no burst at a minute's
edge); per-day and per-month budgets follow the UTC calendar.
"""

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import redis.asyncio

_HERE = Path(__file__).resolve().parent
_ADMISSION = (_HERE / "admission.lua").read_text()
_SETTLEMENT = (_HERE / "settlement.lua").read_text()

MINUTE_MS = 60_000
#: How long a concurrency slot is held if its call never reports back (a crashed process).
LEASE_MS = 10 * MINUTE_MS


@dataclass(frozen=True)
class Check:
    """One limit of one scope. ``label`` names it in a 429 ("tokens per day of ...")."""

    kind: str  # requests_sliding | tokens_sliding | tokens_fixed | concurrency
    keys: tuple[str, ...]
    limit: int
    span_ms: int
    label: str
    #: The limit it enforces (the Quota field, "tokens_per_day"); for reading it back.
    name: str = ""


@dataclass(frozen=True)
class Refusal:
    check: Check
    retry_after_seconds: int


@dataclass
class Ticket:
    """An admitted call: what to settle, and against which limits."""

    call_id: str
    reserved: int
    checks: list[Check] = field(default_factory=list)


def _now_ms() -> int:
    return int(time.time() * 1000)


def until_period_end_ms(period: str, now: datetime | None = None) -> int:
    """Milliseconds until the current UTC day or month ends."""
    now = now or datetime.now(UTC)
    if period == "day":
        end = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (first + timedelta(days=32)).replace(day=1)
    return max(1, int((end - now).total_seconds() * 1000))


def period_suffix(period: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%d" if period == "day" else "%Y%m")


class Limiter:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._admission = client.register_script(_ADMISSION)
        self._settlement = client.register_script(_SETTLEMENT)

    def admit(self, checks: list[Check], tokens: int) -> Ticket | Refusal:
        """Charge one call against every check, or none of them."""
        call_id = uuid.uuid4().hex
        if not checks:
            return Ticket(call_id, tokens)
        keys, args = _admission_arguments(checks, call_id, tokens)
        return _admission_outcome(checks, call_id, tokens, self._admission(keys=keys, args=args))

    def consumption(self, checks: list[Check], now_ms: int | None = None) -> list[int]:
        """What each check has counted right now, read the way ``admission.lua`` counts
        (expired entries left out), without charging or cleaning anything."""
        now = now_ms if now_ms is not None else _now_ms()
        pipe = self.client.pipeline(transaction=False)
        for check in checks:
            if check.kind == "requests_sliding":
                pipe.zcount(check.keys[0], f"({now - check.span_ms}", "+inf")
            elif check.kind == "tokens_sliding":
                pipe.zrangebyscore(check.keys[0], f"({now - check.span_ms}", "+inf")
                pipe.hgetall(check.keys[1])
            elif check.kind == "tokens_fixed":
                pipe.get(check.keys[0])
            else:  # concurrency: leases whose deadline has not passed
                pipe.zcount(check.keys[0], f"({now}", "+inf")
        replies = iter(pipe.execute())
        used = []
        for check in checks:
            if check.kind == "tokens_sliding":
                live, reserved = next(replies), next(replies)
                used.append(sum(int(reserved.get(member, 0)) for member in live))
            else:
                used.append(int(next(replies) or 0))
        return used

    def settle(self, ticket: Ticket, used_tokens: int) -> None:
        """Replace the reservation by what was used, and free the concurrency slot."""
        if ticket.checks:
            self._settlement(**_settlement_arguments(ticket, used_tokens))


class AsyncLimiter:
    """``Limiter``'s admission and settlement for async code, on an asyncio client: the
    same scripts, so both kinds of caller count against the same limits exactly."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._admission = client.register_script(_ADMISSION)
        self._settlement = client.register_script(_SETTLEMENT)

    async def admit(self, checks: list[Check], tokens: int) -> Ticket | Refusal:
        call_id = uuid.uuid4().hex
        if not checks:
            return Ticket(call_id, tokens)
        keys, args = _admission_arguments(checks, call_id, tokens)
        reply = await self._admission(keys=keys, args=args)
        return _admission_outcome(checks, call_id, tokens, reply)

    async def settle(self, ticket: Ticket, used_tokens: int) -> None:
        if ticket.checks:
            await self._settlement(**_settlement_arguments(ticket, used_tokens))


def _admission_arguments(
    checks: list[Check], call_id: str, tokens: int
) -> tuple[list[str], list[object]]:
    keys: list[str] = []
    args: list[object] = [_now_ms(), call_id, tokens, len(checks)]
    for check in checks:
        keys.extend(check.keys)
        args.extend([check.kind, check.limit, check.span_ms])
    return keys, args


def _admission_outcome(
    checks: list[Check], call_id: str, tokens: int, reply: list
) -> Ticket | Refusal:
    admitted, failed, retry_ms = reply
    if admitted:
        return Ticket(call_id, tokens, list(checks))
    seconds = max(1, -(-int(retry_ms) // 1000))
    return Refusal(checks[int(failed) - 1], seconds)


def _settlement_arguments(ticket: Ticket, used_tokens: int) -> dict[str, list]:
    keys = [key for check in ticket.checks for key in check.keys]
    args: list[object] = [ticket.call_id, used_tokens - ticket.reserved, len(ticket.checks)]
    args.extend(check.kind for check in ticket.checks)
    return {"keys": keys, "args": args}
