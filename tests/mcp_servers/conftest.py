"""Alice's console in acme, for the MCP server tests (which need no chat model)."""

import pytest

from tests.console import ConsoleClient


@pytest.fixture
def acme_console(alice) -> ConsoleClient:
    return ConsoleClient().as_user(alice, "acme")
