"""What the app engine costs: workflow runs on LangGraph against the scripted stub model.

Everything runs in this process: an embedded Postgres started for the run (as
``knowledge_harness`` starts it; Redis on 127.0.0.1:6379, database 11, for metering and
quotas), the scripted stub model server (``tests/upstream.py``, in a thread; it answers at
once, echoing the prompt back word by word) registered as the chat model ``bench-chat``,
and workflow apps of the ``Bench`` workspace run as the playground runs a draft
(``runner.plan_workflow`` + ``runner.run_workflow``, every event consumed, the run and its
steps written to Postgres at the end). Nothing goes through HTTP on the platform's side:
the figures are the engine's own, plus the gateway's for model calls.

Each case is run ``--warmup`` times unmeasured (the first run compiles the graph; the
compiled graph is kept by the definition's content), then ``--runs`` rounds in which the
cases compared with each other run once each, one run at a time (so load that comes and
goes on a shared machine weighs on each alike); the tables give p50 and p95 in
milliseconds.

(a) The engine's own cost per node: a chain start -> N answer nodes -> end (N = 1, 10,
    50; an answer node renders a one-character template and streams it; no model call).
    Per node = run time / (N + 2) nodes; the marginal cost of a node is the slope between
    the chains of 10 and 50 answer nodes (the run's fixed cost, recording included, drops
    out). Beside them: the time spent writing the run and its steps
    (``services.record_run``, wrapped) and the same chain shape on LangGraph alone (the
    engine's state and stream modes, no engine, trace or recording). Target: <= 2 ms a
    node.
(b) A flow of 10 nodes with 4 model calls: start -> llm -> condition -> llm -> answer ->
    llm -> condition -> answer -> llm -> end (each condition has an else branch that is not
    taken). A model call's time is measured around the gateway's stream
    (``model_calls.model_stream``, wrapped by this script: admission, the HTTP call to the
    stub, metering); added = run time - the run's model calls. Beside it, what the trace
    recorded (the model steps' ``latency_ms``) and the stub's own time (request received ->
    answer written). Target: <= 25 ms added at p50.
(c) An iteration over 1, 10, 50 and 100 items, concurrency 1 and 4, when the engine has
    an ``iteration`` node type (inside it, a template transform of the item: no model
    call). Per item = (run time - the run over an empty list) / items. Then 8 items with
    an LLM node inside and the stub answering each call after 50 ms, at concurrency 1 and
    4: what running items at once buys when they wait on a model.
(d) An agent app (one model call, no knowledge, no tools: the engine's one-node graph,
    ``runtime.run_app``) against the same model call made directly (route + gateway stream,
    consumed here): the agent path's added cost.

``--profile`` runs (a)'s 50-answer chain and (d)'s agent app under cProfile once more
(the worker threads LangGraph runs nodes on, and the stub's, each with a profiler of its
own, added up) and prints where the time goes: the functions with the most time of their
own, and the most cumulative time.

Run from the repository root, in the project's virtual environment:

    .venv/bin/python bench/workflow.py [--runs 100] [--warmup 10] [--profile]
        [--skip-iteration] [--skip-agent]

On two cores the defaults take a minute or two. Timings are printed, never asserted.
"""

import argparse
import contextlib
import cProfile
import io
import itertools
import os
import pstats
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.gateway import percentile  # noqa: E402
from bench.knowledge_harness import bench_platform  # noqa: E402
from tests.upstream import UpstreamServer, slow  # noqa: E402

MODEL = "bench-chat"
CHAIN_LENGTHS = (1, 10, 50)
ITERATION_SIZES = (1, 10, 50, 100)
ITERATION_CONCURRENCY = (1, 4)
#: (c)'s iteration with a model call inside: items, and how long the stub takes to answer.
MODEL_ITEMS = 8
MODEL_DELAY = 0.05
TARGET_PER_NODE_MS = 2.0
TARGET_ADDED_MS = 25.0
PROMPT = "Where is my parcel?"


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


# --- definitions ----------------------------------------------------------------------------------


def node(node_id: str, type_: str, parent: str | None = None, **data: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"id": node_id, "type": type_, "data": data}
    if parent is not None:
        found["parent"] = parent
    return found


def edge(source: str, target: str, handle: str = "next") -> dict[str, Any]:
    return {"source": source, "target": target, "source_handle": handle}


def chain(*ids: str) -> list[dict[str, Any]]:
    return [edge(a, b) for a, b in itertools.pairwise(ids)]


def answer_chain(answers: int) -> dict[str, Any]:
    """start -> ``answers`` answer nodes -> end; no model call."""
    ids = [f"a_{i}" for i in range(1, answers + 1)]
    nodes = [
        node("start", "start"),
        *(node(i, "answer", text=".") for i in ids),
        node("end", "end", output="!"),
    ]
    return {"nodes": nodes, "edges": chain("start", *ids, "end"), "max_steps": 2000}


def model_flow() -> dict[str, Any]:
    """Ten nodes run, four of them model calls; each condition's else branch is not taken."""

    def case(variable: str, operator: str, value: Any = None) -> list[dict[str, Any]]:
        return [
            {
                "id": "yes",
                "conditions": [{"variable": variable, "operator": operator, "value": value}],
            }
        ]

    nodes = [
        node("start", "start"),
        node("llm_1", "llm", model=MODEL, prompt="Classify: {{ sys.query }}"),
        node("if_1", "condition", cases=case("llm_1.text", "contains", "Classify")),
        node("llm_2", "llm", model=MODEL, system_prompt="Be brief.", prompt="{{ sys.query }}"),
        node("answer_1", "answer", text="{{ llm_2.text }} "),
        node("llm_3", "llm", model=MODEL, prompt="Check: {{ llm_2.text }}"),
        node("if_2", "condition", cases=case("llm_3.text", "not_empty")),
        node("answer_2", "answer", text="Checked. "),
        node("llm_4", "llm", model=MODEL, prompt="Summarise: {{ sys.query }}"),
        node("end", "end", output="{{ llm_4.text }}"),
        node("no_1", "answer", text="Not classified."),
        node("no_2", "answer", text="Not checked."),
    ]
    edges = [
        *chain("start", "llm_1", "if_1"),
        edge("if_1", "llm_2", "yes"),
        edge("if_1", "no_1", "else"),
        *chain("llm_2", "answer_1", "llm_3", "if_2"),
        edge("if_2", "answer_2", "yes"),
        edge("if_2", "no_2", "else"),
        *chain("answer_2", "llm_4", "end"),
        edge("no_1", "end"),
        edge("no_2", "end"),
    ]
    return {"nodes": nodes, "edges": edges}


MODEL_FLOW_NODES = 10
MODEL_FLOW_CALLS = 4


def iteration_flow(
    concurrency: int, inner: dict[str, Any], collected: str, inner_output: str = "output"
) -> dict[str, Any]:
    """start (an array input ``items``) -> iteration over it (one inner node) -> end, which
    answers what the iteration collected (its output ``collected``)."""
    return {
        "nodes": [
            node(
                "start",
                "start",
                variables=[{"name": "items", "type": "array", "required": True}],
            ),
            node(
                "loop",
                "iteration",
                items="start.items",
                concurrency=concurrency,
                output=f"inner.{inner_output}",
            ),
            {**inner, "id": "inner", "parent": "loop"},
            node("end", "end", output=f"{{{{ loop.{collected} }}}}"),
        ],
        "edges": chain("start", "loop", "end"),
        "max_steps": 2000,
    }


def llm_inner() -> dict[str, Any]:
    return node("inner", "llm", model=MODEL, prompt="Work on {{ loop.item }}")


def iteration_inner(node_types: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The cheapest inner node this engine has, and what it is: a template transform of the
    item (no model call)."""
    if "template_transform" in node_types:
        inner = node(
            "inner", "template_transform", template="{{ item }}", variables={"item": "loop.item"}
        )
        return inner, "a template transform of the item"
    return None


# --- clocks ---------------------------------------------------------------------------------------


@dataclass
class ModelClock:
    """Time spent inside the gateway's model streams (wrapped ``model_stream``)."""

    seconds: float = 0.0
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.calls = 0.0, 0

    def wrap(self, real: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            began = time.perf_counter()
            try:
                yield from real(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds += time.perf_counter() - began
                    self.calls += 1

        return timed


@dataclass
class RecordClock:
    """Time spent writing runs (``services.record_run``: the Run row and its Step rows; an
    agent app's ``services.remember_exchange`` too: its session)."""

    seconds: float = 0.0

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - began

        return timed


@dataclass
class QueryCounter:
    """Database queries on the run's connection (the one its nodes borrow); the
    checkpointer's own connection is not counted."""

    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, execute: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            self.count += 1
        return execute(*args)


def install_query_counter() -> QueryCounter:
    from django.db import connection

    counter = QueryCounter()
    connection.execute_wrappers.append(counter)
    return counter


def install_record_clock() -> RecordClock:
    from apps.applications import services

    clock = RecordClock()
    services.record_run = clock.wrap(services.record_run)
    # An agent app's run also saves the exchange in its session.
    services.remember_exchange = clock.wrap(services.remember_exchange)
    return clock


def install_clock() -> ModelClock:
    from apps.applications import model_calls, runtime
    from apps.applications.workflow.nodes import base

    clock = ModelClock()
    timed = clock.wrap(model_calls.model_stream)
    for module in (model_calls, base, runtime):
        module.model_stream = timed
    return clock


# --- running --------------------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float  # seconds
    model: float = 0.0  # seconds inside model streams
    calls: int = 0
    stub: float = 0.0  # seconds the stub spent answering
    nodes: int = 0
    record: float = 0.0  # seconds writing the run and its steps
    queries: int = 0  # database queries on the run's connection


@dataclass
class Case:
    name: str
    samples: list[Sample] = field(default_factory=list)

    def walls(self) -> list[float]:
        return [s.wall for s in self.samples]


class Bench:
    def __init__(
        self, workspace: Any, stub: UpstreamServer, clock: ModelClock, recording: RecordClock
    ) -> None:
        self.workspace = workspace
        self.stub = stub
        self.clock = clock
        self.recording = recording
        self.queries = install_query_counter()
        self._apps = itertools.count(1)

    def workflow(self, data: dict[str, Any]) -> tuple[Any, Any]:
        from apps.applications.models import AgentApp, AppKind
        from apps.applications.workflow.definition import WorkflowDefinition

        definition = WorkflowDefinition.model_validate(data)
        app = AgentApp.objects.create(
            workspace=self.workspace,
            name=f"Bench flow {next(self._apps)}",
            kind=AppKind.WORKFLOW,
            draft=data,
        )
        return app, definition

    def run_workflow(
        self,
        app: Any,
        definition: Any,
        inputs: dict[str, Any],
        slow_calls: int = 0,
    ) -> Sample:
        """One run; the first ``slow_calls`` model calls wait ``MODEL_DELAY`` at the stub."""
        from apps.applications.events import Finished, NodeFinished
        from apps.applications.models import RunSurface
        from apps.applications.workflow.runner import plan_workflow, run_workflow

        self.stub.reset()
        if slow_calls:
            self.stub.script("chat", *(slow(MODEL_DELAY) for _ in range(slow_calls)))
        self.clock.reset()
        self.recording.seconds = 0.0
        self.queries.count = 0
        began = time.perf_counter()
        plan = plan_workflow(
            app=app,
            version=None,
            definition=definition,
            prompt=PROMPT,
            inputs=inputs,
            session_id=None,
            surface=RunSurface.PLAYGROUND,
        )
        nodes = 0
        finished = None
        for event in run_workflow(plan):
            if isinstance(event, NodeFinished):
                nodes += 1
            elif isinstance(event, Finished):
                finished = event
        wall = time.perf_counter() - began
        if finished is None:
            raise RuntimeError("the run ended without a Finished event")
        return self._sample(wall, nodes)

    def _sample(self, wall: float, nodes: int) -> Sample:
        answered = [r for r in self.stub.requests if r.finished_at is not None]
        return Sample(
            wall=wall,
            model=self.clock.seconds,
            calls=self.clock.calls,
            stub=sum(r.finished_at - r.received_at for r in answered),  # type: ignore[operator]
            nodes=nodes,
            record=self.recording.seconds,
            queries=self.queries.count,
        )

    def measure(
        self, cases: dict[Any, Callable[[], Sample]], args: argparse.Namespace
    ) -> dict[Any, Case]:
        """Each case ``--warmup`` times, then ``--runs`` rounds of one run of each, so that
        load that comes and goes on the machine weighs on every case alike."""
        for once in cases.values():
            for _ in range(args.warmup):
                once()
        found = {key: Case(str(key)) for key in cases}
        for _ in range(args.runs):
            for key, once in cases.items():
                found[key].samples.append(once())
        return found

    def traced_model_ms(self, app: Any, runs: int) -> list[int]:
        """The model steps' latency_ms per run, summed, for the app's last ``runs`` runs."""
        from apps.applications.models import Run, StepKind

        found = []
        for run in Run.objects.filter(app=app).order_by("-started_at")[:runs]:
            steps = run.steps.filter(kind=StepKind.MODEL)
            found.append(sum(steps.values_list("latency_ms", flat=True)))
        return found

    # the agent path

    def agent_app(self) -> tuple[Any, Any]:
        from apps.applications import services
        from apps.applications.services import parse_config

        app = services.create_app(
            self.workspace,
            name="Bench agent",
            draft={"model": MODEL, "system_prompt": "Be brief."},
            by=None,
        )
        return app, parse_config(app.draft)

    def run_agent(self, app: Any, config: Any) -> Sample:
        from apps.applications.events import Finished
        from apps.applications.models import RunSurface
        from apps.applications.planning import Call, plan_run
        from apps.applications.runtime import run_app

        self.stub.reset()
        self.clock.reset()
        self.recording.seconds = 0.0
        self.queries.count = 0
        began = time.perf_counter()
        plan = plan_run(
            app=app,
            version=None,
            config=config,
            call=Call(prompt=PROMPT),
            surface=RunSurface.PLAYGROUND,
        )
        finished = [e for e in run_app(plan) if isinstance(e, Finished)]
        wall = time.perf_counter() - began
        if len(finished) != 1:
            raise RuntimeError("the agent run ended without a Finished event")
        return self._sample(wall, 1)

    def direct_call(self) -> Sample:
        """The agent's model call made here: the route, the gateway's stream, consumed."""
        from apps.applications.model_calls import ReplyParts, model_stream
        from apps.applications.models import RunSurface
        from apps.gateway import routing
        from apps.model_endpoints.models import EndpointCapability
        from plugins.base import ChatMessage, ChatRequest

        self.stub.reset()
        self.clock.reset()
        self.recording.seconds = 0.0
        self.queries.count = 0
        began = time.perf_counter()
        route = routing.route(
            self.workspace, MODEL, EndpointCapability.CHAT, surface=RunSurface.PLAYGROUND
        )
        request = ChatRequest(
            model=MODEL,
            messages=[
                ChatMessage(role="system", content="Be brief."),
                ChatMessage(role="user", content=PROMPT),
            ],
        )
        parts = ReplyParts()
        with contextlib.closing(model_stream(route, request)) as chunks:
            for chunk in chunks:
                parts.add(chunk)
        wall = time.perf_counter() - began
        return self._sample(wall, 0)


def bare_langgraph(answers: int) -> Callable[[], Sample]:
    """The chain's shape on LangGraph alone: the engine's state and stream modes, each
    node writing one custom event and its outputs; no definition, context, trace or
    recording. What LangGraph itself costs a run and a node."""
    from langgraph.config import get_stream_writer
    from langgraph.graph import END, START, StateGraph

    from apps.applications.workflow.engine import FlowState

    def step(node_id: str) -> Callable[[FlowState], dict[str, Any]]:
        def run(state: FlowState) -> dict[str, Any]:
            get_stream_writer()(node_id)
            return {"values": {node_id: {"text": "."}}, "branches": {node_id: "next"}}

        return run

    ids = ["start", *(f"a_{i}" for i in range(1, answers + 1)), "end"]
    builder = StateGraph(FlowState)
    for node_id in ids:
        builder.add_node(node_id, step(node_id))
    builder.add_edge(START, ids[0])
    for a, b in itertools.pairwise([*ids, END]):
        builder.add_edge(a, b)
    graph = builder.compile()

    def once() -> Sample:
        began = time.perf_counter()
        for _ in graph.stream(
            {"values": {"sys": {"query": PROMPT}}},
            {"recursion_limit": 2000},
            stream_mode=["custom", "updates"],
        ):
            pass
        return Sample(wall=time.perf_counter() - began, nodes=len(ids))

    return once


# --- figures --------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def ms_since(started: float) -> str:
    return ms(time.perf_counter() - started)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(  # noqa: E731
        f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def p(values: list[float], q: float) -> float:
    return percentile(values, q)


def slope(cases: dict[int, Case], q: float) -> float:
    """Seconds a node adds: the q-th percentile's rise from the second-longest chain to the
    longest, per node."""
    low, high = sorted(cases)[-2:]
    return (p(cases[high].walls(), q) - p(cases[low].walls(), q)) / (high - low)


def chain_report(cases: dict[int, Case], bare: dict[int, Case]) -> float:
    rows = []
    for answers, case in cases.items():
        walls = case.walls()
        nodes = answers + 2
        recording = [s.record for s in case.samples]
        rows.append(
            [
                f"start + {answers} answer + end",
                str(nodes),
                str(len(walls)),
                ms(p(walls, 50)),
                ms(p(walls, 95)),
                ms(p(walls, 50) / nodes),
                ms(p(walls, 95) / nodes),
                ms(p(recording, 50)),
                f"{p([s.queries for s in case.samples], 50):.0f}",
                ms(p(bare[answers].walls(), 50)),
            ]
        )
    print_table(
        [
            "chain",
            "nodes",
            "runs",
            "run p50",
            "run p95",
            "per node p50",
            "per node p95",
            "recording p50",
            "queries",
            "LangGraph alone p50",
        ],
        rows,
    )
    marginal = slope(cases, 50)
    shortest = min(cases)
    fixed = p(cases[shortest].walls(), 50) - marginal * (shortest + 2)
    bare_marginal = slope(bare, 50)
    bare_fixed = p(bare[shortest].walls(), 50) - bare_marginal * (shortest + 2)
    print(
        f"a node's marginal cost (the slope between the two longest chains): p50 "
        f"{ms(marginal)} ms, p95 {ms(slope(cases, 95))} ms; LangGraph alone {ms(bare_marginal)} ms"
    )
    print(
        f"a run's fixed cost (the shortest chain's p50 less its nodes at the marginal cost): "
        f"{ms(fixed)} ms; LangGraph alone {ms(bare_fixed)} ms"
    )
    return marginal


def model_flow_report(case: Case, traced: list[int]) -> float:
    walls = case.walls()
    model = [s.model for s in case.samples]
    added = [s.wall - s.model for s in case.samples]
    traced_added = [s.wall - t / 1000 for s, t in zip(case.samples, traced[::-1], strict=True)]
    stub = [s.stub for s in case.samples]
    calls = {s.calls for s in case.samples}
    nodes = {s.nodes for s in case.samples}
    queries = p([s.queries for s in case.samples], 50)
    rows = [
        ["run (wall)", ms(p(walls, 50)), ms(p(walls, 95))],
        ["model calls, summed (gateway stream)", ms(p(model, 50)), ms(p(model, 95))],
        ["  of which the stub answering", ms(p(stub, 50)), ms(p(stub, 95))],
        ["added by the engine (run - model calls)", ms(p(added, 50)), ms(p(added, 95))],
        [
            "added (run - the trace's model latency_ms)",
            ms(p(traced_added, 50)),
            ms(p(traced_added, 95)),
        ],
        [
            "added per node",
            ms(p(added, 50) / MODEL_FLOW_NODES),
            ms(p(added, 95) / MODEL_FLOW_NODES),
        ],
    ]
    print(
        f"{len(walls)} runs; nodes run per run {sorted(nodes)}, model calls per run "
        f"{sorted(calls)}, database queries per run {queries:.0f}"
    )
    print_table(["", "p50", "p95"], rows)
    return p(added, 50)


def iteration_report(cases: dict[tuple[int, int], Case], base: Case, inner: str) -> None:
    base50 = p(base.walls(), 50)
    rows = []
    for (concurrency, items), case in cases.items():
        walls = case.walls()
        rows.append(
            [
                f"{items} items, concurrency {concurrency}",
                str(len(walls)),
                ms(p(walls, 50)),
                ms(p(walls, 95)),
                ms((p(walls, 50) - base50) / items),
            ]
        )
    print(f"inner node: {inner}; the run with an empty list: p50 {ms(base50)} ms")
    print_table(["iteration", "runs", "run p50", "run p95", "per item p50"], rows)


def waiting_report(cases: dict[int, Case]) -> None:
    rows = [
        [
            f"concurrency {concurrency}",
            str(len(case.walls())),
            ms(p(case.walls(), 50)),
            ms(p(case.walls(), 95)),
        ]
        for concurrency, case in cases.items()
    ]
    print_table(["iteration", "runs", "run p50", "run p95"], rows)


def agent_report(agent: Case, direct: Case) -> None:
    rows = []
    for name, case in (("agent app run", agent), ("the model call made directly", direct)):
        walls = case.walls()
        model = [s.model for s in case.samples]
        written = [s.record for s in case.samples]
        rows.append(
            [
                name,
                str(len(walls)),
                ms(p(walls, 50)),
                ms(p(walls, 95)),
                ms(p(model, 50)),
                ms(p(written, 50)),
                f"{p([s.queries for s in case.samples], 50):.0f}",
            ]
        )
    print_table(
        ["path", "runs", "p50", "p95", "model stream p50", "run + session written p50", "queries"],
        rows,
    )
    added = [s.wall - s.model for s in agent.samples]
    direct_wall = p(direct.walls(), 50)
    print(
        f"agent path added over its model call: p50 {ms(p(added, 50))} ms, p95 "
        f"{ms(p(added, 95))} ms; agent run - direct call at p50: "
        f"{ms(p(agent.walls(), 50) - direct_wall)} ms"
    )


#: Where a thread waits for another (the main thread for a node's worker, a worker for
#: work): time spent there is not work, and is shown apart.
WAITS = (
    "<method 'acquire' of '_thread.lock' objects>",
    "<method 'get' of '_queue.SimpleQueue' objects>",
)


def profile(name: str, once: Callable[[], Sample], runs: int) -> None:
    """cProfile ``runs`` runs of ``once``: the functions with the most time of their own
    (waiting for other threads apart), and the most cumulative time. LangGraph runs the
    nodes on worker threads; each thread started meanwhile gets a profiler of its own
    (``threading.setprofile``), and the profiles are added up."""
    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_in_thread(*_: Any) -> None:
        profiler = cProfile.Profile()
        with lock:
            profilers.append(profiler)
        profiler.enable()

    main = cProfile.Profile()
    threading.setprofile(start_in_thread)
    main.enable()
    try:
        for _ in range(runs):
            once()
    finally:
        main.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
    stats = pstats.Stats(main, stream=io.StringIO())
    with lock:
        for profiler in profilers:
            with contextlib.suppress(TypeError):  # a thread that recorded nothing
                stats.add(profiler)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    waited = sum(row[2] for func, row in table.items() if func[2] in WAITS)
    worked = sorted(
        ((row[2], row[1], func) for func, row in table.items() if func[2] not in WAITS),
        reverse=True,
    )
    print(f"\n--- cProfile of {name}, {runs} runs ({len(profilers)} threads started), ms a run ---")
    print(f"waiting for other threads (lock.acquire, SimpleQueue.get): {waited / runs * 1000:.2f}")
    print("own time, the top 25:")
    for own, calls, func in worked[:25]:
        print(f"  {own / runs * 1000:8.3f}  {calls / runs:8.1f} calls  {_where(func)}")
    print("cumulative, the top 30 (a thread's whole life counts for its entry point):")
    rows = sorted(((row[3], func) for func, row in table.items()), reverse=True)
    for total, func in rows[:30]:
        print(f"  {total / runs * 1000:8.3f}  {_where(func)}")


def _where(func: tuple[str, int, str]) -> str:
    """A profiled function as ``path:line(name)``, the path from the repository, the
    site-packages or the standard library."""
    path, line, name = func
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    for prefix in (str(ROOT) + "/", sysconfig.get_paths()["stdlib"] + "/"):
        path = path.removeprefix(prefix)
    return f"{path}:{line}({name})" if line else name


# --- main -----------------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="measured runs per case")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured runs first")
    parser.add_argument("--profile", action="store_true", help="cProfile the 50-node chain")
    parser.add_argument("--skip-iteration", action="store_true")
    parser.add_argument("--skip-agent", action="store_true")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 1:
        parser.error("--runs and --warmup must be at least 1 (the first run compiles)")
    return args


def register_model(workspace: Any, stub: UpstreamServer) -> None:
    from apps.model_endpoints import services as endpoints

    endpoint = endpoints.create_endpoint(
        name=MODEL,
        provider="openai",
        upstream_model="stub-chat",
        capabilities=["chat", "tool_calls"],
        settings={"base_url": stub.openai_base_url, "api_key": "x", "max_retries": 0},
    )
    endpoints.grant(endpoint, workspace, by=None, default=True)


def main() -> int:
    args = arguments()
    began = time.monotonic()
    with UpstreamServer() as stub, bench_platform("workflow") as platform:
        from langgraph.version import __version__ as langgraph_version  # type: ignore[import-not-found]

        from apps.applications.workflow.node_types import NODE_TYPES

        register_model(platform.workspace, stub)
        bench = Bench(platform.workspace, stub, install_clock(), install_record_clock())

        runs: dict[Any, Callable[[], Sample]] = {}
        for answers in CHAIN_LENGTHS:
            app, definition = bench.workflow(answer_chain(answers))
            started = time.perf_counter()
            bench.run_workflow(app, definition, {})
            progress(f"chain of {answers}: first run (compiles) {ms_since(started)} ms")
            runs[("engine", answers)] = partial(bench.run_workflow, app, definition, {})
            runs[("bare", answers)] = bare_langgraph(answers)
        chain_run = runs[("engine", max(CHAIN_LENGTHS))]
        measured = bench.measure(runs, args)
        chains = {n: measured[("engine", n)] for n in CHAIN_LENGTHS}
        bare = {n: measured[("bare", n)] for n in CHAIN_LENGTHS}
        progress("chains measured")

        flow_app, flow_definition = bench.workflow(model_flow())
        flow = bench.measure(
            {"flow": partial(bench.run_workflow, flow_app, flow_definition, {})}, args
        )["flow"]
        traced = bench.traced_model_ms(flow_app, args.runs)
        progress("model flow measured")

        iterations: dict[tuple[int, int], Case] = {}
        waited: dict[int, Case] = {}
        runs = {}
        if args.skip_iteration:
            iteration_note = "skipped (--skip-iteration)"
        elif "iteration" not in NODE_TYPES or iteration_inner(NODE_TYPES) is None:
            iteration_note = "not measured: this engine has no iteration node type yet"
        else:
            inner_node, iteration_note = iteration_inner(NODE_TYPES)  # type: ignore[misc]
            kind = NODE_TYPES["iteration"]
            probe = {"items": "start.items", "output": "inner.output"}
            [collected] = kind.outputs(kind.Settings.model_validate(probe))
            for concurrency in ITERATION_CONCURRENCY:
                data = iteration_flow(concurrency, inner_node, collected)
                app, definition = bench.workflow(data)
                for items in (0, *ITERATION_SIZES):
                    if items == 0 and concurrency != ITERATION_CONCURRENCY[0]:
                        continue
                    values = {"items": [f"item {i}" for i in range(items)]}
                    runs[(concurrency, items)] = partial(
                        bench.run_workflow, app, definition, values
                    )
            iterations = bench.measure(runs, args)
            progress("iterations measured")
            waiting = {}
            for concurrency in ITERATION_CONCURRENCY:
                data = iteration_flow(concurrency, llm_inner(), collected, "text")
                app, definition = bench.workflow(data)
                values = {"items": [f"item {i}" for i in range(MODEL_ITEMS)]}
                waiting[concurrency] = partial(
                    bench.run_workflow, app, definition, values, MODEL_ITEMS
                )
            few = argparse.Namespace(runs=min(args.runs, 20), warmup=1)
            waited = bench.measure(waiting, few)
            progress("iterations with model calls measured")

        agent = direct = None
        if not args.skip_agent:
            agent_app, agent_config = bench.agent_app()
            agent_run = partial(bench.run_agent, agent_app, agent_config)
            measured = bench.measure({"agent": agent_run, "direct": bench.direct_call}, args)
            agent, direct = measured["agent"], measured["direct"]
            progress("agent path measured")

        if stub.crashes:
            print("the stub crashed:\n" + "\n".join(stub.crashes), file=sys.stderr)

        print()
        print(
            f"{os.cpu_count()} cores; Python {sys.version.split()[0]}, LangGraph "
            f"{langgraph_version}; {args.runs} measured runs per case after {args.warmup} "
            "warm-up, one at a time; stub model in this process, answering at once"
        )
        print("\n(a) the engine's own cost per node: chains of answer nodes, no model call (ms)")
        marginal = chain_report(chains, bare)
        print(
            f"target: <= {TARGET_PER_NODE_MS:.0f} ms a node: "
            + ("met" if marginal * 1000 <= TARGET_PER_NODE_MS else "NOT met")
            + f" ({ms(marginal)} ms marginal, p50)"
        )
        print(f"\n(b) {MODEL_FLOW_NODES} nodes with {MODEL_FLOW_CALLS} model calls (ms)")
        added = model_flow_report(flow, traced)
        print(
            f"target: <= {TARGET_ADDED_MS:.0f} ms added at p50: "
            + ("met" if added * 1000 <= TARGET_ADDED_MS else "NOT met")
            + f" ({ms(added)} ms)"
        )
        print("\n(c) iteration width (ms)")
        if iterations:
            base = iterations.pop((ITERATION_CONCURRENCY[0], 0))
            iteration_report(iterations, base, iteration_note)
            print(
                f"\nan LLM node inside, {MODEL_ITEMS} items, the stub answering after "
                f"{MODEL_DELAY * 1000:.0f} ms (the items' model calls alone: "
                f"{MODEL_ITEMS * MODEL_DELAY * 1000:.0f} ms one after another):"
            )
            waiting_report(waited)
        else:
            print(iteration_note)
        if agent is not None and direct is not None:
            print("\n(d) the agent app path (a one-node graph) against the model call alone (ms)")
            agent_report(agent, direct)
        if args.profile:
            profiled = max(10, args.runs // 5)
            profile(f"the {max(CHAIN_LENGTHS)}-answer chain", chain_run, profiled)
            if iterations:
                largest = (ITERATION_CONCURRENCY[0], max(ITERATION_SIZES))
                profile(f"the iteration over {largest[1]} items", runs[largest], profiled)
            if not args.skip_agent:
                profile("the agent app", agent_run, profiled)
    print(f"\ntotal run time {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
