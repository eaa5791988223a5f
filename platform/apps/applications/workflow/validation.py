"""A workflow definition checked before it is saved or published: ``problems`` lists what
is wrong (each naming its node and setting where there is one), ``check`` refuses a
definition with any (a 400 ``WorkflowInvalid`` whose message names the first few).

What is checked, in order: the stored format (pydantic); each node's id (once, not
``sys``), type and settings (the type's ``Settings``); the parents (an iteration); one start
and at least one end at the top; the edges (both ends exist, on one level, leaving by a
handle the source has); each iteration's one inner entry; cycles outside iterations; nodes
unreachable from the start (or from their iteration's entry) and an end no path reaches;
every variable a node reads (produced before it, on every path: by an ancestor, by an
enclosing iteration's ``item``/``index`` or its outer ancestors, or ``sys``; an output the
producer has; of the type the reader needs); human input outside iterations; and what the
nodes name in the workspace (chat models, knowledge bases, tools, published apps).
"""

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from apps.accounts.models import Workspace
from apps.applications import selectors
from apps.applications.models import AppKind
from apps.applications.workflow.definition import (
    RESERVED_IDS,
    EdgeDefinition,
    NodeDefinition,
    WorkflowDefinition,
)
from apps.applications.workflow.node_types import NODE_TYPES
from apps.applications.workflow.nodes.base import REFERENCE, Node, Uses
from apps.http_tools.models import HttpTool
from apps.knowledge.models import KnowledgeBase
from apps.plugins.selectors import usable_tools
from kernel.errors import ApiError

ITERATION = "iteration"
HUMAN_INPUT = "human_input"
#: What ``sys.*`` holds in every run.
SYS_OUTPUTS: dict[str, str] = {"query": "string", "session_id": "string"}
#: What an iteration gives the nodes inside it, each time round.
ITERATION_OUTPUTS: dict[str, str] = {"item": "any", "index": "number"}
#: Problems named in a ``WorkflowInvalid`` message (the check endpoint lists them all).
NAMED_IN_MESSAGE = 5


class WorkflowInvalid(ApiError):
    status = 400
    code = "WorkflowInvalid"


@dataclass(frozen=True)
class Problem:
    node_id: str | None
    setting: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"node '{self.node_id}'" if self.node_id else "workflow"
        if self.setting:
            where += f" ({self.setting})"
        return f"{where}: {self.message}"


def check(workspace: Workspace, data: Any) -> WorkflowDefinition:
    """``data`` as a definition, or ``WorkflowInvalid`` naming what is wrong."""
    found = problems(workspace, data)
    if found:
        named = "; ".join(str(p).rstrip(".") for p in found[:NAMED_IN_MESSAGE])
        more = len(found) - NAMED_IN_MESSAGE
        raise WorkflowInvalid(
            f"The workflow is not valid: {named}" + (f"; and {more} more." if more > 0 else ".")
        )
    return parse(data)


def parse(data: Any) -> WorkflowDefinition:
    return data if isinstance(data, WorkflowDefinition) else WorkflowDefinition.model_validate(data)


def problems(workspace: Workspace, data: Any) -> list[Problem]:
    """Everything wrong with ``data`` (a definition, or what should be one)."""
    try:
        definition = parse(data)
    except PydanticValidationError as exc:
        return _schema_problems(data, exc)
    return _Checker(workspace, definition).run()


def variables(data: Any) -> dict[str, dict[str, str]]:
    """The variables each node produces, by node id (``sys`` too), with their types; the
    nodes whose type or settings are invalid produce none."""
    try:
        definition = parse(data)
    except PydanticValidationError:
        return {"sys": dict(SYS_OUTPUTS)}
    found: dict[str, dict[str, str]] = {"sys": dict(SYS_OUTPUTS)}
    for node in definition.nodes:
        settings = _settings_of(node)
        if settings is not None:
            found[node.id] = dict(NODE_TYPES[node.type].outputs(settings))
    return found


def _settings_of(node: NodeDefinition) -> BaseModel | None:
    kind = NODE_TYPES.get(node.type)
    if kind is None:
        return None
    try:
        return kind.Settings.model_validate(node.data)
    except PydanticValidationError:
        return None


def _location(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _schema_problems(data: Any, exc: PydanticValidationError) -> list[Problem]:
    """Pydantic's errors about the stored format, each on its node where it has one."""
    nodes = data.get("nodes") if isinstance(data, dict) else None
    found = []
    for error in exc.errors():
        loc = list(error["loc"])
        node_id = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int) and nodes:
            raw = nodes[loc[1]] if loc[1] < len(nodes) else None
            if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
                node_id = raw["id"][:64]
            if node_id is not None:
                loc = loc[2:]
        found.append(Problem(node_id, _location(loc) or None, error["msg"]))
    return found


class _Checker:
    """One pass over a parsed definition, collecting problems."""

    def __init__(self, workspace: Workspace, definition: WorkflowDefinition) -> None:
        self.workspace = workspace
        self.definition = definition
        self.found: list[Problem] = []
        #: The first node of each id (a duplicate is a problem of its own).
        self.nodes: dict[str, NodeDefinition] = {}
        #: Parsed settings of the nodes whose type is known and settings valid.
        self.settings: dict[str, Any] = {}
        #: Each node's iteration (``None`` at the top), once checked.
        self.parents: dict[str, str | None] = {}
        #: Edges whose both ends exist on one level.
        self.edges: list[EdgeDefinition] = []

    def problem(self, node_id: str | None, setting: str | None, message: str) -> None:
        self.found.append(Problem(node_id, setting, message))

    def kind(self, node_id: str) -> Node:
        return NODE_TYPES[self.nodes[node_id].type]

    def run(self) -> list[Problem]:
        self.check_nodes()
        self.check_parents()
        self.check_start_and_end()
        self.check_edges()
        levels = [None, *(n.id for n in self.nodes.values() if n.type == ITERATION)]
        entries = {level: self.entry(level) for level in levels}
        acyclic = all([self.check_cycles(level) for level in levels])
        if all(entry is not None for entry in entries.values()):
            for level, entry in entries.items():
                self.check_reachable(level, entry)
            if acyclic:
                self.check_reads()
        self.check_uses()
        return self.found

    # --- nodes ----------------------------------------------------------------------------------

    def check_nodes(self) -> None:
        for node in self.definition.nodes:
            if node.id in RESERVED_IDS:
                self.problem(node.id, None, f"'{node.id}' is reserved; give the node another id.")
                continue
            if node.id in self.nodes:
                self.problem(node.id, None, f"two nodes have the id '{node.id}'.")
                continue
            self.nodes[node.id] = node
            self.parents[node.id] = node.parent
            kind = NODE_TYPES.get(node.type)
            if kind is None:
                known = ", ".join(sorted(NODE_TYPES))
                self.problem(node.id, "type", f"no node type '{node.type}' (known: {known}).")
                continue
            try:
                self.settings[node.id] = kind.Settings.model_validate(node.data)
            except PydanticValidationError as exc:
                for error in exc.errors():
                    where = _location(error["loc"])
                    self.problem(node.id, f"data.{where}" if where else "data", error["msg"])

    def check_parents(self) -> None:
        for node in list(self.nodes.values()):
            if node.parent is None:
                continue
            parent = self.nodes.get(node.parent)
            if parent is None or parent.type != ITERATION:
                self.problem(node.id, "parent", f"'{node.parent}' is not an iteration node here.")
                self.parents[node.id] = None  # checked further as a top-level node
            elif node.type == HUMAN_INPUT:
                self.problem(node.id, "parent", "a human input node cannot be inside an iteration.")
            elif node.type == "start":
                self.problem(node.id, "parent", "a start node cannot be inside an iteration.")
            elif node.type == "end":
                self.problem(node.id, "parent", "an end node cannot be inside an iteration.")
        for node in self.nodes.values():
            if node.id in self.enclosing(node.id)[1:]:
                self.problem(node.id, "parent", "an iteration cannot be inside itself.")
                self.parents[node.id] = None

    def enclosing(self, node_id: str) -> list[str]:
        """``node_id`` and the iterations around it, innermost first (stops at a loop)."""
        chain = [node_id]
        parent = self.parents[node_id]
        while parent is not None and parent in self.nodes and parent not in chain:
            chain.append(parent)
            parent = self.parents[parent]
        if parent is not None and parent in chain:
            chain.append(parent)
        return chain

    def level_of(self, node_id: str) -> str | None:
        return self.parents[node_id]

    def children(self, level: str | None) -> list[str]:
        return [i for i, parent in self.parents.items() if parent == level]

    def check_start_and_end(self) -> None:
        top = [self.nodes[i] for i in self.children(None)]
        starts = [n.id for n in top if n.type == "start"]
        if not starts:
            self.problem(None, None, "the workflow needs a start node.")
        for extra in starts[1:]:
            self.problem(extra, None, f"a second start node (the start is '{starts[0]}').")
        if not any(n.type == "end" for n in top):
            self.problem(None, None, "the workflow needs at least one end node.")

    # --- edges ----------------------------------------------------------------------------------

    def check_edges(self) -> None:
        seen: set[tuple[str, str, str]] = set()
        for edge in self.definition.edges:
            label = f"edge {edge.source} → {edge.target}"
            missing = [end for end in (edge.source, edge.target) if end not in self.nodes]
            if missing:
                named = edge.source if edge.source in self.nodes else None
                self.problem(named, None, f"{label} leads to no node '{missing[0]}'.")
                continue
            if self.level_of(edge.source) != self.level_of(edge.target):
                self.problem(
                    edge.source,
                    None,
                    f"{label} crosses an iteration's boundary (connect nodes inside an "
                    "iteration to each other only).",
                )
                continue
            settings = self.settings.get(edge.source)
            if settings is not None:
                handles = self.kind(edge.source).handles(settings)
                if edge.source_handle not in handles:
                    offered = ", ".join(handles) or "none: nothing follows it"
                    self.problem(
                        edge.source,
                        None,
                        f"{label} leaves by '{edge.source_handle}', a handle the node does not "
                        f"have (it has {offered}).",
                    )
            if edge.target == edge.source:
                self.problem(edge.source, None, f"{label} leads back to the node itself.")
                continue
            key = (edge.source, edge.target, edge.source_handle)
            if key not in seen:
                seen.add(key)
                self.edges.append(edge)

    def edges_within(self, level: str | None) -> list[EdgeDefinition]:
        return [e for e in self.edges if self.level_of(e.source) == level]

    def entry(self, level: str | None) -> str | None:
        """Where a level begins: the start, or an iteration's one inner node no edge enters."""
        if level is None:
            starts = [i for i in self.children(None) if self.nodes[i].type == "start"]
            return starts[0] if starts else None
        inner = self.children(level)
        entered = {e.target for e in self.edges_within(level)}
        entries = [i for i in inner if i not in entered]
        if not inner:
            self.problem(level, None, "the iteration has no nodes inside.")
            return None
        if len(entries) != 1:
            named = ", ".join(entries) if entries else "none: every inner node is entered"
            self.problem(
                level,
                None,
                f"an iteration needs exactly one inner node that no edge enters (found {named}).",
            )
            return None
        return entries[0]

    def successors(self, level: str | None) -> dict[str, list[str]]:
        graph: dict[str, list[str]] = {i: [] for i in self.children(level)}
        for edge in self.edges_within(level):
            graph[edge.source].append(edge.target)
        return graph

    def check_cycles(self, level: str | None) -> bool:
        graph = self.successors(level)
        state: dict[str, int] = {}  # 1: on the path, 2: done

        def visit(node_id: str, path: list[str]) -> list[str] | None:
            state[node_id] = 1
            for target in graph[node_id]:
                if state.get(target) == 1:
                    return (
                        [*path[path.index(target) :], node_id, target]
                        if target in path
                        else [
                            node_id,
                            target,
                        ]
                    )
                if target not in state:
                    loop = visit(target, [*path, node_id])
                    if loop:
                        return loop
            state[node_id] = 2
            return None

        for node_id in graph:
            if node_id not in state:
                loop = visit(node_id, [])
                if loop:
                    self.problem(
                        loop[0],
                        None,
                        "the edges make a loop ("
                        + " → ".join(dict.fromkeys(loop))
                        + f" → {loop[0]}); repeat work with an iteration instead.",
                    )
                    return False
        return True

    def reachable(self, level: str | None, entry: str) -> set[str]:
        graph = self.successors(level)
        seen, todo = {entry}, [entry]
        while todo:
            for target in graph[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def check_reachable(self, level: str | None, entry: str) -> None:
        seen = self.reachable(level, entry)
        for node_id in self.children(level):
            if node_id not in seen:
                where = "the start" if level is None else f"the entry of iteration '{level}'"
                self.problem(node_id, None, f"no path from {where} reaches this node.")
        if level is None:
            ends = [i for i in self.children(None) if self.nodes[i].type == "end"]
            if ends and not any(end in seen for end in ends):
                self.problem(None, None, "no path from the start reaches an end node.")

    # --- variables ------------------------------------------------------------------------------

    def ancestors(self, node_id: str) -> set[str]:
        """The nodes of ``node_id``'s level with a path to it."""
        level = self.level_of(node_id)
        before: dict[str, list[str]] = {}
        for edge in self.edges_within(level):
            before.setdefault(edge.target, []).append(edge.source)
        seen: set[str] = set()
        todo = [node_id]
        while todo:
            for source in before.get(todo.pop(), []):
                if source not in seen:
                    seen.add(source)
                    todo.append(source)
        seen.discard(node_id)
        return seen

    def available(self, node_id: str) -> dict[str, dict[str, str] | None]:
        """What ``node_id`` may read: its ancestors' outputs, its iterations' item and index,
        their ancestors' outputs, ``sys``, and (for an iteration) its inner nodes' outputs.
        ``None`` for a node whose settings are invalid (a problem of its own)."""
        found: dict[str, dict[str, str] | None] = {"sys": dict(SYS_OUTPUTS)}
        for position, at in enumerate(self.enclosing(node_id)):
            if position > 0:
                found[at] = self.inner_variables(at)
            for ancestor in self.ancestors(at):
                found[ancestor] = self.outputs(ancestor)
        if self.nodes[node_id].type == ITERATION:
            for inner in self.nodes:
                if inner != node_id and node_id in self.enclosing(inner)[1:]:
                    found[inner] = self.outputs(inner)
        return found

    def inner_variables(self, iteration: str) -> dict[str, str]:
        """What the nodes inside ``iteration`` read as ``<iteration>.item`` and ``.index``."""
        kind, settings = self.kind(iteration), self.settings.get(iteration)
        if settings is not None and hasattr(kind, "inner_variables"):
            return dict(kind.inner_variables(settings))
        return dict(ITERATION_OUTPUTS)

    def outputs(self, node_id: str) -> dict[str, str] | None:
        if node_id not in self.settings:
            return None
        return dict(self.kind(node_id).outputs(self.settings[node_id]))

    def check_reads(self) -> None:
        for node_id, settings in self.settings.items():
            reads = self.kind(node_id).reads(settings)
            if reads:
                available = self.available(node_id)
                for read in reads:
                    self.check_read(node_id, read, available)
            if self.nodes[node_id].type == ITERATION:
                self.check_collected(node_id, settings)

    def check_collected(self, iteration: str, settings: Any) -> None:
        """An iteration's ``output`` names an output of a node inside it."""
        collected = getattr(settings, "output", None)
        match = REFERENCE.match(collected or "") if isinstance(collected, str) else None
        if match is None:
            return
        inner, name = match.groups()
        if inner not in self.nodes or self.parents[inner] != iteration:
            self.problem(
                iteration,
                "data.output",
                f"{collected}: '{inner}' is not a node inside this iteration.",
            )
            return
        outputs = self.outputs(inner)
        if outputs is not None and name not in outputs:
            offered = ", ".join(sorted(outputs)) or "nothing"
            self.problem(
                iteration,
                "data.output",
                f"{collected}: '{inner}' has no output '{name}' (it has {offered}).",
            )

    def check_read(
        self, node_id: str, read: Any, available: dict[str, dict[str, str] | None]
    ) -> None:
        setting = read.where or None
        match = REFERENCE.match(read.reference or "")
        if not match:
            self.problem(
                node_id, setting, f"'{read.reference}' is not a variable (write node_id.output)."
            )
            return
        producer, name = match.groups()
        if producer not in available:
            if producer == node_id:
                why = "a node cannot read its own outputs"
            elif producer in self.nodes:
                why = f"no path leads from '{producer}' to this node, so it has not run yet"
            else:
                why = f"there is no node '{producer}'"
            self.problem(
                node_id, setting, f"{read.reference} is used before it is produced: {why}."
            )
            return
        outputs = available[producer]
        if outputs is None:
            return
        if name not in outputs:
            offered = ", ".join(sorted(outputs)) or "nothing"
            self.problem(
                node_id,
                setting,
                f"{read.reference}: '{producer}' has no output '{name}' (it has {offered}).",
            )
            return
        produced = outputs[name]
        if "any" not in (read.type, produced) and read.type != produced:
            self.problem(
                node_id,
                setting,
                f"{read.reference} is {_a(produced)}; this setting needs {_a(read.type)}.",
            )

    # --- the workspace's things -----------------------------------------------------------------

    def check_uses(self) -> None:
        uses = {node_id: self.kind(node_id).uses(s) for node_id, s in self.settings.items()}
        for use in uses.values():
            # An app called as a tool is an app reference like any other.
            use.app_ids = [
                *use.app_ids,
                *(t.get("id", "") for t in use.tools if t.get("type") == "app"),
            ]
            use.tools = [t for t in use.tools if t.get("type") != "app"]
        self.check_models(uses)
        self.check_knowledge_bases(uses)
        self.check_tools(uses)
        self.check_apps(uses)

    def check_models(self, uses: dict[str, Uses]) -> None:
        named = {m for u in uses.values() for m in u.models if m}
        known = set(
            selectors.chat_models(self.workspace)
            .filter(name__in=named)
            .values_list("name", flat=True)
        )
        for node_id, use in uses.items():
            for model in use.models:
                if not model:
                    self.problem(node_id, "data.model", "choose a chat model.")
                elif model not in known:
                    self.problem(
                        node_id,
                        "data.model",
                        f"'{model}' is not a chat model of this workspace.",
                    )

    def check_knowledge_bases(self, uses: dict[str, Uses]) -> None:
        named = {str(k) for u in uses.values() for k in u.knowledge_base_ids}
        known = {
            str(pk)
            for pk in KnowledgeBase.objects.in_workspace(self.workspace)
            .filter(pk__in=_uuids(named))
            .values_list("pk", flat=True)
        }
        for node_id, use in uses.items():
            for kb_id in use.knowledge_base_ids:
                if _uuid(kb_id) not in known:
                    self.problem(
                        node_id,
                        "data.knowledge_base_ids",
                        f"no knowledge base '{kb_id}' in this workspace.",
                    )

    def check_tools(self, uses: dict[str, Uses]) -> None:
        tools = [t for u in uses.values() for t in u.tools]
        if not tools:
            return
        enabled = {p.plugin.plugin_id for p in usable_tools(self.workspace)}
        http_ids = [t.get("id", "") for t in tools if t.get("type") == "http"]
        http = {
            str(pk)
            for pk in HttpTool.objects.in_workspace(self.workspace)
            .filter(pk__in=_uuids(http_ids))
            .values_list("pk", flat=True)
        }
        for node_id, use in uses.items():
            for tool in use.tools:
                kind, tool_id = tool.get("type"), tool.get("id", "")
                if kind == "plugin" and tool_id not in enabled:
                    self.problem(
                        node_id,
                        self.where(node_id, "tool"),
                        f"the tool plugin '{tool_id}' is not installed and enabled in this "
                        "workspace.",
                    )
                elif kind == "http" and _uuid(tool_id) not in http:
                    self.problem(
                        node_id, self.where(node_id, "tool"), f"no HTTP tool '{tool_id}' here."
                    )
                elif kind not in ("plugin", "http"):
                    self.problem(
                        node_id, self.where(node_id, "tool"), f"a tool of unknown type '{kind}'."
                    )

    def where(self, node_id: str, thing: str) -> str:
        """The setting that names a tool or an app in ``node_id``'s settings."""
        data = self.nodes[node_id].data
        if thing == "app" and data.get("app_id"):
            return "data.app_id"
        if "tool" in data:
            return "data.tool"
        if "agent" in data:
            return "data.agent.tools"
        return "data.tools"

    def check_apps(self, uses: dict[str, Uses]) -> None:
        named = {str(a) for u in uses.values() for a in u.app_ids}
        if not named:
            return
        found = {
            str(app.pk): app for app in selectors.apps(self.workspace).filter(pk__in=_uuids(named))
        }
        for node_id, use in uses.items():
            for app_id in use.app_ids:
                app = found.get(_uuid(app_id))
                if app is None:
                    self.problem(
                        node_id, self.where(node_id, "app"), f"no app '{app_id}' in this workspace."
                    )
                elif app.published_version is None:
                    self.problem(
                        node_id,
                        self.where(node_id, "app"),
                        f"the app '{app_id}' is not published yet; publish it first.",
                    )
                elif app_id in use.agent_app_ids and app.kind != AppKind.AGENT:
                    self.problem(
                        node_id,
                        self.where(node_id, "app"),
                        f"'{app.name}' is a workflow app; an agent node runs agent apps (call "
                        "a workflow with a tool node of type app).",
                    )


def _a(type_name: str) -> str:
    return f"{'an' if type_name[:1] in 'aeiou' else 'a'} {type_name}"


def _uuid(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return ""


def _uuids(values: Iterable[Any]) -> list[str]:
    return [u for u in (_uuid(v) for v in values) if u]
