"""The reusable cross-tenant check.

Given an endpoint and the id of an object that lives in workspace A, prove that a member
of workspace B gets 404 (not 403, not data) whether they name their own workspace or A's,
and that the object is unchanged afterwards.
"""

from collections.abc import Callable
from typing import Any

from apps.accounts.models import User, Workspace
from tests.console import ConsoleClient


def assert_foreign_object_is_not_found(
    *,
    method: str,
    path: str,
    outsider: User,
    outsider_workspace: Workspace,
    owner_workspace: Workspace,
    json: Any = None,
    snapshot: Callable[[], Any] | None = None,
    secret_values: tuple[str, ...] = (),
) -> None:
    """``path`` names an object of ``owner_workspace``; ``outsider`` belongs elsewhere."""
    before = snapshot() if snapshot else None
    for slug in (outsider_workspace.slug, owner_workspace.slug):
        client = ConsoleClient().as_user(outsider, slug)
        response = client.request(method, path, json)
        assert response.status_code == 404, (
            f"{method} {path} as {outsider.email} in '{slug}': "
            f"expected 404, got {response.status_code} {response.content[:200]!r}"
        )
        body = response.json()
        assert body["code"] == "NotFound"
        assert set(body) == {"code", "message", "request_id"}
        for value in secret_values:
            assert value not in response.content.decode()
    if snapshot:
        assert snapshot() == before, f"{method} {path} changed another workspace's data"
