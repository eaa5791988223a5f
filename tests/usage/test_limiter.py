"""The Redis limiter, exact under concurrency: N > L callers from several processes at
once, and exactly L are admitted. No database here: the limiter is pure Redis."""

import multiprocessing
import os
import threading
import uuid

import pytest
import redis
from django.conf import settings

from apps.usage.limiter import MINUTE_MS, Check, Limiter, Refusal, Ticket


def fresh(kind: str, limit: int, span_ms: int = MINUTE_MS) -> Check:
    base = f"test:limiter:{uuid.uuid4().hex}"
    keys = (f"{base}:z", f"{base}:h", f"{base}:s") if kind == "tokens_sliding" else (base,)
    return Check(kind, keys, limit, span_ms, f"{kind} limit")


def _hammer(url: str, checks: list[Check], tokens: int, calls: int, start, results) -> None:
    limiter = Limiter(redis.Redis.from_url(url))
    start.wait()
    admitted = 0
    barrier = threading.Barrier(calls)

    def one() -> None:
        nonlocal admitted
        barrier.wait()
        if isinstance(limiter.admit(checks, tokens), Ticket):
            with lock:
                admitted += 1

    lock = threading.Lock()
    threads = [threading.Thread(target=one) for _ in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(admitted)


def admitted_across_processes(checks: list[Check], tokens: int, processes: int, calls: int) -> int:
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=_hammer, args=(settings.TEST_REDIS_URL, checks, tokens, calls, start, results)
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    start.set()
    total = sum(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(30)
    return total


@pytest.mark.slow
def test_requests_per_minute_admits_exactly_the_limit():
    assert os.cpu_count()
    admitted = admitted_across_processes([fresh("requests_sliding", 25)], 0, processes=4, calls=20)
    assert admitted == 25


@pytest.mark.slow
def test_tokens_per_minute_with_reservations_admits_exactly_what_fits():
    check = fresh("tokens_sliding", 1000)
    admitted = admitted_across_processes([check], 100, processes=4, calls=15)
    assert admitted == 10
    client = redis.Redis.from_url(settings.TEST_REDIS_URL)
    assert int(client.get(check.keys[2])) == 1000


@pytest.mark.slow
def test_several_limits_at_once_charge_all_or_none():
    requests, tokens = fresh("requests_sliding", 50), fresh("tokens_sliding", 700)
    admitted = admitted_across_processes([requests, tokens], 100, processes=3, calls=10)
    assert admitted == 7
    client = redis.Redis.from_url(settings.TEST_REDIS_URL)
    assert client.zcard(requests.keys[0]) == 7  # the refused calls were not counted


def test_settlement_moves_the_reservation_to_real_use():
    limiter = Limiter(redis.Redis.from_url(settings.TEST_REDIS_URL))
    tpm = fresh("tokens_sliding", 1000)
    ticket = limiter.admit([tpm], 800)
    assert isinstance(ticket, Ticket)
    assert isinstance(limiter.admit([tpm], 300), Refusal)
    limiter.settle(ticket, 120)  # the answer was short
    assert isinstance(limiter.admit([tpm], 300), Ticket)


def test_a_failed_call_gives_its_tokens_back_and_its_slot():
    limiter = Limiter(redis.Redis.from_url(settings.TEST_REDIS_URL))
    day, slots = fresh("tokens_fixed", 500, span_ms=3_600_000), fresh("concurrency", 1, 60_000)
    ticket = limiter.admit([day, slots], 400)
    refused = limiter.admit([day, slots], 10)
    assert isinstance(refused, Refusal) and refused.check is slots
    limiter.settle(ticket, 0)
    assert isinstance(limiter.admit([day, slots], 450), Ticket)


def test_a_refusal_says_when_to_retry():
    limiter = Limiter(redis.Redis.from_url(settings.TEST_REDIS_URL))
    rpm = fresh("requests_sliding", 1)
    assert isinstance(limiter.admit([rpm], 0), Ticket)
    refusal = limiter.admit([rpm], 0)
    assert isinstance(refusal, Refusal)
    assert 55 <= refusal.retry_after_seconds <= 60
    day = fresh("tokens_fixed", 10, span_ms=7_200_000)
    assert limiter.admit([day], 11).retry_after_seconds == 7200
