"""The permission matrix of the README, one cell per test case.

Rows: the caller (admin, developer, viewer of acme; an acme API key; a platform admin who
is no member). Columns: the endpoints of this app. A cell is the expected status.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import ApiKey, Membership, Role
from apps.accounts.permissions import API_KEY, MATRIX, Permission
from apps.accounts.services import create_api_key, invite_member
from apps.batch import services as batch_services
from apps.model_endpoints import services as endpoint_services
from apps.plugins.services import sync_plugins
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db

OK, DENIED = "ok", 403

# (endpoint, admin, developer, viewer, api key, platform admin)
CELLS = [
    ("view workspace", OK, OK, OK, OK, OK),
    ("rename workspace", OK, DENIED, DENIED, DENIED, OK),
    ("list members", OK, OK, OK, OK, OK),
    ("invite member", OK, DENIED, DENIED, DENIED, OK),
    ("list invitations", OK, DENIED, DENIED, DENIED, OK),
    ("revoke invitation", OK, DENIED, DENIED, DENIED, OK),
    ("change role", OK, DENIED, DENIED, DENIED, OK),
    ("remove member", OK, DENIED, DENIED, DENIED, OK),
    ("list api keys", OK, OK, DENIED, DENIED, OK),
    ("create api key", OK, OK, DENIED, DENIED, OK),
    ("revoke someone else's key", OK, DENIED, DENIED, DENIED, OK),
    ("create workspace", DENIED, DENIED, DENIED, DENIED, OK),
    ("configure a plugin", OK, DENIED, DENIED, DENIED, OK),
    ("test-run a tool", OK, OK, DENIED, OK, OK),
    ("list tools", OK, OK, OK, OK, OK),
    ("read batches and batch files", OK, OK, OK, OK, OK),
    ("upload a batch file", OK, OK, DENIED, OK, OK),
    ("delete a batch file", OK, OK, DENIED, OK, OK),
    ("create a batch", OK, OK, DENIED, OK, OK),
    ("cancel a batch", OK, OK, DENIED, OK, OK),
    ("register an MCP server", OK, OK, DENIED, OK, OK),
    ("switch the MCP server of the workspace", OK, DENIED, DENIED, DENIED, OK),
    ("set a model's response cache", OK, DENIED, DENIED, DENIED, OK),
]
CALLERS = ["admin", "developer", "viewer", "api_key", "platform_admin"]


def call(endpoint: str, console: ConsoleClient, others_key: ApiKey, vera_membership: Membership):
    match endpoint:
        case "view workspace":
            return console.get("/workspace")
        case "rename workspace":
            return console.patch("/workspace", {"name": "Renamed"})
        case "list members":
            return console.get("/members")
        case "invite member":
            return console.post("/invitations", {"email": "newbie@example.com"})
        case "list invitations":
            return console.get("/invitations")
        case "revoke invitation":
            invitation = invite_member(
                vera_membership.workspace,
                email="someone@example.com",
                role=Role.VIEWER,
                invited_by=None,
                console_url="http://testserver/",
            ).invitation
            return console.post(f"/invitations/{invitation.id}/revoke")
        case "change role":
            return console.patch(f"/members/{vera_membership.id}", {"role": "developer"})
        case "remove member":
            return console.delete(f"/members/{vera_membership.id}")
        case "list api keys":
            return console.get("/api-keys")
        case "create api key":
            return console.post("/api-keys", {"name": "k"})
        case "revoke someone else's key":
            return console.post(f"/api-keys/{others_key.id}/revoke")
        case "create workspace":
            return console.post("/workspaces", {"name": "Another"})
        case "configure a plugin":
            return console.patch("/plugins/tool/calculator", {"enabled": False})
        case "test-run a tool":
            return console.post("/tools/calculator/invoke", {"arguments": {"expression": "6*7"}})
        case "list tools":
            return console.get("/tools")
        case "read batches and batch files":
            file = _batch_input(vera_membership.workspace)
            assert console.get(f"/batch-files/{file.id}").status_code == 200
            return console.get("/batches")
        case "upload a batch file":
            return console.client.post(
                "/console/api/batch-files",
                data={"file": SimpleUploadedFile("in.jsonl", BATCH_LINE), "purpose": "batch"},
                headers=console.headers,
            )
        case "delete a batch file":
            file = _batch_input(vera_membership.workspace)
            return console.delete(f"/batch-files/{file.id}")
        case "create a batch":
            file = _batch_input(vera_membership.workspace)
            body = {"input_file_id": file.id, "endpoint": "/v1/chat/completions"}
            return console.post("/batches", body)
        case "cancel a batch":
            batch = batch_services.create_batch(
                vera_membership.workspace,
                input_file=_batch_input(vera_membership.workspace),
                endpoint="/v1/chat/completions",
                completion_window="24h",
            )
            return console.post(f"/batches/{batch.id}/cancel")
        case "register an MCP server":
            # A private address: refused at once (last_error), no connection attempted.
            server = {"name": "remote", "transport": "sse", "url": "http://10.9.9.9/sse"}
            return console.post("/mcp-servers", server)
        case "switch the MCP server of the workspace":
            return console.patch("/mcp-serving", {"enabled": True})
        case "set a model's response cache":
            _granted_model(vera_membership.workspace)
            return console.patch("/models/qwen-plus/settings", {"response_cache_seconds": 60})
    raise AssertionError(endpoint)


BATCH_LINE = (
    b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", '
    b'"body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}}\n'
)


def _granted_model(workspace):
    endpoint = endpoint_services.create_endpoint(
        name="qwen-plus",
        provider="openai",
        upstream_model="up",
        capabilities=["chat"],
        settings={"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-up"},
    )
    endpoint_services.grant(endpoint, workspace, by=None)


def _batch_input(workspace):
    return batch_services.upload_file(
        workspace, SimpleUploadedFile("in.jsonl", BATCH_LINE), "batch"
    )


@pytest.mark.parametrize(
    ("endpoint", "caller", "expected"),
    [(row[0], caller, row[1 + i]) for row in CELLS for i, caller in enumerate(CALLERS)],
)
def test_permission_cell(endpoint, caller, expected, acme, alice, charlie, vera, root):
    sync_plugins()
    others_key = create_api_key(acme, name="alice's", created_by=alice).api_key
    callers = {
        "admin": lambda: ConsoleClient().as_user(alice, "acme"),
        "developer": lambda: ConsoleClient().as_user(charlie, "acme"),
        "viewer": lambda: ConsoleClient().as_user(vera, "acme"),
        "api_key": lambda: ConsoleClient().with_key(
            create_api_key(acme, name="program", created_by=charlie).plaintext
        ),
        "platform_admin": lambda: ConsoleClient().as_user(root, "acme"),
    }
    response = call(endpoint, callers[caller](), others_key, Membership.objects.get(user=vera))
    if expected == OK:
        assert 200 <= response.status_code < 300, (endpoint, caller, response.content)
    else:
        assert response.status_code == expected, (endpoint, caller, response.content)
        assert response.json()["code"] == "AccessDenied"


def test_the_matrix_grants_admins_everything_and_keys_no_management():
    assert MATRIX["admin"] == frozenset(Permission)
    management = {
        Permission.MANAGE_MEMBERS,
        Permission.CREATE_API_KEYS,
        Permission.VIEW_API_KEYS,
        Permission.REVOKE_ANY_API_KEY,
        Permission.CONFIGURE_PLUGINS,
        Permission.RENAME_WORKSPACE,
        Permission.MANAGE_MCP_SERVING,
        Permission.CONFIGURE_MODELS,
    }
    assert not MATRIX[API_KEY] & management
    assert MATRIX["viewer"] < MATRIX["developer"] < MATRIX["admin"]
