"""Published apps on the OpenAI-compatible surface: ``model="app:<app_id>"``.

``POST /compatible-mode/v1/chat/completions`` with that model runs the app (its latest
published version) on the messages, so any OpenAI client can call an app. The app's own
tools and knowledge apply; the caller may not send tools. Sessions are the client's
business here, as in OpenAI: the messages are the conversation. A workflow app runs on
the last user message (``sys.query``); its start variables keep their defaults, and a run
that pauses at a human-input node answers with its question (resuming one takes the
DashScope app API's ``session_id``).

The assembly (``studio.urls``) gives ``APP_MODEL_PREFIX`` to ``chat_with_app`` on the
gateway's OpenAI surface (``answer_model_prefix``); the gateway does not import apps.
"""

from collections.abc import Iterator

from django.http import HttpRequest

from apps.applications.app_api import published_app
from apps.applications.delegation import run_agent, run_flow
from apps.applications.events import Event, Finished, TextDelta
from apps.applications.models import AppKind, RunSurface
from apps.applications.planning import Call, plan_published
from apps.applications.runtime import run_to_end
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.runner import plan_workflow
from apps.gateway.streaming import event_stream_response, started
from apps.gateway.wire.chat import text_of
from apps.gateway.wire.openai import (
    ChatCompletionIn,
    completion_body,
    completion_frames,
    include_usage,
    max_tokens_of,
    role_of,
)
from kernel.errors import InvalidParameter
from kernel.request_id import request_id_of
from plugins.base import ChatChunk, ChatMessage, Usage

APP_MODEL_PREFIX = "app:"


def _chunks(events: Iterator[Event]) -> Iterator[ChatChunk]:
    for event in events:
        if isinstance(event, TextDelta):
            yield ChatChunk(content=event.text)
        elif isinstance(event, Finished):
            usage = Usage(input_tokens=event.input_tokens, output_tokens=event.output_tokens)
            yield ChatChunk(finish_reason=event.finish_reason, usage=usage)


def chat_with_app(request: HttpRequest, payload: ChatCompletionIn):
    if payload.tools:
        raise InvalidParameter("tools: an app runs its own tools; configure them on the app.")
    published = published_app(request.auth, payload.model[len(APP_MODEL_PREFIX) :], request)
    app, version = published.app, published.version
    messages = [ChatMessage(role=role_of(m), content=text_of(m.content)) for m in payload.messages]
    if app.kind == AppKind.WORKFLOW:
        users = [m.content for m in messages if m.role == "user"]
        if not users:
            raise InvalidParameter("messages: a workflow app runs on the last user message.")
        events = run_flow(
            plan_workflow(
                app=app,
                version=version,
                definition=WorkflowDefinition.model_validate(version.config),
                prompt=users[-1],
                inputs={},
                session_id=None,
                surface=RunSurface.OPENAI,
                api_key=request.auth,
                request_id=request_id_of(request),
            )
        )
        return _answer(request, payload, events)
    plan = plan_published(
        published,
        call=Call(
            messages=messages,
            temperature=payload.temperature,
            top_p=payload.top_p,
            max_tokens=max_tokens_of(payload),
        ),
        surface=RunSurface.OPENAI,
        api_key=request.auth,
        request_id=request_id_of(request),
    )
    return _answer(request, payload, run_agent(plan))


def _answer(request: HttpRequest, payload: ChatCompletionIn, events: Iterator[Event]):
    if payload.stream:
        frames = completion_frames(
            _chunks(started(events)),
            model=payload.model,
            include_usage=include_usage(payload),
            request_id=request_id_of(request),
        )
        return event_stream_response(frames)
    finished = run_to_end(events)
    usage = Usage(input_tokens=finished.input_tokens, output_tokens=finished.output_tokens)
    return completion_body(payload.model, finished.text, finished.finish_reason, usage)
