"""The DashScope-compatible app API: ``POST /api/v1/apps/{app_id}/completion``.

What ``dashscope.Application.call(app_id=..., api_key=..., prompt=..., session_id=...)``
sends and reads, as Bailian answers it: ``output.text``, ``output.session_id``,
``output.thoughts`` (with ``has_thoughts``), ``output.doc_references`` (when the app shows
sources), ``usage.models``; SSE frames when ``X-DashScope-SSE: enable``. It runs the app's
latest published version, as the key's workspace.

A workflow app (``kind`` "workflow") takes ``input.prompt`` as ``sys.query``,
``input.biz_params`` as its start node's variables and ``input.session_id`` to answer a
run paused at a human-input node; it streams in ``parameters.flow_stream_mode``
(``workflow_frames``).
"""

import itertools
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from apps.accounts.models import ApiKey
from apps.applications import selectors
from apps.applications.delegation import run_agent, run_flow
from apps.applications.events import Event, Finished, TextDelta, Thought
from apps.applications.models import AgentApp, AppKind, AppVersion, RunSurface
from apps.applications.planning import Call, RagOptions, plan_published
from apps.applications.runtime import run_to_end
from apps.applications.selectors import PublishedApp
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.runner import plan_workflow
from apps.applications.workflow_frames import (
    FlowStreamMode,
    collect,
    final_output,
    workflow_frames,
)
from apps.gateway.streaming import event_stream_response, started
from apps.gateway.wire.chat import text_of
from apps.gateway.wire.dashscope import MessageIn, error_frame, sse_frame
from kernel.errors import AccessDenied, ApiError, NotFound, failure_of
from kernel.openapi import GATEWAY_ERRORS, UUIDText, also_answers
from kernel.request_id import request_id_of
from plugins.base import ChatMessage, UpstreamError

router = Router(tags=["apps"])


class FlowNotPublished(ApiError):
    status = 400
    code = "FlowNotPublished"


class CompletionInput(Schema):
    prompt: str | None = None
    session_id: str | None = Field(None, max_length=64)
    messages: list[MessageIn] | None = None
    biz_params: dict[str, Any] | None = None
    doc_tag_codes: list[str] | None = None


class RagOptionsIn(Schema):
    pipeline_ids: list[str] = Field(default_factory=list, max_length=20)
    file_ids: list[str] = Field(default_factory=list, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=20)
    metadata_filter: dict[str, Any] = Field(default_factory=dict)


class CompletionParameters(Schema):
    incremental_output: bool = False
    has_thoughts: bool = False
    rag_options: RagOptionsIn | None = None
    temperature: float | None = Field(None, ge=0, lt=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, gt=0)
    flow_stream_mode: FlowStreamMode = Field(
        "full_thoughts", description="How a workflow app streams (see workflow_frames)."
    )


class CompletionIn(Schema):
    model: str = ""
    input: CompletionInput
    parameters: CompletionParameters = Field(default_factory=CompletionParameters)


def published_app(api_key: ApiKey, app_id: str, request: HttpRequest) -> PublishedApp:
    """The key's workspace's app and its latest version, or the DashScope error."""
    named = request.headers.get("X-DashScope-WorkSpace", "").strip()
    if named and named != api_key.workspace.slug:
        raise AccessDenied(
            "This API key cannot act in the workspace named by X-DashScope-WorkSpace."
        )
    try:
        found = selectors.published_app(api_key.workspace, app_id)
    except NotFound:
        raise NotFound(f"App '{app_id}' does not exist in this workspace.") from None
    if found.version is None:
        raise FlowNotPublished(f"App '{app_id}' has not been published yet; publish it first.")
    return found


def _call_of(payload: CompletionIn) -> Call:
    given = payload.input
    rag = payload.parameters.rag_options or RagOptionsIn()
    messages = None
    if given.messages:
        messages = [ChatMessage(role=m.role, content=text_of(m.content)) for m in given.messages]
    variables = (given.biz_params or {}).get("user_prompt_params") or {}
    return Call(
        prompt=given.prompt,
        messages=messages,
        session_id=given.session_id,
        variables=variables if isinstance(variables, dict) else {},
        rag=RagOptions(
            knowledge_base_ids=rag.pipeline_ids,
            document_ids=rag.file_ids,
            tags=[*rag.tags, *(given.doc_tag_codes or [])],
            metadata=rag.metadata_filter,
        ),
        temperature=payload.parameters.temperature,
        top_p=payload.parameters.top_p,
        max_tokens=payload.parameters.max_tokens,
    )


def _output(
    finished: Finished, *, text: str, has_thoughts: bool, thoughts: list[dict] | None = None
) -> dict[str, Any]:
    output: dict[str, Any] = {
        "text": text,
        "finish_reason": finished.finish_reason,
        "session_id": finished.session_id,
    }
    if has_thoughts:
        output["thoughts"] = finished.thoughts if thoughts is None else thoughts
    if finished.doc_references is not None:
        output["doc_references"] = finished.doc_references
    return output


def completion_frames(
    events: Iterator[Event],
    *,
    session_id: str,
    incremental: bool,
    has_thoughts: bool,
    request_id: str,
) -> Iterator[str]:
    """A run as DashScope app frames: text as it comes (new text with
    ``incremental_output``, else all so far), thoughts when asked, and a last frame with
    ``finish_reason`` "stop", the sources and the usage. A failure half-way is an
    ``event:error`` frame in the error shape."""
    numbers = itertools.count(1)
    so_far = ""

    def frame(output: dict[str, Any], usage: list | None = None) -> str:
        data = {"output": output, "usage": {"models": usage or []}, "request_id": request_id}
        return sse_frame(next(numbers), data)

    try:
        for event in events:
            if isinstance(event, TextDelta):
                so_far += event.text
                text = event.text if incremental else so_far
                yield frame({"text": text, "finish_reason": "null", "session_id": session_id})
            elif isinstance(event, Thought):
                if has_thoughts:
                    output = {
                        "text": "" if incremental else so_far,
                        "finish_reason": "null",
                        "session_id": session_id,
                        "thoughts": [event.data],
                    }
                    yield frame(output)
            elif isinstance(event, Finished):
                output = _output(
                    event,
                    text="" if incremental else event.text,
                    has_thoughts=has_thoughts,
                    thoughts=[] if incremental else None,
                )
                yield frame(output, event.usage)
    except (ApiError, UpstreamError) as exc:
        yield error_frame(next(numbers), failure_of(exc, request_id), request_id)


@router.post(
    "/apps/{app_id}/completion",
    openapi_extra=also_answers(*GATEWAY_ERRORS, event_stream=True),
)
def completion(request: HttpRequest, app_id: UUIDText, payload: CompletionIn):
    """Call a published app (``dashscope.Application.call``)."""
    api_key: ApiKey = request.auth
    published = published_app(api_key, app_id, request)
    request_id = request_id_of(request)
    if published.app.kind == AppKind.WORKFLOW:
        return _workflow_completion(request, published.app, published.version, payload)
    plan = plan_published(
        published,
        call=_call_of(payload),
        surface=RunSurface.DASHSCOPE,
        api_key=api_key,
        request_id=request_id,
    )
    events = run_agent(plan)
    parameters = payload.parameters
    if request.headers.get("X-DashScope-SSE", "").lower() == "enable":
        frames = completion_frames(
            started(events),
            session_id=plan.session_id,
            incremental=parameters.incremental_output,
            has_thoughts=parameters.has_thoughts,
            request_id=request_id,
        )
        return event_stream_response(frames)
    finished = run_to_end(events)
    return {
        "output": _output(finished, text=finished.text, has_thoughts=parameters.has_thoughts),
        "usage": {"models": finished.usage},
        "request_id": request_id,
    }


def prompt_of(given: CompletionInput) -> str | None:
    """The prompt, or else the last user message."""
    if given.prompt:
        return given.prompt
    users = [m for m in given.messages or [] if m.role == "user"]
    return text_of(users[-1].content) if users else given.prompt


def _workflow_completion(
    request: HttpRequest, app: AgentApp, version: AppVersion | None, payload: CompletionIn
):
    """A workflow app's call: see the module's docstring and ``workflow_frames``."""
    request_id = request_id_of(request)
    given = payload.input
    plan = plan_workflow(
        app=app,
        version=version,
        definition=WorkflowDefinition.model_validate(version.config),
        prompt=prompt_of(given),
        inputs=given.biz_params or {},
        session_id=given.session_id,
        surface=RunSurface.DASHSCOPE,
        api_key=request.auth,
        request_id=request_id,
    )
    events = run_flow(plan)
    parameters = payload.parameters
    mode = parameters.flow_stream_mode
    if request.headers.get("X-DashScope-SSE", "").lower() == "enable":
        options = {
            "session_id": plan.session_id,
            "incremental": parameters.incremental_output,
            "has_thoughts": parameters.has_thoughts,
            "request_id": request_id,
        }
        if mode == "agent_format":
            frames = completion_frames(started(events), **options)
        else:
            frames = workflow_frames(started(events), mode=mode, **options)
        return event_stream_response(frames)
    finished, node_thoughts = collect(events)
    output = final_output(
        finished,
        text=finished.text,
        has_thoughts=parameters.has_thoughts,
        node_thoughts=node_thoughts if mode == "full_thoughts" else [],
    )
    return {"output": output, "usage": {"models": finished.usage}, "request_id": request_id}
