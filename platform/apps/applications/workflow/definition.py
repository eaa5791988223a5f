"""A workflow app's definition, as the console's canvas stores it and the YAML format
carries it: nodes (with their settings under ``data``) and the edges between them.

Node ids are identifiers, so templates can name a node's outputs: ``{{ llm_1.text }}``.
``sys`` is reserved for what every run has: ``sys.query`` (the caller's prompt) and
``sys.session_id``. A node whose ``parent`` is an iteration node runs inside it, once per
item. Edges leave a node through a handle: ``next`` for most nodes; a condition's case ids
and ``else``; a question classifier's class ids.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NODE_ID = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
RESERVED_IDS = frozenset({"sys"})
NEXT = "next"
#: The version of the stored and exported format; a newer one is refused on import.
FORMAT_VERSION = 1


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: float = 0
    y: float = 0


class NodeDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=NODE_ID)
    type: str = Field(min_length=1, max_length=40)
    title: str = Field("", max_length=100)
    parent: str | None = Field(None, description="The iteration node this node runs inside.")
    position: Position = Field(default_factory=Position)
    timeout_seconds: float | None = Field(
        None, gt=0, le=3600, description="The node fails when it runs longer."
    )
    data: dict[str, Any] = Field(default_factory=dict, description="The node type's settings.")

    @property
    def label(self) -> str:
        return self.title or self.id


class EdgeDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field("", max_length=200)
    source: str = Field(max_length=64)
    target: str = Field(max_length=64)
    source_handle: str = Field(NEXT, max_length=64)


class WorkflowDefinition(BaseModel):
    """A workflow app's draft and each published version of it."""

    model_config = ConfigDict(extra="forbid")

    format_version: Literal[1] = FORMAT_VERSION
    nodes: list[NodeDefinition] = Field(default_factory=list, max_length=200)
    edges: list[EdgeDefinition] = Field(default_factory=list, max_length=500)
    max_steps: int = Field(
        100, ge=1, le=2000, description="Node runs a run may take (iterations' inner nodes too)."
    )

    def node(self, node_id: str) -> NodeDefinition | None:
        return next((node for node in self.nodes if node.id == node_id), None)

    def children(self, parent: str | None) -> list[NodeDefinition]:
        """The nodes of one level: the top (``None``) or an iteration's inside."""
        return [node for node in self.nodes if node.parent == parent]

    def edges_within(self, parent: str | None) -> list[EdgeDefinition]:
        ids = {node.id for node in self.children(parent)}
        return [edge for edge in self.edges if edge.source in ids and edge.target in ids]

    def start_node(self) -> NodeDefinition | None:
        return next((n for n in self.nodes if n.type == "start" and n.parent is None), None)
