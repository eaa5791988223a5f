"""Every node type, by the ``type`` a definition names it with."""

from apps.applications.workflow.nodes.answer import Answer
from apps.applications.workflow.nodes.base import Node
from apps.applications.workflow.nodes.condition import Condition
from apps.applications.workflow.nodes.end import End
from apps.applications.workflow.nodes.llm import Llm
from apps.applications.workflow.nodes.start import Start

NODE_TYPES: dict[str, Node] = {
    kind.type: kind for kind in (Start(), End(), Answer(), Llm(), Condition())
}


def node_type(name: str) -> Node:
    """The node type ``name``; validation refuses a definition naming an unknown one."""
    return NODE_TYPES[name]
