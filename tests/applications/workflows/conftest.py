"""Workflow fixtures: acme's workflow apps built from definitions, run on the engine with
the scripted upstream behind the gateway (the agent tests' models: ``agent-chat``)."""

import itertools
from typing import Any

import pytest

from apps.applications.events import Event, Finished, NodeFinished, TextDelta
from apps.applications.models import AgentApp, AppKind, RunSurface
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.runner import plan_workflow, run_workflow


def node(node_id: str, type_: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "data": data}


def edge(source: str, target: str, handle: str = "next") -> dict[str, Any]:
    return {"source": source, "target": target, "source_handle": handle}


def chain(*ids: str) -> list[dict[str, Any]]:
    """Edges through ``ids`` in order."""
    return [edge(a, b) for a, b in itertools.pairwise(ids)]


def definition(nodes: list[dict], edges: list[dict], **fields: Any) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges, **fields}


@pytest.fixture
def workflow_app(acme, chat):
    """Make an acme workflow app whose draft is the given definition."""

    def make(data: dict[str, Any], name: str = "Flow") -> AgentApp:
        WorkflowDefinition.model_validate(data)
        return AgentApp.objects.create(workspace=acme, name=name, kind=AppKind.WORKFLOW, draft=data)

    return make


def run(app: AgentApp, prompt: str = "hi", inputs: dict | None = None, **fields) -> list[Event]:
    """Every event of one playground-style run of the app's draft."""
    plan = plan_workflow(
        app=app,
        version=None,
        definition=WorkflowDefinition.model_validate(app.draft),
        prompt=prompt,
        inputs=inputs or {},
        session_id=fields.pop("session_id", None),
        surface=RunSurface.PLAYGROUND,
        **fields,
    )
    return list(run_workflow(plan))


def finished(events: list[Event]) -> Finished:
    [last] = [e for e in events if isinstance(e, Finished)]
    return last


def text(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def node_outputs(events: list[Event]) -> dict[str, dict]:
    """Each finished node's outputs, by node id (the last run of a node wins)."""
    return {e.node_id: e.outputs for e in events if isinstance(e, NodeFinished)}
