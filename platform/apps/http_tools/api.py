"""Console API: a workspace's custom HTTP tools (自定义插件), their OpenAPI import and test runs."""

import uuid

from django.http import HttpRequest
from ninja import Router, Status

from apps.accounts.context import caller_user, workspace_context
from apps.accounts.permissions import Permission
from apps.http_tools import selectors, services
from apps.http_tools.models import AuthType, HttpTool
from apps.http_tools.schemas import (
    HttpToolCreateIn,
    HttpToolOut,
    HttpToolUpdateIn,
    InvokeIn,
    InvokeOut,
    OpenApiImportIn,
)

router = Router(tags=["http-tools"])


def _out(tool: HttpTool) -> dict:
    """The tool as callers see it: the secret never, only whether one is stored."""
    return {
        "id": tool.pk,
        "name": tool.name,
        "description": tool.description,
        "method": tool.method,
        "url": tool.url,
        "parameters": tool.parameters,
        "parameter_locations": services.tool_locations(tool),
        "auth": {
            "type": tool.auth_type,
            "location": tool.auth_location or None,
            "name": tool.auth_name or None,
            "has_secret": tool.auth_type != AuthType.NONE and bool(tool.encrypted_secret),
        },
        "timeout_seconds": tool.timeout_seconds,
        "source": tool.source,
        "openapi_operation_id": tool.openapi_operation_id,
        "created_at": tool.created_at,
        "updated_at": tool.updated_at,
    }


def _auth(auth) -> dict | None:
    # Only what the caller sent: an update's missing keys keep the stored values.
    return None if auth is None else auth.model_dump(exclude_none=True)


def _tool(request: HttpRequest, tool_id: uuid.UUID, permission: Permission) -> HttpTool:
    ctx = workspace_context(request)
    ctx.require(permission)
    return selectors.http_tool(ctx.workspace, tool_id)


@router.get("/http-tools", response=list[HttpToolOut])
def list_http_tools(request: HttpRequest):
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    return [_out(tool) for tool in selectors.http_tools(ctx.workspace)]


@router.post("/http-tools", response={201: HttpToolOut})
def create_http_tool(request: HttpRequest, payload: HttpToolCreateIn):
    ctx = workspace_context(request)
    ctx.require(Permission.EDIT_APPS)
    fields = payload.model_dump(exclude={"auth"})
    tool = services.create_http_tool(
        ctx.workspace, **fields, auth=_auth(payload.auth), by=caller_user(request)
    )
    return Status(201, _out(tool))


@router.post("/http-tools/import-openapi", response={201: list[HttpToolOut]})
def import_openapi(request: HttpRequest, payload: OpenApiImportIn):
    """One tool per operation of an OpenAPI 3 document; all or nothing (a taken name
    answers 409 listing the clashes)."""
    ctx = workspace_context(request)
    ctx.require(Permission.EDIT_APPS)
    tools = services.import_openapi(
        ctx.workspace,
        payload.document,
        server_url=payload.server_url,
        auth=_auth(payload.auth),
        operations=payload.operations,
        timeout_seconds=payload.timeout_seconds,
        by=caller_user(request),
    )
    return Status(201, [_out(tool) for tool in tools])


@router.get("/http-tools/{tool_id}", response=HttpToolOut)
def get_http_tool(request: HttpRequest, tool_id: uuid.UUID):
    return _out(_tool(request, tool_id, Permission.VIEW_WORKSPACE))


@router.patch("/http-tools/{tool_id}", response=HttpToolOut)
def update_http_tool(request: HttpRequest, tool_id: uuid.UUID, payload: HttpToolUpdateIn):
    tool = _tool(request, tool_id, Permission.EDIT_APPS)
    changes = payload.model_dump(exclude_unset=True, exclude={"auth"})
    if "auth" in payload.model_fields_set:
        changes["auth"] = _auth(payload.auth) or {}
    return _out(services.update_http_tool(tool, **changes))


@router.delete("/http-tools/{tool_id}", response={204: None})
def delete_http_tool(request: HttpRequest, tool_id: uuid.UUID):
    services.delete_http_tool(_tool(request, tool_id, Permission.EDIT_APPS))
    return Status(204, None)


@router.post("/http-tools/{tool_id}/invoke", response=InvokeOut)
def invoke_http_tool(request: HttpRequest, tool_id: uuid.UUID, payload: InvokeIn):
    """Test-run the tool as an agent would. Upstream failures (blocked address, time-out,
    HTTP errors) are results with ``is_error``; arguments that break the schema are 400."""
    # Test-running a tool is EDIT_APPS, as for plugin tools (README: viewers may not).
    tool = _tool(request, tool_id, Permission.EDIT_APPS)
    invocation = services.invoke_http_tool(tool, payload.arguments)
    return {
        "tool": invocation.tool,
        "duration_ms": invocation.duration_ms,
        **invocation.result.model_dump(),
    }
