"""Console API of the workflow editor: checking a definition as it is drawn, the node types
and their settings' JSON schemas, the template gallery, and YAML export and import.
Joined to the apps' router (``api.router``)."""

import re
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Body, Router

from apps.accounts.context import workspace_context
from apps.accounts.permissions import Permission
from apps.applications import drafts, selectors, services
from apps.applications.schemas import NodeTypeOut, TemplateOut, WorkflowCheckOut
from apps.applications.workflow import validation
from apps.applications.workflow.node_types import NODE_TYPES
from apps.applications.workflow.templates import TEMPLATES

router = Router(tags=["workflows"])

#: The exported document's shape (``workflow.yaml_format``), as the YAML parses.
EXPORTED_DOCUMENT = {
    "type": "object",
    "required": ["ministudio_workflow", "app", "workflow"],
    "properties": {
        "ministudio_workflow": {"type": "integer", "description": "The format's version."},
        "app": {
            "type": "object",
            "required": ["name", "description"],
            "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
        },
        "workflow": {"$ref": "#/components/schemas/WorkflowDefinition"},
    },
}


@router.post("/apps/{app_id}/workflow/check", response=WorkflowCheckOut)
def check_workflow(request: HttpRequest, app_id: uuid.UUID, payload: Body[dict[str, Any]]):
    """Every problem of a definition (each naming its node and setting) and the variables
    each node produces: what the canvas shows as it is drawn. An invalid definition is
    answered 200 with its problems; nothing is saved."""
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    selectors.app(ctx.workspace, app_id)
    return {
        "problems": [p.as_dict() for p in validation.problems(ctx.workspace, payload)],
        "variables": validation.variables(payload),
    }


@router.get("/workflow/node-types", response=list[NodeTypeOut])
def node_types(request: HttpRequest):
    """Each node type and the JSON schema of its settings (a node's ``data``)."""
    workspace_context(request).require(Permission.VIEW_WORKSPACE)
    return [
        {"type": name, "settings_schema": kind.Settings.model_json_schema()}
        for name, kind in sorted(NODE_TYPES.items())
    ]


@router.get("/workflow/templates", response=list[TemplateOut])
def templates(request: HttpRequest):
    """The gallery, each template's definition filled with the workspace's default chat
    model (create an app from one with ``POST /apps`` and ``template``)."""
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    model = services.default_chat_model(ctx.workspace)
    return [
        {
            "id": t.id,
            "name": t.name,
            "description": t.description,
            "definition": t.definition(model),
        }
        for t in TEMPLATES.values()
    ]


@router.get(
    "/apps/{app_id}/export",
    openapi_extra={
        "responses": {
            200: {
                "description": "The workflow as a YAML document (see workflow.yaml_format).",
                "content": {"application/yaml": {"schema": EXPORTED_DOCUMENT}},
            }
        }
    },
)
def export_workflow(request: HttpRequest, app_id: uuid.UUID):
    """A workflow app's draft as a YAML attachment, to import elsewhere."""
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    app = selectors.app(ctx.workspace, app_id)
    document = drafts.export_workflow(app)
    response = HttpResponse(document, content_type="application/yaml; charset=utf-8")
    filename = re.sub(r"[^A-Za-z0-9_.-]+", "-", app.name).strip("-") or "workflow"
    response["Content-Disposition"] = f'attachment; filename="{filename}.yaml"'
    return response
