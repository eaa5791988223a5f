"""Validation on save: each kind of problem is found, named on its node (and setting), and
``check`` refuses the definition with a 400 naming them."""

import pytest

from apps.applications.models import AgentApp, AppKind, AppVersion
from apps.applications.workflow.node_types import NODE_TYPES
from apps.applications.workflow.nodes.base import Node, NodeSettings, Uses
from apps.applications.workflow.validation import (
    WorkflowInvalid,
    check,
    parse,
    problems,
    variables,
)
from tests.applications.workflows.conftest import chain, definition, edge, node
from tests.console import ConsoleClient
from tests.knowledge.conftest import create_kb

pytestmark = pytest.mark.django_db


def simple(*middle: dict, edges: list[dict] | None = None, **fields) -> dict:
    """start → middle nodes in order → end (output echoes the query)."""
    nodes = [node("start", "start"), *middle, node("end", "end", output="{{ sys.query }}")]
    ids = [n["id"] for n in nodes]
    return definition(nodes, chain(*ids) if edges is None else edges, **fields)


def llm(node_id: str, prompt: str = "{{ sys.query }}", **data) -> dict:
    return node(node_id, "llm", model="agent-chat", prompt=prompt, **data)


def found(acme, data) -> list[tuple]:
    return [(p.node_id, p.setting, p.message) for p in problems(acme, data)]


def only(acme, data):
    [problem] = problems(acme, data)
    return problem


def test_a_valid_definition_has_no_problems_and_check_returns_it(acme, chat):
    data = simple(llm("llm_1", "Say: {{ sys.query }}"), edges=None)
    assert problems(acme, data) == []
    assert [n.id for n in check(acme, data).nodes] == ["start", "llm_1", "end"]


def test_the_stored_format_is_checked_and_named_on_the_node(acme, chat):
    data = simple()
    data["nodes"][1]["id"] = "has space"
    data["nodes"][0]["colour"] = "red"
    listed = found(acme, data)
    assert ("has space", "id", "String should match pattern '^[A-Za-z_][A-Za-z0-9_]{0,63}$'") in (
        listed
    )
    assert ("start", "colour", "Extra inputs are not permitted") in listed
    assert found(acme, "not a definition")[0][2]
    assert found(acme, {"format_version": 2})[0][1] == "format_version"


def test_an_unknown_node_type(acme, chat):
    problem = only(acme, simple(node("x", "teleport")))
    assert (problem.node_id, problem.setting) == ("x", "type")
    assert "no node type 'teleport'" in problem.message


def test_invalid_settings_name_the_field(acme, chat):
    problem = only(acme, simple(node("llm_1", "llm", model="agent-chat", temperature=9)))
    assert (problem.node_id, problem.setting) == ("llm_1", "data.temperature")
    assert "less than or equal to 2" in problem.message
    problem = only(acme, simple(node("llm_1", "llm", model="agent-chat", colour="red")))
    assert problem.setting == "data.colour"


def test_duplicate_and_reserved_ids(acme, chat):
    data = simple(llm("a"), llm("a"))
    assert ("a", None, "two nodes have the id 'a'.") in found(acme, data)
    data = simple(llm("sys"))
    assert ("sys", None, "'sys' is reserved; give the node another id.") in found(acme, data)


def test_one_start_and_at_least_one_end(acme, chat):
    no_start = definition([node("end", "end")], [])
    assert (None, None, "the workflow needs a start node.") in found(acme, no_start)
    no_end = definition([node("start", "start")], [])
    assert (None, None, "the workflow needs at least one end node.") in found(acme, no_end)
    two = definition(
        [node("start", "start"), node("start_2", "start"), node("end", "end")],
        [*chain("start", "end"), edge("start_2", "end")],
    )
    assert ("start_2", None, "a second start node (the start is 'start').") in found(acme, two)


def test_dangling_edges(acme, chat):
    data = simple()
    data["edges"].append(edge("start", "ghost"))
    problem = only(acme, data)
    assert problem.node_id == "start"
    assert "no node 'ghost'" in problem.message


def test_a_handle_the_node_does_not_have(acme, chat):
    data = simple(edges=[edge("start", "end", "yes")])
    problem = only(acme, data)
    assert problem.node_id == "start"
    assert "'yes', a handle the node does not have (it has next)" in problem.message
    data = simple()
    data["nodes"].append(node("after", "answer", text="x"))
    data["edges"].append(edge("end", "after"))
    assert any(p[0] == "end" and "nothing follows it" in p[2] for p in found(acme, data)), found(
        acme, data
    )


def test_a_cycle_outside_an_iteration(acme, chat):
    data = simple(llm("a"), llm("b"))
    data["edges"].append(edge("b", "a"))
    problem = only(acme, data)
    assert problem.node_id in ("a", "b")
    assert "the edges make a loop" in problem.message
    assert "a → b" in problem.message or "b → a" in problem.message


def test_side_by_side_branches_must_meet_after_as_many_steps(acme, chat):
    # start → a → end beside start → b1 → b2 → end: end would run twice.
    nodes = [node("start", "start"), llm("a"), llm("b1"), llm("b2"), node("end", "end")]
    uneven = definition(
        nodes,
        [edge("start", "a"), edge("start", "b1"), *chain("b1", "b2", "end"), edge("a", "end")],
    )
    problem = only(acme, uneven)
    assert problem.node_id == "end"
    assert "branches that part at 'start'" in problem.message
    assert "different numbers of steps (2, 3)" in problem.message
    # As many steps each way: the branches meet in one step, end runs once.
    even = definition(
        nodes[:3] + nodes[4:],
        [edge("start", "a"), edge("start", "b1"), edge("a", "end"), edge("b1", "end")],
    )
    assert problems(acme, even) == []


def test_exclusive_branches_may_meet_after_any_number_of_steps(acme, chat):
    cases = [{"id": "yes", "conditions": [{"variable": "sys.query", "operator": "empty"}]}]
    nodes = [
        node("start", "start"),
        node("if_1", "condition", cases=cases),
        llm("short"),
        llm("long1"),
        llm("long2"),
        node("end", "end"),
    ]
    edges = [
        edge("start", "if_1"),
        edge("if_1", "short", "yes"),
        edge("if_1", "long1", "else"),
        *chain("long1", "long2", "end"),
        edge("short", "end"),
    ]
    assert problems(acme, definition(nodes, edges)) == []


def test_unreachable_nodes_and_ends(acme, chat):
    data = simple(edges=[])
    listed = found(acme, data)
    assert ("end", None, "no path from the start reaches this node.") in listed
    assert (None, None, "no path from the start reaches an end node.") in listed
    data = simple()
    data["nodes"].append(llm("island"))
    assert found(acme, data) == [("island", None, "no path from the start reaches this node.")]


def test_a_variable_used_before_it_is_produced(acme, chat):
    data = simple(llm("a", "{{ b.text }}"), llm("b"))
    problem = only(acme, data)
    assert (problem.node_id, problem.setting) == ("a", "prompt")
    assert "b.text is used before it is produced" in problem.message
    assert "no path leads from 'b'" in problem.message


def test_a_variable_on_another_branch_is_an_ancestor_only_when_a_path_leads_here(acme, chat):
    condition = node(
        "if_1",
        "condition",
        cases=[{"id": "yes", "conditions": [{"variable": "sys.query", "operator": "not_empty"}]}],
    )
    data = definition(
        [
            node("start", "start"),
            condition,
            llm("left"),
            llm("right", "{{ left.text }}"),
            node("end", "end", output="{{ right.text }}"),
        ],
        [
            edge("start", "if_1"),
            edge("if_1", "left", "yes"),
            edge("if_1", "right", "else"),
            edge("left", "end"),
            edge("right", "end"),
        ],
    )
    problem = only(acme, data)
    assert problem.node_id == "right"


def test_unknown_node_own_output_and_missing_output(acme, chat):
    assert "there is no node 'ghost'" in only(acme, simple(llm("a", "{{ ghost.text }}"))).message
    assert "cannot read its own outputs" in only(acme, simple(llm("a", "{{ a.text }}"))).message
    problem = only(acme, simple(llm("a"), llm("b", "{{ a.structured }}")))
    assert problem.node_id == "b"
    assert "'a' has no output 'structured' (it has text)" in problem.message
    problem = only(acme, simple(llm("a", "{{ sys.nothing }}")))
    assert "'sys' has no output 'nothing'" in problem.message


def test_start_variables_are_readable_downstream(acme, chat):
    start = node("start", "start", variables=[{"name": "topic", "type": "string"}])
    data = definition(
        [start, llm("a", "About {{ start.topic }}"), node("end", "end", output="{{ a.text }}")],
        chain("start", "a", "end"),
    )
    assert problems(acme, data) == []
    assert variables(data)["start"] == {"query": "string", "topic": "string"}
    assert variables(data)["a"] == {"text": "string"}


def test_a_type_mismatch(acme, chat):
    aggregate = node("pick", "variable_aggregator", variables=["start.count"], type="string")
    start = node("start", "start", variables=[{"name": "count", "type": "number"}])
    data = definition(
        [start, aggregate, node("end", "end", output="{{ pick.output }}")],
        chain("start", "pick", "end"),
    )
    problem = only(acme, data)
    assert (problem.node_id, problem.setting) == ("pick", "variables")
    assert "start.count is a number; this setting needs a string" in problem.message


def test_models_must_be_chat_models_of_the_workspace(acme, chat):
    problem = only(acme, simple(node("a", "llm", model="gpt-nowhere")))
    assert (problem.node_id, problem.setting) == ("a", "data.model")
    assert "'gpt-nowhere' is not a chat model of this workspace" in problem.message
    embedding = only(acme, simple(node("a", "llm", model="kb-embed")))
    assert "not a chat model" in embedding.message


@pytest.fixture
def kbs(acme_console, globex, bob):
    mine = create_kb(acme_console, name="Mine")
    theirs = create_kb(ConsoleClient().as_user(bob, "globex"), name="Theirs")
    return mine, theirs


def retrieval(*kb_ids: str) -> dict:
    return node("search", "knowledge_retrieval", knowledge_base_ids=list(kb_ids))


def test_knowledge_bases_must_be_the_workspaces(acme, kbs):
    mine, theirs = kbs
    assert problems(acme, simple(retrieval(mine["id"]))) == []
    problem = only(acme, simple(retrieval(theirs["id"])))
    assert (problem.node_id, problem.setting) == ("search", "data.knowledge_base_ids")
    assert f"no knowledge base '{theirs['id']}' in this workspace" in problem.message
    empty = only(acme, simple(retrieval()))
    assert (empty.node_id, empty.setting) == ("search", "data.knowledge_base_ids")


def test_tools_must_be_enabled_plugins_or_the_workspaces_http_tools(acme, chat, acme_console):
    def tool(kind: str, tool_id: str) -> dict:
        return node("call", "tool", tool={"type": kind, "id": tool_id}, arguments={})

    assert problems(acme, simple(tool("plugin", "calculator"))) == []
    problem = only(acme, simple(tool("plugin", "teleporter")))
    assert (problem.node_id, problem.setting) == ("call", "data.tool")
    assert "'teleporter' is not installed and enabled" in problem.message
    http = only(acme, simple(tool("http", "00000000-0000-0000-0000-000000000001")))
    assert "no HTTP tool" in http.message


class _CallsApp(Node):
    """A stand-in node type naming an app (as the agent node does)."""

    type = "calls_app"

    class Settings(NodeSettings):
        app_id: str

    def uses(self, settings) -> Uses:
        return Uses(app_ids=[settings.app_id])

    def run(self, ctx, settings):
        raise AssertionError("not run here")


def test_apps_must_be_the_workspaces_and_published(acme, globex, chat, monkeypatch):
    monkeypatch.setitem(NODE_TYPES, "calls_app", _CallsApp())
    published = AgentApp.objects.create(workspace=acme, name="Helper", draft={})
    AppVersion.objects.create(workspace=acme, app=published, number=1, config={})
    unpublished = AgentApp.objects.create(workspace=acme, name="Draft only", draft={})
    theirs = AgentApp.objects.create(workspace=globex, name="Theirs", draft={})
    AppVersion.objects.create(workspace=globex, app=theirs, number=1, config={})

    def calling(app_id) -> dict:
        return simple(node("delegate", "calls_app", app_id=str(app_id)))

    assert problems(acme, calling(published.pk)) == []
    problem = only(acme, calling(unpublished.pk))
    assert (problem.node_id, problem.setting) == ("delegate", "data.app_id")
    assert "is not published yet" in problem.message
    assert f"no app '{theirs.pk}' in this workspace" in only(acme, calling(theirs.pk)).message
    assert "no app 'nope' in this workspace" in only(acme, calling("nope")).message

    def as_tool(app_id) -> dict:
        return simple(node("call", "tool", tool={"type": "app", "id": str(app_id)}))

    assert problems(acme, as_tool(published.pk)) == []
    problem = only(acme, as_tool(theirs.pk))
    assert (problem.node_id, problem.setting) == ("call", "data.tool")
    assert f"no app '{theirs.pk}' in this workspace" in problem.message
    inline = {"model": "agent-chat", "tools": [{"type": "app", "id": str(unpublished.pk)}]}
    problem = only(acme, simple(node("lead", "agent", agent=inline)))
    assert (problem.node_id, problem.setting) == ("lead", "data.agent.tools")
    assert "is not published yet" in problem.message


def test_an_agent_node_runs_agent_apps_not_workflows(acme, chat):
    agent = AgentApp.objects.create(workspace=acme, name="Helper", draft={})
    AppVersion.objects.create(workspace=acme, app=agent, number=1, config={})
    flow = AgentApp.objects.create(workspace=acme, name="Flow", kind=AppKind.WORKFLOW, draft={})
    AppVersion.objects.create(workspace=acme, app=flow, number=1, config={})
    assert problems(acme, simple(node("lead", "agent", app_id=str(agent.pk)))) == []
    problem = only(acme, simple(node("lead", "agent", app_id=str(flow.pk))))
    assert (problem.node_id, problem.setting) == ("lead", "data.app_id")
    assert "'Flow' is a workflow app; an agent node runs agent apps" in problem.message
    # Called as a tool, a workflow is welcome.
    assert (
        problems(acme, simple(node("call", "tool", tool={"type": "app", "id": str(flow.pk)}))) == []
    )


def test_check_raises_a_400_naming_the_nodes(acme, chat):
    data = simple(node("x", "teleport"), llm("a", "{{ ghost.text }}"))
    with pytest.raises(WorkflowInvalid) as raised:
        check(acme, data)
    assert raised.value.status == 400
    assert raised.value.code == "WorkflowInvalid"
    assert "node 'x' (type): no node type 'teleport'" in raised.value.message
    assert "node 'a' (prompt): ghost.text is used before it is produced" in raised.value.message


def test_check_names_the_first_few_of_many(acme, chat):
    data = simple(*[node(f"n{i}", "teleport") for i in range(8)])
    with pytest.raises(WorkflowInvalid) as raised:
        check(acme, data)
    assert "and 3 more" in raised.value.message


def test_the_definition_given_is_not_changed(acme, chat):
    data = simple()
    data["nodes"][1]["parent"] = "nowhere"
    parsed = parse(data)
    problems(acme, parsed)
    assert parsed.nodes[1].parent == "nowhere"


STEPS = {
    "type": "object",
    "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
    "required": ["steps"],
}


def looped(inner: list[dict] | None = None, inner_edges: list[dict] | None = None, **loop) -> dict:
    """start → plan (JSON steps) → loop (over the steps; inside: do) → end."""
    settings = {"items": "plan.structured.steps", "output": "do.text", **loop}
    step = llm("do", "Step {{ loop.index }}: {{ loop.item }} of {{ sys.query }}")
    inside = [{**step, "parent": "loop"}] if inner is None else inner
    return definition(
        [
            node("start", "start"),
            llm("plan", json_schema=STEPS),
            node("loop", "iteration", **settings),
            *inside,
            node("end", "end", output="{{ loop.results }}"),
        ],
        [*chain("start", "plan", "loop", "end"), *(inner_edges or [])],
    )


def test_an_iteration_reads_item_and_index_inside_and_its_results_after(acme, chat):
    assert problems(acme, looped()) == []


def test_an_inner_node_cannot_read_a_later_outer_node(acme, chat):
    data = looped([{**llm("do", "{{ end.output }}"), "parent": "loop"}])
    problem = only(acme, data)
    assert (problem.node_id, problem.setting) == ("do", "prompt")
    assert "end.output is used before it is produced" in problem.message


def test_item_is_read_only_inside_its_iteration(acme, chat):
    data = looped()
    data["nodes"][-1]["data"]["output"] = "{{ loop.item }}"
    problem = only(acme, data)
    assert problem.node_id == "end"
    assert "'loop' has no output 'item' (it has results)" in problem.message


def test_an_edge_crossing_an_iteration_boundary(acme, chat):
    data = looped(inner_edges=[edge("do", "end")])
    problem = only(acme, data)
    assert problem.node_id == "do"
    assert "crosses an iteration's boundary" in problem.message


def test_an_iteration_needs_one_inner_entry(acme, chat):
    two = [
        {**llm("do", "{{ loop.item }}"), "parent": "loop"},
        {**llm("also", "{{ loop.item }}"), "parent": "loop"},
    ]
    problem = only(acme, looped(two))
    assert problem.node_id == "loop"
    assert "exactly one inner node that no edge enters (found do, also)" in problem.message
    empty = only(acme, looped([], output="plan.text"))
    assert (empty.node_id, empty.message) == ("loop", "the iteration has no nodes inside.")


def test_the_collected_output_is_an_inner_nodes(acme, chat):
    problem = only(acme, looped(output="plan.text"))
    assert (problem.node_id, problem.setting) == ("loop", "data.output")
    assert "'plan' is not a node inside this iteration" in problem.message
    problem = only(acme, looped(output="do.nothing"))
    assert "'do' has no output 'nothing' (it has text)" in problem.message


def test_a_parent_must_be_an_iteration(acme, chat):
    data = simple(llm("a"))
    data["nodes"][1]["parent"] = "start"
    assert ("a", "parent", "'start' is not an iteration node here.") in found(acme, data)


def test_human_input_cannot_be_inside_an_iteration(acme, chat):
    inner = [{**node("ask", "human_input", question="{{ loop.item }}?"), "parent": "loop"}]
    problem = only(acme, looped(inner, output="ask.answer"))
    assert (problem.node_id, problem.setting) == ("ask", "parent")
    assert "human input node cannot be inside an iteration" in problem.message


def test_items_must_be_an_array_or_an_object_path(acme, chat):
    data = looped(items="plan.text")
    problem = only(acme, data)
    assert (problem.node_id, problem.setting) == ("loop", "items")
    assert "plan.text is a string; this setting needs an array" in problem.message


def test_problems_never_raises_on_scrambled_definitions(acme, chat):
    """Pieces of the templates, rewired at random: always a list of problems."""
    import random

    from apps.applications.workflow.templates import TEMPLATES

    pieces = [n for t in TEMPLATES.values() for n in t.definition("agent-chat")["nodes"]]
    pieces += [node("if_1", "condition", cases=[{"id": "a", "conditions": []}])]
    chooser = random.Random(18)
    for _ in range(150):
        nodes = [dict(n) for n in chooser.sample(pieces, chooser.randint(0, 8))]
        ids = [n["id"] for n in nodes] + ["sys", "ghost"]
        for item in nodes:
            if chooser.random() < 0.3:
                item["parent"] = chooser.choice(ids)
        edges = [
            edge(chooser.choice(ids), chooser.choice(ids), chooser.choice(["next", "a", "else"]))
            for _ in range(chooser.randint(0, 10))
        ]
        data = definition(nodes, edges)
        listed = problems(acme, data)
        assert isinstance(listed, list)
        variables(data)
