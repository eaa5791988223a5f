"""What the fuzzer finds in acme, how generated requests sometimes name it, and the tally.

Random ids and model names only ever meet a 404. So acme holds one object of each kind
(``create``), and ``map_path_parameters`` / ``map_body`` put real ids, granted model names
and a plain conversation into about half of the generated requests (chosen by a checksum
of the generated values, so a run stays reproducible for its seed).
"""

import json
import zlib
from collections import Counter
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.console import ConsoleClient

#: Cases sent and server errors received, over the whole session (``conftest.py`` reports it).
TALLY: Counter = Counter()

#: Path parameter → a real value in acme, filled by ``create`` for the running test.
REAL: dict[str, str] = {}
#: The same for a workflow app (``app_id``), used instead of ``REAL``'s on some paths.
WORKFLOW: dict[str, str] = {}

CHAT_MODEL = "qwen-plus"
EMBEDDING_MODEL = "text-embedding-v3"


def record(response) -> None:
    TALLY["cases"] += 1
    TALLY[f"{response.status_code // 100}xx"] += 1
    if response.status_code >= 500:
        TALLY["server errors"] += 1


def _created(response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.content
    return response.json()


def create(console: ConsoleClient, *, member_id: str) -> None:
    """One of each object in acme, through the console API, as ``console``'s caller."""
    REAL.clear()
    REAL["member_id"] = member_id
    kb = _created(console.post("/knowledge-bases", {"name": "Handbook"}))
    REAL["knowledge_base_id"] = kb["id"]
    uploaded = console.upload(f"/knowledge-bases/{kb['id']}/documents", {"a.txt": b"Hello."})
    REAL["document_id"] = _created(uploaded, 202)["documents"][0]["document"]["id"]
    app = _created(console.post("/apps", {"name": "Helper", "draft": {"model": CHAT_MODEL}}))
    REAL["app_id"] = app["id"]
    _created(console.post(f"/apps/{app['id']}/publish", {"notes": "first"}))
    REAL["number"] = "1"
    flow = _created(console.post("/apps", {"name": "Flow", "kind": "workflow"}))
    _created(console.post(f"/apps/{flow['id']}/publish", {"notes": "first"}))
    WORKFLOW["app_id"] = flow["id"]
    tool = {
        "name": "get_weather",
        "method": "GET",
        "url": "https://api.example.com/v1/cities/{city}/weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
    REAL["tool_id"] = _created(console.post("/http-tools", tool))["id"]
    # A private address: registering it is refused at once, with no connection attempted.
    server = {"name": "remote", "transport": "streamable_http", "url": "http://10.9.9.9/mcp"}
    REAL["server_id"] = _created(console.post("/mcp-servers", server))["id"]
    invitation = console.post("/invitations", {"email": "dora@example.com"})
    REAL["invitation_id"] = _created(invitation)["id"]
    REAL["api_key_id"] = _created(console.post("/api-keys", {"name": "spare"}))["id"]
    quota = {"workspace": "acme", "tokens_per_month": 10**12}  # never reached
    REAL["quota_id"] = str(_created(console.post("/quotas", quota))["id"])
    line = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    }
    batch_file = console.client.post(
        "/console/api/batch-files",
        data={
            "file": SimpleUploadedFile("requests.jsonl", json.dumps(line).encode()),
            "purpose": "batch",
        },
        headers=console.headers,
    )
    REAL["file_id"] = _created(batch_file)["id"]
    endpoints = console.get("/model-endpoints").json()
    REAL["endpoint_id"] = next(e["id"] for e in endpoints if e["name"] == CHAT_MODEL)
    REAL["slug"] = "acme"
    REAL["kind"] = "tool"
    REAL["plugin_id"] = "calculator"
    batch = {
        "input_file_id": REAL["file_id"],
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
    }
    REAL["batch_id"] = _created(console.post("/batches", batch))["id"]


def _pick(value: Any) -> bool:
    """About half of the generated values: those whose checksum is even."""
    return zlib.crc32(repr(value).encode()) % 2 == 0


def map_path_parameters(context, path_parameters: dict[str, Any]) -> dict[str, Any]:
    if not path_parameters or not _pick(path_parameters):
        return path_parameters
    path = context.operation.path if context.operation is not None else ""
    # A workflow app's own paths, and a share of every app path, name the workflow app.
    real = REAL
    if (
        "/export" in path
        or "/workflow/" in path
        or zlib.crc32(repr(path_parameters).encode()) % 4 == 1
    ):
        real = {**REAL, **WORKFLOW}
    return {name: real.get(name, value) for name, value in path_parameters.items()}


def map_body(context, body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    path = context.operation.path if context.operation is not None else ""
    if path.endswith("/playground"):
        # A streamed run records its session and run from the stream's own thread, on a
        # connection of its own that cannot see this test's uncommitted app: whole answers.
        body = {**body, "stream": False}
    if not _pick(body):
        return body
    # The other half gets a granted model and a plain conversation, so that the rest of
    # the generated request (parameters, tools, options) reaches the model call.
    body = dict(body)
    if "model" in body:
        body["model"] = EMBEDDING_MODEL if "embedding" in path else CHAT_MODEL
    if "messages" in body:
        body["messages"] = [{"role": "user", "content": "Hello"}]
    if isinstance(body.get("input"), dict):
        body["input"] = {"prompt": "Hello"}
    return body
