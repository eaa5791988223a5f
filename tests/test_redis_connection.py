"""The platform's Redis client is made once per process, however many threads ask first."""

import threading
import time

import redis

from kernel import redis_connection


def test_threads_that_ask_at_once_share_one_client_whose_pool_stays_open(monkeypatch):
    monkeypatch.setattr(redis_connection, "_clients", {})
    made = []
    real_from_url = redis.Redis.from_url

    def slow_from_url(*args, **kwargs):
        # Widen the window in which a second thread could start making its own client.
        time.sleep(0.05)
        client = real_from_url(*args, **kwargs)
        made.append(client)
        return client

    monkeypatch.setattr(redis.Redis, "from_url", slow_from_url)
    start = threading.Barrier(8)
    answers: list[bool] = []

    def ask() -> None:
        start.wait()
        client = redis_connection.redis_client()
        answers.append(client.ping())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(made) == 1
    assert answers == [True] * 8
    assert redis_connection.redis_client() is made[0]
