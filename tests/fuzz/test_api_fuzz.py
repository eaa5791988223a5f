"""The API fuzzer: schemathesis against the console's and both gateways' OpenAPI schemas.

Each operation of ``/console/api/openapi.json``, ``/compatible-mode/v1/openapi.json`` and
``/api/v1/openapi.json`` is one test. Schemathesis generates requests from the schema (its
coverage phase: boundaries, missing and wrong-typed values, undeclared content types; then
random valid and invalid ones) with a fixed seed and a bounded number of random examples,
and sends them to the platform in this process (WSGI, inside the test's transaction) with
real credentials:

- the console as a signed-in platform admin acting in workspace ``acme`` (session cookie
  and CSRF token, ``X-Workspace: acme``);
- the gateways with an API key of ``acme``, which is granted a chat and an embedding model
  on the scripted upstream (``tests/upstream.py``).

Every answer must be no server error (5xx), and must conform to the schema: a documented
status, content type, headers and body. The schema documents every error a path can answer
(``kernel.openapi``), so a 404 or 429 passes only when it is documented with its error body.

``MINISTUDIO_FUZZ_EXAMPLES`` raises the random examples per operation (default 8), and
``MINISTUDIO_FUZZ_SEED`` picks another seed (default 20261207).
"""

import os

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client, override_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts.models import Membership, Role
from tests.conftest import make_member
from tests.console import ConsoleClient
from tests.fuzz import seeds

# Under WSGI, Django reads the event streams (async iterators under ASGI) synchronously.
pytestmark = pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous")

EXAMPLES = int(os.environ.get("MINISTUDIO_FUZZ_EXAMPLES", "8"))
SEED = int(os.environ.get("MINISTUDIO_FUZZ_SEED", "20261207"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The world (fixtures) is set up once per operation, not per generated case.
FIXTURES_ARE_PER_OPERATION = hypothesis.settings(suppress_health_check=list(hypothesis.HealthCheck))

# Django's WSGI handler, run in the test's thread: requests share the test's transaction.
application = WSGIHandler()


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,
            },
            # Examples (none in these schemas), coverage (each parameter's boundaries, missing
            # and wrong-typed values, undeclared methods and content types) and fuzzing.
            "phases": {"stateful": {"enabled": False}},
            "request-timeout": 10,
            "max-stream-events": 20,
        }
    )


def _load(path: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_wsgi(path, application, config=_config())
    schema.hook(seeds.map_path_parameters)
    schema.hook(seeds.map_body)
    return schema


console_schema = _load("/console/api/openapi.json")
openai_schema = _load("/compatible-mode/v1/openapi.json")
dashscope_schema = _load("/api/v1/openapi.json")


@pytest.fixture
def world(granted, acme, root, charlie):
    """The platform admin (also an admin of acme), signed in, and acme's objects."""
    make_member(root, acme, Role.ADMIN)
    member_id = str(Membership.objects.get(user=charlie).pk)
    seeds.create(ConsoleClient().as_user(root, "acme"), member_id=member_id)
    client = Client()
    client.force_login(root)
    csrf = _get_new_csrf_string()
    # The fuzzer's requests run in the test's transaction, as under Django's test client
    # (which reconnects these after each of its requests): no closing of the connection at
    # a request's start or end.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {
        "console_headers": {"X-Workspace": "acme", "X-CSRFToken": csrf},
        "console_cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf},
        "key": granted["acme_key"],
    }
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _validate(case, **kwargs) -> None:
    response = case.call(**kwargs)
    seeds.record(response)
    case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"))


# Failed sign-ins lock the address out (429); high limits let the fuzz of /auth/* see the
# rest of its answers. The lock-out itself is tested in tests/accounts.
_LIMITS = {"LOGIN_FAILURES_PER_ACCOUNT": 10_000, "LOGIN_FAILURES_PER_ADDRESS": 10_000}


@pytest.mark.slow
@override_settings(**_LIMITS)
@console_schema.parametrize()
@FIXTURES_ARE_PER_OPERATION
def test_console_api(case, world):
    _validate(case, headers=world["console_headers"], cookies=world["console_cookies"])


@pytest.mark.slow
@openai_schema.parametrize()
@FIXTURES_ARE_PER_OPERATION
def test_openai_api(case, world):
    _validate(case, headers={"Authorization": f"Bearer {world['key']}"})


@pytest.mark.slow
@dashscope_schema.parametrize()
@FIXTURES_ARE_PER_OPERATION
def test_dashscope_api(case, world):
    _validate(case, headers={"Authorization": f"Bearer {world['key']}"})


# Without credentials, every authenticated operation answers its documented 401 (the one
# status the fuzz above, always signed in, never sees), whatever else the request holds.
AUTHENTICATED = [
    result.ok()
    for schema in (console_schema, openai_schema, dashscope_schema)
    for result in schema.get_all_operations()
    if result.ok().definition.raw.get("security")
]
PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize("operation", AUTHENTICATED, ids=lambda operation: operation.label)
def test_without_credentials_a_documented_401(operation, db):
    case = operation.Case(
        path_parameters={p.name: PLACEHOLDER_ID for p in operation.path_parameters}
    )
    response = case.call()
    seeds.record(response)
    assert response.status_code == 401, response.content
    case.validate_response(response, checks=CHECKS)
