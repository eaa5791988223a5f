"""Lock-outs after failed sign-ins and API keys: 429 with Retry-After in each surface's shape,
counted in Redis per account and per client address (apps/accounts/throttling.py)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dashscope
import httpx
import openai
import pytest
from dashscope import Generation
from django.test import Client, RequestFactory

from apps.accounts import throttling
from apps.accounts.services import create_api_key
from kernel.redis_connection import redis_client
from tests.conftest import PASSWORD
from tests.test_settings import run_django

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/console/api/auth/login"
ME = "/console/api/auth/me"
WRONG_KEY = "sk-" + "0" * 48


@pytest.fixture
def limits(settings):
    """Small limits; a long lock-out, ended in the tests by expiring the Redis key."""
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    settings.API_KEY_FAILURES_PER_ADDRESS = 3
    settings.AUTH_LOCKOUT_SECONDS = 120
    return settings


def sign_in(email: str, password: str, address: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        LOGIN, {"email": email, "password": password}, content_type="application/json"
    )


def call_with_key(key: str, address: str = "127.0.0.1", path: str = ME):
    return Client(REMOTE_ADDR=address).get(path, headers={"Authorization": f"Bearer {key}"})


def assert_throttled(response, code: str, lockout: int = 120) -> int:
    """A 429 in the console (and DashScope) shape; returns its Retry-After."""
    assert response.status_code == 429, response.content
    body = response.json()
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == code
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= lockout
    assert f"try again in {retry_after} s" in body["message"]
    return retry_after


def end_lockouts() -> None:
    """Let the lock-outs run out now: expire every throttle key and wait until Redis has."""
    client = redis_client()
    keys = list(client.scan_iter(f"{throttling.KEY_PREFIX}:*"))
    for key in keys:
        client.pexpire(key, 1)
    deadline = time.monotonic() + 5
    while any(client.exists(key) for key in keys):
        assert time.monotonic() < deadline, "the throttle keys did not expire"
        time.sleep(0.005)


# --- sign-ins --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_wrong_passwords_lock_the_account_even_for_the_right_one(alice, limits):
    for _ in range(3):
        response = sign_in(alice.email, "wrong")
        assert (response.status_code, response.json()["code"]) == (401, "InvalidCredentials")

    locked = sign_in(alice.email, "wrong")
    retry_after = assert_throttled(locked, "Throttling.Login")
    assert retry_after >= 110  # the lock-out started at the third failure, just now
    assert_throttled(sign_in(alice.email, PASSWORD), "Throttling.Login")
    # Also under another spelling of the address, and from another client address.
    assert_throttled(sign_in(" ALICE@Example.com", PASSWORD), "Throttling.Login")
    assert_throttled(sign_in(alice.email, PASSWORD, address="198.51.100.7"), "Throttling.Login")


@pytest.mark.django_db
def test_the_lockout_ends_after_its_window_and_is_not_prolonged_by_refused_tries(alice, limits):
    for _ in range(3):
        sign_in(alice.email, "wrong")
    for _ in range(5):
        assert_throttled(sign_in(alice.email, "wrong"), "Throttling.Login")
    # Refused attempts were not counted: the counter stayed at the limit.
    key = throttling._account_counter(alice.email).key
    assert int(redis_client().get(key)) == 3
    assert 0 < redis_client().ttl(key) <= 120

    end_lockouts()
    response = sign_in(alice.email, PASSWORD)
    assert response.status_code == 200, response.content
    assert response.json()["user"]["email"] == alice.email


@pytest.mark.django_db
def test_a_successful_sign_in_forgets_the_accounts_failures(alice, limits):
    for _ in range(2):
        sign_in(alice.email, "wrong")
    assert sign_in(alice.email, PASSWORD).status_code == 200
    for _ in range(2):
        assert sign_in(alice.email, "wrong").status_code == 401
    assert sign_in(alice.email, PASSWORD).status_code == 200


@pytest.mark.django_db
def test_one_address_guessing_across_accounts_is_locked_out(alice, bob, charlie, limits):
    # Five failures from one address, no account reaching its own limit of three.
    for email in [alice.email, alice.email, bob.email, bob.email, "nobody@example.com"]:
        assert sign_in(email, "wrong", address="203.0.113.5").status_code == 401

    assert_throttled(sign_in(charlie.email, PASSWORD, address="203.0.113.5"), "Throttling.Login")
    # Another address signs in to the same accounts as usual.
    assert sign_in(charlie.email, PASSWORD, address="203.0.113.6").status_code == 200
    # A success from the locked address did not reset the address (alice's account is fine).
    assert_throttled(sign_in(alice.email, PASSWORD, address="203.0.113.5"), "Throttling.Login")


@pytest.mark.django_db
def test_an_unknown_account_locks_like_a_real_one(db, limits):
    for _ in range(3):
        assert sign_in("nobody@example.com", "x").status_code == 401
    assert_throttled(sign_in("nobody@example.com", "x"), "Throttling.Login")


@pytest.mark.django_db
def test_the_admin_login_page_is_throttled_too(root, limits):
    admin = Client(REMOTE_ADDR="192.0.2.1")
    for _ in range(3):
        page = admin.post("/admin/login/", {"username": root.email, "password": "wrong"})
        assert page.status_code == 200 and not page.wsgi_request.user.is_authenticated
    page = admin.post("/admin/login/", {"username": root.email, "password": PASSWORD})
    assert page.status_code == 200  # the form again, not the redirect of a sign-in
    assert not page.wsgi_request.user.is_authenticated
    # And the console knows the account is locked.
    assert_throttled(sign_in(root.email, PASSWORD, address="192.0.2.2"), "Throttling.Login")


@pytest.mark.django_db
def test_failures_are_logged_without_the_password(alice, limits, caplog):
    caplog.set_level("INFO", logger="apps.accounts.throttling")
    for _ in range(4):
        sign_in(alice.email, "hunter2-secret", address="203.0.113.9")
    assert "hunter2-secret" not in caplog.text
    assert "alice@example.com" in caplog.text and "203.0.113.9" in caplog.text
    assert "locked out for 120 s" in caplog.text


@pytest.mark.django_db
def test_the_suites_own_sign_ins_are_not_counted(alice):
    """Only failures count: many good sign-ins from 127.0.0.1 never lock anyone out."""
    for _ in range(30):
        assert sign_in(alice.email, PASSWORD).status_code == 200


# --- API keys ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_wrong_keys_lock_the_address_on_the_console_api(acme, alice, limits, caplog):
    caplog.set_level("INFO", logger="apps.accounts.throttling")
    good = create_api_key(acme, name="ci", created_by=alice).plaintext
    for _ in range(3):
        response = call_with_key(WRONG_KEY)
        assert (response.status_code, response.json()["code"]) == (401, "InvalidApiKey")

    assert_throttled(call_with_key(WRONG_KEY), "Throttling.ApiKey")
    # A valid key from the locked address is refused too: otherwise 429 and 200 would still
    # tell a guesser which guess was right.
    assert_throttled(call_with_key(good), "Throttling.ApiKey")
    # Another address is not affected.
    assert call_with_key(good, address="198.51.100.20").status_code == 200
    assert call_with_key(WRONG_KEY, address="198.51.100.20").status_code == 401
    assert WRONG_KEY not in caplog.text and good not in caplog.text

    end_lockouts()
    assert call_with_key(good).status_code == 200


@pytest.mark.django_db
def test_a_malformed_authorization_header_is_not_counted(acme, alice, limits):
    good = create_api_key(acme, name="ci", created_by=alice).plaintext
    for _ in range(5):
        response = Client().get(ME, headers={"Authorization": "Basic abc"})
        assert response.status_code == 401
    assert call_with_key(good).status_code == 200


@pytest.mark.django_db
def test_the_suites_bad_keys_stay_under_the_default_limit(acme, alice, settings):
    assert settings.API_KEY_FAILURES_PER_ADDRESS == 20  # the default, not lowered for tests
    good = create_api_key(acme, name="ci", created_by=alice).plaintext
    for _ in range(19):
        assert call_with_key(WRONG_KEY).status_code == 401
    assert call_with_key(good).status_code == 200


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_wrong_keys_on_the_openai_surface(platform_url, acme, alice, limits):
    good = create_api_key(acme, name="program", created_by=alice).plaintext

    def models(key: str, forwarded_for: str | None = None):
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
        sdk = openai.OpenAI(
            base_url=f"{platform_url}/compatible-mode/v1",
            api_key=key,
            max_retries=0,
            default_headers=headers,
        )
        return sdk.models.list()

    for _ in range(3):
        with pytest.raises(openai.AuthenticationError):
            models(WRONG_KEY)
    for key in (WRONG_KEY, good):
        with pytest.raises(openai.RateLimitError) as raised:
            models(key)
        assert raised.value.body == {
            "message": raised.value.body["message"],
            "type": "rate_limit_error",
            "param": None,
            "code": "too_many_invalid_api_keys",
        }
        retry_after = int(raised.value.response.headers["Retry-After"])
        assert 0 < retry_after <= 120
        assert "Too many invalid API keys" in raised.value.body["message"]

    # Another client address, as the test's uvicorn (trusting 127.0.0.1 as a proxy) sees it.
    assert list(models(good, forwarded_for="198.51.100.30")) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_wrong_keys_on_the_dashscope_surface(platform_url, acme, alice, limits, monkeypatch):
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    good = create_api_key(acme, name="program", created_by=alice).plaintext
    for _ in range(3):
        refused = Generation.call(model="qwen-plus", prompt="hi", api_key=WRONG_KEY)
        assert (refused.status_code, refused.code) == (401, "InvalidApiKey")

    locked = Generation.call(model="qwen-plus", prompt="hi", api_key=good)
    assert (locked.status_code, locked.code) == (429, "Throttling.ApiKey")
    raw = httpx.post(
        f"{platform_url}/api/v1/services/aigc/text-generation/generation",
        json={"model": "qwen-plus", "input": {"prompt": "hi"}},
        headers={"Authorization": f"Bearer {good}"},
    )
    assert_throttled(raw, "Throttling.ApiKey")


# --- shared state and client addresses ----------------------------------------------------------


@pytest.mark.django_db
def test_the_lockout_lives_in_redis_and_another_process_sees_it(limits):
    for _ in range(3):
        assert call_with_key(WRONG_KEY, address="203.0.113.77").status_code == 401
    [key] = redis_client().keys(f"{throttling.KEY_PREFIX}:api-key:address:203.0.113.77")
    assert int(redis_client().get(key)) == 3

    # A separate Python process (another web replica) with the same Redis sees the lock-out.
    code = (
        "import django; django.setup()\n"
        "from django.test import RequestFactory\n"
        "from apps.accounts import throttling\n"
        "request = RequestFactory().get('/', REMOTE_ADDR='203.0.113.77')\n"
        "print(throttling.api_key_lockout(request))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        "MINISTUDIO_API_KEY_FAILURES_PER_ADDRESS": "3",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert 0 < json.loads(result.stdout) <= 120

    # Nothing else holds it: with Redis emptied the address is free again.
    redis_client().flushdb()
    assert call_with_key(WRONG_KEY, address="203.0.113.77").status_code == 401


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2"),  # the header is ignored unless proxies are trusted
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # a spoofed first entry is skipped
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        (2, "198.51.100.1", "198.51.100.1"),  # fewer entries than proxies: the first
        (1, "", "10.0.0.2"),  # no header: the peer
        (1, "198.51.100.1:5123", "198.51.100.1"),
        (1, "[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"),
        (0, None, "10.0.0.2"),
    ],
)
def test_client_address(settings, hops, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", **extra)
    assert throttling.client_address(request) == expected


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff:1", "2001:db8::/64"),  # the same /64: one bucket
        ("::ffff:192.0.2.8", "192.0.2.8"),
        ("", "unknown"),
    ],
)
def test_addresses_are_bucketed(settings, remote, expected):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    assert throttling.client_address(request) == expected


def test_the_limits_are_read_from_the_environment(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.LOGIN_FAILURES_PER_ACCOUNT, s.LOGIN_FAILURES_PER_ADDRESS, "
        "s.API_KEY_FAILURES_PER_ADDRESS, s.AUTH_LOCKOUT_SECONDS, s.TRUSTED_PROXY_COUNT)"
    )
    env = {"MINISTUDIO_DATA_DIR": str(tmp_path), "DEBUG": "1"}
    defaults = run_django(code, env)
    assert defaults.returncode == 0, defaults.stderr
    assert defaults.stdout.split() == ["5", "20", "20", "300", "0"]
    configured = run_django(
        code,
        {
            **env,
            "MINISTUDIO_LOGIN_FAILURES_PER_ACCOUNT": "8",
            "MINISTUDIO_LOGIN_FAILURES_PER_ADDRESS": "50",
            "MINISTUDIO_API_KEY_FAILURES_PER_ADDRESS": "0",
            "MINISTUDIO_AUTH_LOCKOUT_SECONDS": "900",
            "MINISTUDIO_TRUSTED_PROXY_COUNT": "1",
        },
    )
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.split() == ["8", "50", "0", "900", "1"]


@pytest.mark.django_db
def test_a_limit_of_zero_turns_that_counter_off(acme, alice, limits):
    limits.API_KEY_FAILURES_PER_ADDRESS = 0
    good = create_api_key(acme, name="ci", created_by=alice).plaintext
    for _ in range(10):
        assert call_with_key(WRONG_KEY).status_code == 401
    assert call_with_key(good).status_code == 200
    assert not list(redis_client().scan_iter(f"{throttling.KEY_PREFIX}:*"))
