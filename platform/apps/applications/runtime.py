"""Running an agent app: retrieval, the model, tools, in a loop, as a stream of events.

``run_app`` is a generator. It yields ``Thought``s (a retrieval or a tool call, in
DashScope's thought shape), ``TextDelta``s of the answer as the model writes it, and one
``Finished`` with the whole result (``events``); the HTTP surfaces turn these into their
wire formats.

The loop: search the app's knowledge bases with the user's prompt (when auto-retrieval
is on), then call the model with the tools; each tool call's result goes back to the
model as an observation, until it answers or ``max_iterations`` model calls are spent
(the last one is offered no tools, so it must answer). Models that declare native tool
calling get OpenAI-style function tools; others get a ReAct prompt (``tool_loop``, one
strategy each).

Every model call goes through the gateway, so quotas and metering (tagged with the app)
apply to each. Closing the generator (the client went away) closes the model stream in
flight and records the run as cancelled (``recording``).

A run given a ``delegate`` (``delegation.call_app``) may call the published apps its
configuration names as tools; each such call is a sub-run recorded under this one.
``agent_events`` is the agent's work alone, for a workflow's agent node too: it writes to
whatever ``Answering`` it is given (the run's recorder, or a node that keeps the answer).
"""

import contextlib
import functools
import json
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from functools import partial
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

from apps.applications import prompts, services
from apps.applications.app_tools import Caller, Delegate
from apps.applications.config import AppConfigSchema
from apps.applications.events import Event, Finished, TextDelta, Thought
from apps.applications.model_calls import ReplyParts, again, counted, model_stream
from apps.applications.models import StepKind
from apps.applications.recording import RunRecorder, Trace, current_node, ms_since
from apps.applications.run_plan import RunPlan
from apps.applications.tool_loop import Reply, ToolLoop, for_model, use_tool
from apps.applications.toolbox import AppRunner, Toolbox
from apps.applications.workflow.engine import FlowState, RunContext, stream_graph
from apps.applications.workflow.shared_connection import borrowed_connection
from apps.gateway import routing
from apps.knowledge.models import KnowledgeBase
from apps.knowledge.retrieval import Hit, retrieve
from apps.knowledge.retrieval_settings import RetrievalSettings
from apps.model_endpoints.models import EndpointCapability
from apps.usage.recorder import ToolCallTags
from plugins.base import ChatMessage, ChatRequest, Passage, Usage

Search = Callable[[str, int], list[Passage]]
AGENT_NODE = "agent"


class Answering(Protocol):
    """Where the agent's work goes: steps to ``trace``, answer text through ``answered``;
    ``run_id`` is the run its sub-runs are recorded under. ``RunRecorder`` is one."""

    trace: Trace
    run_id: uuid.UUID

    def answered(self, text: str) -> TextDelta: ...


# --- sources ------------------------------------------------------------------------------------


class Sources:
    """The passages a run found, numbered in the order they were found: the ``[n]`` the
    answer cites is ``doc_references[n - 1]``. A chunk found twice keeps its number."""

    def __init__(self) -> None:
        self._by_chunk: dict[int, Passage] = {}
        self._hits: list[Hit] = []

    def add(self, hits: list[Hit]) -> list[Passage]:
        passages = []
        for hit in hits:
            passage = self._by_chunk.get(hit.chunk_id)
            if passage is None:
                passage = Passage(
                    reference=len(self._hits) + 1,
                    text=hit.text,
                    document_name=hit.document_name,
                    document_id=hit.document_id,
                    score=round(hit.score, 6),
                    page=hit.page,
                    section=hit.section,
                )
                self._by_chunk[hit.chunk_id] = passage
                self._hits.append(hit)
            passages.append(passage)
        return passages

    def doc_references(self) -> list[dict[str, Any]]:
        """DashScope's ``output.doc_references``."""
        return [
            {
                "index_id": str(number),
                "title": hit.section or hit.document_name,
                "doc_id": hit.document_id,
                "doc_name": hit.document_name,
                "doc_url": "",
                "text": hit.text,
                "biz_id": "",
                "images": [],
                "page_number": [hit.page] if hit.page else [],
                "knowledge_base_id": hit.knowledge_base_id,
            }
            for number, hit in enumerate(self._hits, start=1)
        ]


def retrieval_settings(
    config: AppConfigSchema, knowledge_bases: list[KnowledgeBase]
) -> RetrievalSettings:
    """The first knowledge base's retrieval settings, with the app's overrides."""
    base = knowledge_bases[0].retrieval if knowledge_bases else {}
    chosen = config.knowledge
    overrides: dict[str, Any] = {"top_k": chosen.top_k}
    if chosen.mode is not None:
        overrides["mode"] = chosen.mode
    if chosen.score_threshold is not None:
        overrides["score_threshold"] = chosen.score_threshold
    if chosen.rerank is not None:
        overrides["rerank"] = chosen.rerank
    return RetrievalSettings.model_validate({**base, **overrides})


# --- the run ------------------------------------------------------------------------------------


def run_app(plan: RunPlan, *, delegate: Delegate | None = None) -> Iterator[Event]:
    """Run the app once, as a graph of one agent node on the app engine; see the module's
    docstring. Records the run when it ends."""
    with RunRecorder(plan) as recorder:
        sources = Sources()
        run = RunContext(
            workspace=plan.workspace,
            app=plan.app,
            version=plan.version,
            surface=plan.surface,
            session_id=plan.session_id,
            recorder=recorder,
            api_key=plan.api_key,
            user=plan.user,
            request_id=plan.request_id,
            callers=(*plan.callers, str(plan.app.pk)),
            delegate=delegate,
        )
        agent = partial(agent_events, plan, sources, recorder, delegate, run.check)
        yield from stream_graph(_agent_graph(), {}, run, configurable={"agent": agent})
        yield _finish(plan, sources, recorder)


def agent_events(
    plan: RunPlan,
    sources: Sources,
    recorder: Answering,
    delegate: Delegate | None = None,
    check: Callable[[], None] | None = None,
) -> Iterator[Event]:
    """The agent's work: retrieval, then model turns and the tools they ask for. Text goes
    through ``recorder.answered``; steps to its trace. With a ``delegate``, the app tools
    of ``plan.config`` are offered; ``check`` (the run's, or its node's) stops an app
    called as a tool when the run stops."""
    search: Search = partial(_search, plan, sources, recorder.trace)
    # Events held back until the model has begun to answer: whatever refuses the call
    # (the model's route, a quota, the upstream) then fails it before the response starts.
    held: list[Event] = []
    system = plan.system_prompt
    if plan.knowledge.knowledge_bases and plan.config.knowledge.auto_retrieve:
        thought, sources_block = _retrieve_first(plan, search, recorder.trace)
        held.append(thought)
        system = _joined(system, sources_block)
    # Resolved once for the run; each model call goes out on its own copy (model_calls.again).
    route = _route(plan)
    loop = _tool_loop(plan, route, search, _app_runner(plan, recorder, delegate, check), check)
    messages = [
        ChatMessage(role="system", content=_joined(system, loop.system_suffix())),
        *plan.history,
        ChatMessage(role="user", content=plan.prompt),
    ]
    yield from _converse(plan, route, loop, messages, held, recorder)


@functools.cache
def _agent_graph() -> Any:
    """The graph every agent app runs: one agent node."""
    builder = StateGraph(FlowState)
    builder.add_node(AGENT_NODE, _agent_node)
    builder.add_edge(START, AGENT_NODE)
    builder.add_edge(AGENT_NODE, END)
    # Never checkpointed, even when run as a sub-run inside a workflow that is.
    return builder.compile(checkpointer=False)


def _agent_node(state: FlowState, config: RunnableConfig) -> dict[str, Any]:
    run: RunContext = config["configurable"]["run"]
    with borrowed_connection(run.connection):
        if run.emit_to is None:
            run.emit_to = get_stream_writer()
        for event in config["configurable"]["agent"]():
            run.emit(event)
    return {}


def _search(plan: RunPlan, sources: Sources, trace: Trace, query: str, top_k: int) -> list[Passage]:
    """Search the app's knowledge bases (automatically, or as the model's tool); traced."""
    options = retrieval_settings(plan.config, plan.knowledge.knowledge_bases)
    options = options.model_copy(update={"top_k": top_k})
    began = time.monotonic()
    hits = retrieve(
        plan.workspace,
        plan.knowledge.knowledge_bases,
        query,
        options,
        plan.knowledge.filters,
        app_id=str(plan.app.pk),
        node_id=current_node.get() or None,
    )
    passages = sources.add(hits)
    trace.step(
        StepKind.RETRIEVAL,
        "knowledge_retrieval",
        input={"query": query, "top_k": top_k, "mode": options.mode},
        output={"passages": [p.model_dump() for p in passages]},
        latency_ms=ms_since(began),
    )
    return passages


def _retrieve_first(plan: RunPlan, search: Search, trace: Trace) -> tuple[Thought, str]:
    """Search with the user's prompt before the model is called: the retrieval's thought,
    and the sources block for the system prompt ("" when nothing was found)."""
    passages = search(plan.prompt, plan.config.knowledge.top_k)
    thought = _retrieval_thought(plan.prompt, passages)
    trace.thoughts.append(thought)
    if not passages:
        return Thought(thought), ""
    cite = plan.config.knowledge.show_sources
    return Thought(thought), prompts.sources_block(passages, cite=cite)


def _joined(system: str, addition: str) -> str:
    return f"{system}\n\n{addition}" if addition else system


def _tool_loop(
    plan: RunPlan,
    route: routing.Route,
    search: Search,
    run_app: AppRunner | None,
    check: Callable[[], None] | None,
) -> ToolLoop:
    toolbox = Toolbox(
        plan.workspace,
        plan.config.tools,
        search_knowledge=search if plan.knowledge.knowledge_bases else None,
        offer_knowledge_search=plan.config.knowledge.as_tool,
        run_app=run_app,
        check=check,
        tags=ToolCallTags(
            surface=plan.surface,
            api_key=plan.api_key,
            app_id=str(plan.app.pk),
            app_node=current_node.get() or None,
            request_id=plan.request_id,
        ),
    )
    return for_model(plan.config, route, toolbox)


def _app_runner(
    plan: RunPlan,
    recorder: Answering,
    delegate: Delegate | None,
    check: Callable[[], None] | None,
) -> AppRunner | None:
    """The delegate, bound to this run as the caller (none when the app names no app)."""
    if delegate is None or not any(tool.type == "app" for tool in plan.config.tools):
        return None
    caller = Caller(
        workspace=plan.workspace,
        surface=plan.surface,
        run_id=recorder.run_id,
        callers=(*plan.callers, str(plan.app.pk)),
        api_key=plan.api_key,
        user=plan.user,
        request_id=plan.request_id,
        check=check,
    )
    return partial(delegate, caller)


def _route(plan: RunPlan) -> routing.Route:
    """The run's model, resolved once per run (each call takes ``again`` of it)."""
    return routing.route(
        plan.workspace,
        plan.config.model,
        EndpointCapability.CHAT,
        surface=plan.surface,
        api_key=plan.api_key,
        app_id=str(plan.app.pk),
        # Inside a workflow's agent node: its usage is tagged with the node too.
        node_id=current_node.get() or None,
    )


def _converse(
    plan: RunPlan,
    route: routing.Route,
    loop: ToolLoop,
    messages: list[ChatMessage],
    held: list[Event],
    recorder: Answering,
) -> Iterator[Event]:
    """Model turns and the tools they ask for, until the model answers or the turns run out."""
    sampling = _sampling(plan)
    for iteration in range(1, plan.config.max_iterations + 1):
        last = iteration == plan.config.max_iterations
        request = loop.request_for(messages, last, sampling)
        reply = yield from _model_turn(again(route), loop, request, held, recorder)
        decision = loop.after_reply(messages, reply, last)
        if decision.unshown_answer:
            yield recorder.answered(decision.unshown_answer)
        if not decision.uses:
            return
        for use in decision.uses:
            seen = yield from use_tool(loop.toolbox, recorder.trace, use)
            loop.observe(messages, use, seen)


def _sampling(plan: RunPlan) -> dict[str, Any]:
    """The model and the sampling parameters of each call: the caller's, else the app's."""
    parameters = plan.config.parameters
    return {
        "model": plan.config.model,
        "temperature": _first(plan.temperature, parameters.temperature),
        "top_p": _first(plan.top_p, parameters.top_p),
        "max_tokens": _first(plan.max_tokens, parameters.max_tokens),
    }


def _model_turn(
    target: routing.Route,
    loop: ToolLoop,
    request: ChatRequest,
    held: list[Event],
    recorder: Answering,
) -> Generator[Event, None, Reply]:
    """One model call on ``target`` (its meter records this call alone), its answer
    streamed as it comes (held events go out first); traced."""
    began = time.monotonic()
    parts = ReplyParts()
    with contextlib.closing(model_stream(target, request)) as chunks:
        for chunk in chunks:
            yield from _release(held)
            parts.add(chunk)
            shown = loop.shown(chunk.content)
            if shown:
                yield recorder.answered(shown)
    yield from _release(held)
    reply = Reply("".join(parts.content), parts.calls, parts.finish_reason)
    usage = parts.usage or counted(request, reply.content, target)
    recorder.trace.count(target.endpoint.name, usage)
    _trace_model_call(recorder.trace, target, request, reply, usage, loop.mode, began)
    return reply


def _release(held: list[Event]) -> Iterator[Event]:
    yield from held
    held.clear()


def _trace_model_call(
    trace: Trace,
    target: routing.Route,
    request: ChatRequest,
    reply: Reply,
    usage: Usage,
    mode: str,
    began: float,
) -> None:
    trace.step(
        StepKind.MODEL,
        target.endpoint.name,
        input={
            "messages": len(request.messages),
            "tools": [t.name for t in request.tools],
            "mode": mode,
        },
        output={
            "content": reply.content,
            "tool_calls": [c.model_dump() for c in reply.calls],
            "finish_reason": reply.finish_reason,
        },
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        latency_ms=ms_since(began),
    )


def _finish(plan: RunPlan, sources: Sources, recorder: RunRecorder) -> Finished:
    """The run's result; the session remembers the exchange and the run is recorded."""
    text = recorder.answer
    show_sources = plan.config.knowledge.show_sources
    finished = Finished(
        text=text,
        finish_reason="stop",
        session_id=plan.session_id,
        thoughts=recorder.trace.thoughts,
        doc_references=sources.doc_references() if show_sources else None,
        usage=recorder.trace.usage_out(),
    )
    # Saved before the last event, so a client that asks again at once sees it.
    services.remember_exchange(plan.app, plan.session_id, plan.prompt, text, plan.config)
    recorder.succeeded()
    return finished


def _retrieval_thought(query: str, passages: list[Passage]) -> dict[str, Any]:
    found = [
        {"index_id": str(p.reference), "doc_name": p.document_name, "text": p.text}
        for p in passages
    ]
    return {
        "thought": "",
        "action_type": "agentRag",
        "action_name": "knowledge_retrieval",
        "action": "knowledge_retrieval",
        "action_input_stream": query,
        "action_input": {"query": query},
        "observation": json.dumps(found, ensure_ascii=False),
        "response": "",
    }


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def run_to_end(events: Iterator[Event]) -> Finished:
    """Consume a run that nobody streams; its result."""
    finished = None
    for event in events:
        if isinstance(event, Finished):
            finished = event
    assert finished is not None, "a run that ends without raising ends with Finished"
    return finished


def new_session_id() -> str:
    return uuid.uuid4().hex
