"""Answering one batch line through the gateway, exactly as a real-time call is answered.

The line's body is validated with the OpenAI format's own schemas (``apps.gateway.wire``),
routed, admitted against the workspace's quotas, sent upstream and metered (usage tagged
``surface="batch"`` with the batch's id).

One retry policy, by who refused the call:

- The platform's per-minute quota (``Throttling.RateQuota``) refused it before it left:
  the line waits out the quota's ``Retry-After`` (at most ``MAX_WAIT_SECONDS`` a time, at
  most ``MAX_TRIES`` tries in all) and is tried again. That is what keeps a batch within
  its workspace's rate; nothing was sent upstream, so nothing is sent twice.
- The upstream failed (timeout, connection, 5xx, its own 429): retrying that is the
  provider's, exactly as for a real-time call: each provider retries ``max_retries`` times,
  as the endpoint is configured, by one policy (the openai SDK's for the OpenAI-compatible
  provider, the plugin kit's ``plugins.retrying``, which copies it, for DashScope), honouring
  the upstream's ``Retry-After``. The batch does not retry on top of it, which would
  multiply the tries: the failure is the line's error, and the line can be sent again in a
  new batch.

Anything else that goes wrong becomes the line's error.
"""

import threading
import uuid
from dataclasses import dataclass

import pydantic
from django.db import connections

from apps.accounts.models import ApiKey, Workspace
from apps.batch.lines import BatchLine, LineOutcome, failed_line
from apps.gateway import routing
from apps.gateway.wire.openai import (
    ChatCompletionIn,
    EmbeddingsIn,
    answer_body,
    embedding_inputs,
    embeddings_body,
    to_chat_request,
)
from apps.model_endpoints.models import EndpointCapability
from apps.usage.quotas import QuotaExceeded
from kernel.errors import OPENAI_CODES, ApiError, upstream_failure
from plugins.base import UpstreamError

#: Tries of a line that the workspace's per-minute quota keeps refusing.
MAX_TRIES = 4
#: Longest single wait for a per-minute quota.
MAX_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class LineContext:
    """What every line of one batch shares."""

    batch_id: str
    workspace: Workspace
    api_key: ApiKey | None
    endpoint: str
    #: Set when the batch stops (cancelled, expired, lease lost): waits end at once.
    stopping: threading.Event


def answer(context: LineContext, line: BatchLine) -> LineOutcome | None:
    """The line's outcome, or None when the batch stopped before it could be answered
    (the line is then left undone, for a resumed batch or the expiry report)."""
    try:
        for _ in range(MAX_TRIES):
            request_id = f"batch_req_{uuid.uuid4().hex}"
            try:
                return _call(context, line, request_id)
            except QuotaExceeded as exc:
                if exc.code != "Throttling.RateQuota":
                    return _api_failure(line, exc)
                wait = float(exc.retry_after or 1)
            except UpstreamError as exc:  # already retried by the provider's client
                return _api_failure(line, upstream_failure(exc, request_id))
            if context.stopping.wait(min(wait, MAX_WAIT_SECONDS)):
                return None
        return failed_line(line, 429, "Gave up waiting for the quota.", code="rate_limit_exceeded")
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        return failed_line(line, 400, f"{param}: {first['msg']}", code="invalid_value", param=param)
    except ApiError as exc:
        return _api_failure(line, exc)
    finally:
        # Lines run on pool threads; a connection one opened must not outlive the batch.
        connections.close_all()


def _call(context: LineContext, line: BatchLine, request_id: str) -> LineOutcome:
    capability = (
        EndpointCapability.CHAT
        if context.endpoint == "/v1/chat/completions"
        else EndpointCapability.EMBEDDING
    )
    if capability == EndpointCapability.CHAT:
        payload = ChatCompletionIn.model_validate(line.body)
        if payload.stream:
            raise ApiError("stream: batch lines cannot be streamed.", param="stream")
    else:
        payload = EmbeddingsIn.model_validate(line.body)
    target = routing.route(
        context.workspace,
        payload.model,
        capability,
        surface="batch",
        api_key=context.api_key,
        batch_id=context.batch_id,
        request_id=request_id,
    )
    if capability == EndpointCapability.CHAT:
        body = answer_body(payload.model, routing.chat(target, to_chat_request(payload)))
    else:
        inputs = embedding_inputs(payload, target.endpoint.embedding_dimension)
        body = embeddings_body(payload, routing.embed(target, inputs))
    usage = body.get("usage") or {}
    return LineOutcome(
        line=line.line,
        custom_id=line.custom_id,
        status_code=200,
        body=body,
        input_tokens=usage.get("prompt_tokens", 0),
        output_tokens=usage.get("completion_tokens", 0),
        request_id=request_id,
    )


def _api_failure(line: BatchLine, exc: ApiError) -> LineOutcome:
    return failed_line(
        line, exc.status, exc.message, code=OPENAI_CODES.get(exc.code, exc.code), param=exc.param
    )
