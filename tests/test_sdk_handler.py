"""The SDK surfaces' lean middleware chain (``studio.sdk_handler``), through the real ASGI
application: no thread hop for Django's session, CSRF and other middleware, while the host
check, the security headers, request ids and the surfaces' error shapes stay."""

import asyncio

import httpx
import pytest
from asgiref.sync import SyncToAsync

pytestmark = pytest.mark.django_db(transaction=True)


def call(
    path: str, *, host: str = "testserver", method: str = "GET", **kwargs
) -> tuple[httpx.Response, int]:
    """One request through ``studio.asgi.application``, and how many times Django went to
    a thread (``sync_to_async``) while serving it."""
    from studio.asgi import application  # once the test database is set up

    hops = 0
    original = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        nonlocal hops
        hops += 1
        return await original(self, *args, **kwargs)

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            return await client.request(method, path, **kwargs)

    SyncToAsync.__call__ = counted
    try:
        response = asyncio.run(send())
    finally:
        SyncToAsync.__call__ = original
    return response, hops


def test_an_sdk_call_skips_the_sessions_and_keeps_the_security_headers(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    response, _ = call("/compatible-mode/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]
    assert "set-cookie" not in response.headers


def test_an_sdk_call_goes_to_a_thread_less_often_than_a_console_call(settings):
    """The full chain sends Django's seven ``MiddlewareMixin`` middleware's hooks to a
    thread; on the SDK chain an async view goes there only for what Django's ASGI handler
    does itself: the request_started signal, closing the response (request_finished) and,
    for a 4xx, logging it."""
    settings.ALLOWED_HOSTS = ["testserver"]
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}
    refused, sdk_hops = call("/compatible-mode/v1/chat/completions", method="POST", json=body)
    assert refused.status_code == 401
    _, console_hops = call("/console/api/auth/csrf")
    assert sdk_hops == 3
    assert console_hops >= sdk_hops + 7


def test_a_host_not_allowed_is_refused_on_the_sdk_paths(settings):
    settings.ALLOWED_HOSTS = ["studio.example"]
    response, _ = call("/api/v1/services/aigc/text-generation/generation", host="evil.example")
    assert response.status_code == 400
