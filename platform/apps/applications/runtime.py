"""Running an agent app: retrieval, the model, tools, in a loop, as a stream of events.

``run_app`` is a generator. It yields ``Thought``s (a retrieval or a tool call, in
DashScope's thought shape), ``TextDelta``s of the answer as the model writes it, and one
``Finished`` with the whole result; the HTTP surfaces turn these into their wire formats.

The loop: search the app's knowledge bases with the user's prompt (when auto-retrieval
is on), then call the model with the tools; each tool call's result goes back to the
model as an observation, until it answers or ``max_iterations`` model calls are spent
(the last one is offered no tools, so it must answer). Models that declare native tool
calling get OpenAI-style function tools; others get a ReAct prompt.

Every model call goes through the gateway, so quotas and metering (tagged with the app)
apply to each. Closing the generator (the client went away) closes the model stream in
flight and records the run as cancelled.
"""

import contextlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from apps.accounts.models import ApiKey, User, Workspace
from apps.applications import prompts, react, services
from apps.applications.config import AppConfigSchema
from apps.applications.models import AgentApp, AppVersion, RunStatus, StepKind
from apps.applications.toolbox import Toolbox, observation
from apps.gateway import routing
from apps.knowledge.models import KnowledgeBase
from apps.knowledge.retrieval import Filters, Hit, retrieve
from apps.knowledge.retrieval_settings import RetrievalSettings
from apps.model_endpoints.models import EndpointCapability
from kernel.errors import ApiError, InvalidParameter
from kernel.tokens import estimated_usage, messages_text
from plugins.base import (
    Capability,
    ChatChunk,
    ChatMessage,
    ChatRequest,
    Passage,
    ToolCall,
    UpstreamError,
    Usage,
)

# --- what a run is given ------------------------------------------------------------------------


@dataclass(frozen=True)
class Knowledge:
    """Where a run may search: the knowledge bases and the filters the caller set."""

    knowledge_bases: list[KnowledgeBase]
    filters: Filters = field(default_factory=Filters)


@dataclass
class RunPlan:
    """Everything a run needs, checked before it starts (bad input fails the request with
    a 4xx before any event is sent)."""

    workspace: Workspace
    app: AgentApp
    version: AppVersion | None
    config: AppConfigSchema
    surface: str
    prompt: str
    history: list[ChatMessage]
    system_prompt: str
    knowledge: Knowledge
    session_id: str
    api_key: ApiKey | None = None
    user: User | None = None
    request_id: str = ""
    #: Caller's sampling overrides (the app's own parameters otherwise).
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


# --- what a run yields ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Thought:
    """A step the app took, in DashScope's ``output.thoughts`` item shape."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Finished:
    text: str
    finish_reason: str
    session_id: str
    thoughts: list[dict[str, Any]]
    doc_references: list[dict[str, Any]] | None
    usage: list[dict[str, Any]]

    @property
    def input_tokens(self) -> int:
        return sum(model["input_tokens"] for model in self.usage)

    @property
    def output_tokens(self) -> int:
        return sum(model["output_tokens"] for model in self.usage)


Event = TextDelta | Thought | Finished


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


# --- the run ------------------------------------------------------------------------------------


@dataclass
class _Trace:
    """The steps of a run, kept in memory and written with the run when it ends."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    thoughts: list[dict[str, Any]] = field(default_factory=list)

    def step(self, kind: StepKind, name: str, **fields: Any) -> None:
        self.steps.append({"kind": kind, "name": name, **fields})

    def count(self, model: str, usage: Usage) -> None:
        self.usage[model][0] += usage.input_tokens
        self.usage[model][1] += usage.output_tokens

    def usage_out(self) -> list[dict[str, Any]]:
        return [
            {"model_id": model, "input_tokens": tokens[0], "output_tokens": tokens[1]}
            for model, tokens in self.usage.items()
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


def run_app(plan: RunPlan) -> Iterator[Event]:
    """Run the app once; see the module's docstring. Records the run when it ends."""
    started = time.monotonic()
    started_at = timezone.now()
    trace = _Trace()
    sources = Sources()
    config = plan.config
    app_id = str(plan.app.pk)
    answer: list[str] = []
    first_token_ms: int | None = None
    outcome = {"status": RunStatus.FAILED, "code": "", "message": ""}
    # Events held back until the model has begun to answer: whatever refuses the call
    # (the model's route, a quota, the upstream) then fails it before the response starts.
    held: list[Event] = []

    def search(query: str, top_k: int) -> list[Passage]:
        options = retrieval_settings(config, plan.knowledge.knowledge_bases)
        options = options.model_copy(update={"top_k": top_k})
        began = time.monotonic()
        hits = retrieve(
            plan.workspace,
            plan.knowledge.knowledge_bases,
            query,
            options,
            plan.knowledge.filters,
            app_id=app_id,
        )
        passages = sources.add(hits)
        trace.step(
            StepKind.RETRIEVAL,
            "knowledge_retrieval",
            input={"query": query, "top_k": top_k, "mode": options.mode},
            output={"passages": [p.model_dump() for p in passages]},
            latency_ms=_ms(began),
        )
        return passages

    try:
        system = plan.system_prompt
        knowledge_bases = plan.knowledge.knowledge_bases
        if knowledge_bases and config.knowledge.auto_retrieve:
            passages = search(plan.prompt, config.knowledge.top_k)
            thought = _retrieval_thought(plan.prompt, passages)
            trace.thoughts.append(thought)
            held.append(Thought(thought))
            if passages:
                cite = config.knowledge.show_sources
                system = f"{system}\n\n{prompts.sources_block(passages, cite=cite)}"

        toolbox = Toolbox(
            plan.workspace,
            config.tools,
            search_knowledge=search if knowledge_bases else None,
            offer_knowledge_search=config.knowledge.as_tool,
        )

        def route() -> routing.Route:
            # One route per model call: each carries the meter that records that call.
            return routing.route(
                plan.workspace,
                config.model,
                EndpointCapability.CHAT,
                surface=plan.surface,
                api_key=plan.api_key,
                app_id=app_id,
            )

        native = _native_tool_calling(config, route())
        if toolbox and not native:
            system = f"{system}\n\n{prompts.react_instructions(toolbox.specs)}"
        messages = [ChatMessage(role="system", content=system), *plan.history]
        messages.append(ChatMessage(role="user", content=plan.prompt))

        for iteration in range(1, config.max_iterations + 1):
            last = iteration == config.max_iterations
            offer_tools = bool(toolbox) and not last
            if toolbox and not native and last:
                messages.append(ChatMessage(role="user", content=prompts.REACT_ANSWER_NOW))
            request = ChatRequest(
                model=config.model,
                messages=messages,
                tools=toolbox.specs if native and offer_tools else [],
                temperature=_first(plan.temperature, config.parameters.temperature),
                top_p=_first(plan.top_p, config.parameters.top_p),
                max_tokens=_first(plan.max_tokens, config.parameters.max_tokens),
                stop=["Observation:"] if toolbox and not native else [],
            )
            target = route()
            began = time.monotonic()
            content: list[str] = []
            calls: list[ToolCall] = []
            usage: Usage | None = None
            finish_reason = "stop"
            final_answer = react.FinalAnswerStream() if toolbox and not native else None
            with contextlib.closing(_model_stream(target, request)) as chunks:
                for chunk in chunks:
                    yield from held
                    held.clear()
                    content.append(chunk.content)
                    calls.extend(chunk.tool_calls)
                    usage = chunk.usage or usage
                    finish_reason = chunk.finish_reason or finish_reason
                    shown = final_answer.feed(chunk.content) if final_answer else chunk.content
                    if shown:
                        if first_token_ms is None:
                            first_token_ms = _ms(started)
                        answer.append(shown)
                        yield TextDelta(shown)
            yield from held
            held.clear()
            reply = "".join(content)
            usage = usage or _counted(request, reply, target)
            trace.count(target.endpoint.name, usage)
            trace.step(
                StepKind.MODEL,
                target.endpoint.name,
                input={
                    "messages": len(request.messages),
                    "tools": [t.name for t in request.tools],
                    "mode": "native" if native else "react",
                },
                output={
                    "content": reply,
                    "tool_calls": [c.model_dump() for c in calls],
                    "finish_reason": finish_reason,
                },
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                latency_ms=_ms(began),
            )

            if native:
                if not calls:
                    break
                messages.append(
                    ChatMessage(role="assistant", content=reply or None, tool_calls=calls)
                )
                for call in calls:
                    result_text, thought = yield from _use_tool(
                        toolbox, trace, call.name, call.arguments, thought=reply
                    )
                    messages.append(
                        ChatMessage(role="tool", content=result_text, tool_call_id=call.id)
                    )
                continue

            parsed = react.parse(reply) if toolbox else react.Answer("", reply)
            if isinstance(parsed, react.Answer) or last:
                text = parsed.text if isinstance(parsed, react.Answer) else reply
                if final_answer is not None and not final_answer.streamed_any and text:
                    # No "Final Answer:" marker came: the whole reply is the answer.
                    if first_token_ms is None:
                        first_token_ms = _ms(started)
                    answer.append(text)
                    yield TextDelta(text)
                break
            messages.append(ChatMessage(role="assistant", content=reply))
            result_text, _ = yield from _use_tool(
                toolbox, trace, parsed.tool, parsed.arguments, thought=parsed.thought
            )
            messages.append(ChatMessage(role="user", content=f"Observation: {result_text}"))

        text = "".join(answer)
        doc_references = sources.doc_references() if config.knowledge.show_sources else None
        finished = Finished(
            text=text,
            finish_reason="stop",
            session_id=plan.session_id,
            thoughts=trace.thoughts,
            doc_references=doc_references,
            usage=trace.usage_out(),
        )
        # Saved before the last event, so a client that asks again at once sees it.
        services.remember_exchange(plan.app, plan.session_id, plan.prompt, text, config)
        outcome["status"] = RunStatus.SUCCEEDED
        _record(plan, trace, outcome, text, started, started_at, first_token_ms)
        yield finished
    except GeneratorExit:
        outcome["status"] = RunStatus.CANCELLED
        raise
    except ApiError as exc:
        outcome["code"], outcome["message"] = exc.code, exc.message
        raise
    except UpstreamError as exc:
        # The run's trace is the tenant's to read: the caller's message, never the host.
        outcome["code"] = type(exc).__name__
        outcome["message"] = exc.caller_message(plan.request_id)
        raise
    except Exception as exc:
        outcome["code"], outcome["message"] = "InternalError", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if outcome["status"] != RunStatus.SUCCEEDED:
            _record(plan, trace, outcome, "".join(answer), started, started_at, first_token_ms)


def _use_tool(
    toolbox: Toolbox, trace: _Trace, name: str, arguments_text: str, *, thought: str
) -> Iterator[Event]:
    """Call one tool, trace it, yield its thought; returns the observation text."""
    arguments, invocation = toolbox.call(name, arguments_text)
    result = invocation.result
    seen = observation(result)
    trace.step(
        StepKind.TOOL,
        name,
        input={"arguments": arguments or arguments_text},
        output={"content": result.content, "is_error": result.is_error},
        latency_ms=invocation.duration_ms,
        error=result.content if result.is_error else "",
    )
    data = {
        "thought": thought,
        "action_type": "api",
        "action_name": name,
        "action": name,
        "action_input_stream": arguments_text,
        "action_input": arguments,
        "observation": seen,
        "response": "",
    }
    trace.thoughts.append(data)
    yield Thought(data)
    return seen, data


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


def _native_tool_calling(config: AppConfigSchema, route: routing.Route) -> bool:
    declared = EndpointCapability.TOOL_CALLS in route.endpoint.capabilities
    if config.tool_calling == "native" and not declared:
        raise InvalidParameter(
            f"The app asks for native tool calling, but model '{config.model}' does not "
            "declare tool_calls; set tool_calling to auto or react."
        )
    return config.tool_calling == "native" or (config.tool_calling == "auto" and declared)


def _model_stream(route: routing.Route, request: ChatRequest) -> Iterator[ChatChunk]:
    """The model's answer as a stream (one chunk for providers that cannot stream)."""
    if Capability.CHAT_STREAM in type(route.provider).capabilities:
        return routing.chat_stream(route, request)
    answer = routing.chat(route, request)
    return iter(
        [
            ChatChunk(
                content=answer.message.content or "",
                tool_calls=answer.message.tool_calls,
                finish_reason=answer.finish_reason,
                usage=answer.usage,
            )
        ]
    )


def _counted(request: ChatRequest, reply: str, route: routing.Route) -> Usage:
    """Usage counted locally, for upstreams that report none."""
    return estimated_usage(messages_text(request.messages), reply, route.endpoint.upstream_model)


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _ms(since: float) -> int:
    return round((time.monotonic() - since) * 1000)


def _record(
    plan: RunPlan,
    trace: _Trace,
    outcome: dict[str, str],
    answer: str,
    started: float,
    started_at: Any,
    first_token_ms: int | None,
) -> None:
    services.record_run(
        workspace=plan.workspace,
        app=plan.app,
        version=plan.version,
        session_id=plan.session_id,
        surface=plan.surface,
        api_key=plan.api_key,
        user=plan.user,
        status=outcome["status"],
        prompt=plan.prompt,
        answer=answer,
        error_code=outcome["code"],
        error_message=outcome["message"],
        usage=trace.usage,
        latency_ms=_ms(started),
        first_token_ms=first_token_ms,
        request_id=plan.request_id,
        started_at=started_at,
        steps=trace.steps,
    )


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
