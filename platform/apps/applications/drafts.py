"""An app's draft, whichever its kind: create, save, publish, diff, and a workflow app's
YAML export and import.

An agent app's draft is an ``AppConfigSchema`` (``services`` checks it); a workflow app's is
a ``WorkflowDefinition``, saved only when ``workflow.validation`` finds nothing wrong and
checked again on publish. This module sits above ``services`` because validation reads the
node types, and they record their runs through ``services``.
"""

from typing import Any

from apps.accounts.models import User, Workspace
from apps.applications import services
from apps.applications.config import changes
from apps.applications.models import AgentApp, AppKind, AppVersion
from apps.applications.workflow import validation, yaml_format
from apps.applications.workflow.templates import TEMPLATES, blank
from kernel.errors import InvalidParameter


def create_app(
    workspace: Workspace,
    *,
    name: str,
    description: str = "",
    kind: str = AppKind.AGENT,
    draft: dict[str, Any] | None = None,
    template: str | None = None,
    by: User | None,
) -> AgentApp:
    """A new app. A workflow app starts as ``draft`` (checked), as the gallery's
    ``template`` (to be completed: an empty knowledge base list, say), or as a start joined
    to an end."""
    if kind != AppKind.WORKFLOW:
        if template is not None:
            raise InvalidParameter("template: templates are workflows; send kind 'workflow'.")
        return services.create_app(
            workspace, name=name, description=description, draft=draft, by=by
        )
    if draft is not None and template is not None:
        raise InvalidParameter("Send a draft or a template, not both.")
    model = services.default_chat_model(workspace)
    if template is not None:
        if template not in TEMPLATES:
            known = ", ".join(TEMPLATES)
            raise InvalidParameter(f"template: no template '{template}' (known: {known}).")
        definition = validation.parse(TEMPLATES[template].definition(model))
    elif draft is not None:
        definition = validation.check(workspace, draft)
    else:
        definition = validation.parse(blank(model))
    return services.create_workflow_app(
        workspace,
        name=name,
        description=description,
        definition=definition.model_dump(mode="json"),
        by=by,
    )


def update_draft(app: AgentApp, draft: dict[str, Any]) -> AgentApp:
    """Replace the draft: an agent's configuration, or a workflow checked whole."""
    if app.kind != AppKind.WORKFLOW:
        return services.update_draft(app, draft)
    definition = validation.check(app.workspace, draft)
    return services.save_draft(app, definition.model_dump(mode="json"))


def publish(app: AgentApp, *, notes: str = "", by: User | None) -> AppVersion:
    """Publish the draft as the next version (a workflow is checked again: what it names in
    the workspace may have gone since it was saved)."""
    if app.kind != AppKind.WORKFLOW:
        return services.publish(app, notes=notes, by=by)
    definition = validation.check(app.workspace, app.draft)
    return services.add_version(app, definition.model_dump(mode="json"), notes=notes, by=by)


def diff(app: AgentApp, before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Where two configurations differ; a workflow's nodes and edges by their ids."""
    if app.kind == AppKind.WORKFLOW:
        before, after = _keyed(before), _keyed(after)
    return changes(before, after)


def _keyed(definition: dict[str, Any]) -> dict[str, Any]:
    keyed = dict(definition)
    for part, key in (("nodes", _node_key), ("edges", _edge_key)):
        items = definition.get(part)
        if isinstance(items, list):
            keyed[part] = {key(item): item for item in items if isinstance(item, dict)}
    return keyed


def _node_key(node: dict[str, Any]) -> str:
    return str(node.get("id", ""))


def _edge_key(edge: dict[str, Any]) -> str:
    return f"{edge.get('source')}-{edge.get('source_handle', 'next')}-{edge.get('target')}"


def export_workflow(app: AgentApp) -> str:
    """The workflow app's draft as a YAML document (``workflow.yaml_format``)."""
    if app.kind != AppKind.WORKFLOW:
        raise InvalidParameter("Only workflow apps export as YAML.")
    return yaml_format.dump(app)


def import_workflow(
    workspace: Workspace, *, text: str, name: str | None = None, by: User | None
) -> AgentApp:
    """A new workflow app from a YAML document, checked as a save is."""
    found_name, description, data = yaml_format.load(text)
    definition = validation.check(workspace, data)
    return services.create_workflow_app(
        workspace,
        name=name or found_name,
        description=description,
        definition=definition.model_dump(mode="json"),
        by=by,
    )
