"""ministudio as an MCP server: the official ``mcp`` client, unmodified, against ``/mcp``
on uvicorn, with the scripted upstream behind the apps' model."""

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import McpError

from apps.accounts.models import ApiKey
from apps.accounts.services import revoke_api_key
from apps.applications.models import AgentApp, AppKind, Run
from apps.mcp_serving import services
from apps.usage.models import Quota
from tests.applications.conftest import make_app, publish
from tests.applications.workflows.conftest import chain, definition, node
from tests.knowledge.conftest import create_kb, upload
from tests.upstream import text

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POLICY = (
    b"# Travel policy\n\n"
    b"Employees book economy class for flights under six hours.\n\n"
    b"## Hotels\n\nHotels are reimbursed up to 150 euros a night in Europe.\n"
)


def over_mcp(url: str, key: str | None, action: Callable[[ClientSession], Awaitable[Any]]):
    """``action`` on an initialised client session to ``url``/mcp, as ``key``."""

    async def go():
        headers = {"Authorization": f"Bearer {key}"} if key else None
        async with (
            create_mcp_http_client(headers=headers) as http,
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await action(session)

    return anyio.run(go)


def refused_status(url: str, key: str | None) -> int:
    """The HTTP status the official client raises when ``/mcp`` refuses it."""
    with pytest.raises(BaseException) as raised:
        over_mcp(url, key, lambda session: session.list_tools())
    return _http_error(raised.value).response.status_code


def _http_error(exc: BaseException) -> httpx.HTTPStatusError:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        try:
            return _http_error(inner)
        except LookupError:
            continue
    raise LookupError(f"no HTTP error in {exc!r}")


async def _tool_names(session: ClientSession) -> set[str]:
    return {tool.name for tool in (await session.list_tools()).tools}


def _caller(name: str, arguments: dict):
    return lambda session: session.call_tool(name, arguments)


@pytest.fixture
def serving(acme, globex, alice, bob):
    services.set_enabled(acme, enabled=True, by=alice)
    services.set_enabled(globex, enabled=True, by=bob)


@pytest.fixture
def helper(acme_console):
    created = make_app(acme_console, name="Travel helper", system_prompt="Be kind.")
    publish(acme_console, created["id"])
    return created


@pytest.fixture
def handbook(acme_console):
    kb = create_kb(acme_console, name="Handbook", chunking={"chunk_size": 40, "chunk_overlap": 0})
    upload(acme_console, kb["id"], {"travel.md": POLICY})
    return kb


def test_tools_are_the_published_apps_and_a_search_per_knowledge_base(
    platform_url, serving, acme_console, helper, handbook, acme_key
):
    make_app(acme_console, name="Unpublished draft")
    listed = over_mcp(platform_url, acme_key, lambda session: session.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == {"travel_helper", "search_handbook"}
    assert tools["travel_helper"].inputSchema["required"] == ["prompt"]
    assert tools["search_handbook"].inputSchema["properties"]["top_k"]["maximum"] == 20


def test_calling_an_app_runs_its_published_version_on_the_mcp_surface(
    platform_url, serving, helper, acme_key, upstream
):
    upstream.script("chat", text("Book economy, always."))
    result = over_mcp(platform_url, acme_key, _caller("travel_helper", {"prompt": "Flights?"}))
    assert not result.isError
    assert result.content[0].text == "Book economy, always."
    run = Run.objects.get()
    assert (run.surface, run.version.number, run.api_key.name) == ("mcp", 1, "program")
    assert result.structuredContent["run_id"] == str(run.pk)
    assert upstream.requests_for("chat")[-1].body["messages"][-1]["content"] == "Flights?"


def test_a_quota_exceeded_is_a_tool_error(platform_url, serving, acme, helper, acme_key, upstream):
    Quota.objects.create(workspace=acme, requests_per_minute=1)
    first = over_mcp(platform_url, acme_key, _caller("travel_helper", {"prompt": "x"}))
    assert not first.isError
    second = over_mcp(platform_url, acme_key, _caller("travel_helper", {"prompt": "x"}))
    assert second.isError
    assert "quota" in second.content[0].text.lower()
    assert second.structuredContent == {"code": "Throttling.RateQuota"}


def test_a_workflow_takes_its_start_variables_and_a_pause_answers_its_question(
    platform_url, serving, acme, acme_console, acme_key, upstream
):
    drafting = definition(
        [
            node(
                "start", "start", variables=[{"name": "city", "type": "string", "required": True}]
            ),
            node("llm_1", "llm", model="agent-chat", prompt="Draft for {{ start.city }}"),
            node("human_1", "human_input", question="Send this? {{ llm_1.text }}"),
            node("end", "end", output="{{ human_1.answer }}"),
        ],
        chain("start", "llm_1", "human_1", "end"),
    )
    flow = AgentApp.objects.create(
        workspace=acme, name="Reply drafter", kind=AppKind.WORKFLOW, draft=drafting
    )
    publish(acme_console, str(flow.pk))
    [tool] = over_mcp(platform_url, acme_key, lambda session: session.list_tools()).tools
    assert tool.name == "reply_drafter"
    assert tool.inputSchema["required"] == ["prompt", "city"]
    upstream.script("chat", text("Dear Oslo, sorry."))
    asked = over_mcp(
        platform_url, acme_key, _caller("reply_drafter", {"prompt": "a complaint", "city": "Oslo"})
    )
    assert not asked.isError, asked.content
    assert asked.content[0].text == "Send this? Dear Oslo, sorry."
    assert asked.structuredContent["waiting_for"]["node_id"] == "human_1"
    assert "Draft for Oslo" in str(upstream.requests_for("chat")[-1].body["messages"])
    assert Run.objects.get().surface == "mcp"


def test_bad_arguments_and_unknown_tools_are_tool_errors(platform_url, serving, helper, acme_key):
    missing = over_mcp(platform_url, acme_key, _caller("travel_helper", {}))
    assert missing.isError and "prompt" in missing.content[0].text
    unknown = over_mcp(platform_url, acme_key, _caller("no_such_tool", {"prompt": "x"}))
    assert unknown.isError and "Unknown tool" in unknown.content[0].text


def test_search_tool_answers_passages_of_the_ingested_knowledge_base(
    platform_url, serving, handbook, acme_key
):
    query = {"query": "How much are hotels reimbursed?", "top_k": 2}
    result = over_mcp(platform_url, acme_key, _caller("search_handbook", query))
    assert not result.isError, result.content
    assert "travel.md" in result.content[0].text
    passages = result.structuredContent["passages"]
    assert 1 <= len(passages) <= 2
    assert any("150 euros" in passage["text"] for passage in passages)
    assert {passage["document_name"] for passage in passages} == {"travel.md"}
    too_many = over_mcp(
        platform_url, acme_key, _caller("search_handbook", {"query": "x", "top_k": 50})
    )
    assert too_many.isError


def test_documents_are_resources_readable_only_in_their_workspace(
    platform_url, serving, handbook, acme_key, globex_key
):
    listed = over_mcp(platform_url, acme_key, lambda session: session.list_resources())
    [resource] = listed.resources
    assert resource.name == "travel.md"
    uri = str(resource.uri)
    assert uri.startswith(f"ministudio://knowledge-bases/{handbook['id']}/documents/")
    read = over_mcp(platform_url, acme_key, lambda session: session.read_resource(resource.uri))
    assert "150 euros" in read.contents[0].text
    assert "economy class" in read.contents[0].text
    with pytest.raises(BaseException) as raised:
        over_mcp(platform_url, globex_key, lambda session: session.read_resource(resource.uri))
    error = raised.value
    while not isinstance(error, McpError):
        error = error.exceptions[0]
    assert "not found" in str(error).lower()
    assert (
        over_mcp(platform_url, globex_key, lambda session: session.list_resources()).resources == []
    )


def test_another_workspace_sees_none_of_acmes_tools(
    platform_url, serving, helper, handbook, globex_key
):
    assert over_mcp(platform_url, globex_key, _tool_names) == set()
    result = over_mcp(platform_url, globex_key, _caller("travel_helper", {"prompt": "hi"}))
    assert result.isError and "Unknown tool" in result.content[0].text
    assert not Run.objects.exists()


def test_refused_without_a_key_with_a_bad_key_and_with_a_revoked_key(
    platform_url, serving, acme_key
):
    assert refused_status(platform_url, None) == 401
    assert refused_status(platform_url, "sk-" + "0" * 48) == 401
    revoke_api_key(ApiKey.objects.get(name="program"))
    assert refused_status(platform_url, acme_key) == 401
    answer = httpx.post(f"{platform_url}/mcp", json={}, headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["error"]["code"] == "InvalidApiKey"
    assert answer.json()["request_id"] == answer.headers["X-Request-Id"]


def test_switched_off_is_refused_with_mcp_disabled(platform_url, acme, alice, acme_key):
    assert refused_status(platform_url, acme_key) == 403
    answer = httpx.post(
        f"{platform_url}/mcp/", json={}, headers={"Authorization": f"Bearer {acme_key}"}
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "mcp_disabled"
    services.set_enabled(acme, enabled=True, by=alice)
    assert over_mcp(platform_url, acme_key, _tool_names) == set()


def test_bad_json_rpc_is_the_sdks_4xx_and_never_reaches_the_console(
    platform_url, serving, acme_key
):
    headers = {
        "Authorization": f"Bearer {acme_key}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    answer = httpx.post(f"{platform_url}/mcp", content=b"{not json", headers=headers)
    assert 400 <= answer.status_code < 500
    assert "jsonrpc" in answer.json()
    not_rpc = httpx.post(f"{platform_url}/mcp", json={"hello": 1}, headers=headers)
    assert 400 <= not_rpc.status_code < 500
    stream = httpx.get(f"{platform_url}/mcp", headers={**headers, "Accept": "text/event-stream"})
    assert stream.status_code == 405
    assert stream.headers["Allow"] == "POST"


def test_refused_keys_lock_the_address_out_as_on_the_app_api(
    platform_url, serving, acme_key, settings
):
    settings.API_KEY_FAILURES_PER_ADDRESS = 2
    for _ in range(2):
        assert refused_status(platform_url, "sk-" + "1" * 48) == 401
    assert refused_status(platform_url, acme_key) == 429
    answer = httpx.post(
        f"{platform_url}/mcp", json={}, headers={"Authorization": f"Bearer {acme_key}"}
    )
    assert answer.json()["error"]["code"] == "Throttling.ApiKey"
    assert int(answer.headers["Retry-After"]) > 0
