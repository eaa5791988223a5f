"""Fixtures for the API-edge tests: acme's console (alice) with an embedding model, a
knowledge base and an API key."""

import pytest
from django.test import Client

from apps.accounts.services import create_api_key
from tests.console import ConsoleClient
from tests.knowledge.conftest import create_kb, models  # noqa: F401  (a fixture)


@pytest.fixture
def acme_console(alice, models) -> ConsoleClient:  # noqa: F811
    return ConsoleClient().as_user(alice, "acme")


@pytest.fixture
def handbook(acme_console) -> dict:
    return create_kb(acme_console)


@pytest.fixture
def acme_key(acme, alice) -> str:
    return create_api_key(acme, name="program", created_by=alice).plaintext


@pytest.fixture
def keyed(acme_key):
    """A Django test client that sends acme's API key."""

    def send(method: str, path: str, body: bytes | str = b"", **extra):
        return Client().generic(
            method,
            path,
            data=body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {acme_key}"},
            **extra,
        )

    return send
