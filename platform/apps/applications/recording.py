"""A run's record: its trace (steps, usage, thoughts) and its outcome, written once when
the run ends, whatever ends it: the answer, an error, or the client going away."""

import threading
import time
import uuid
from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from django.utils import timezone

from apps.applications import services
from apps.applications.events import TextDelta
from apps.applications.models import RunStatus, StepKind
from apps.applications.run_plan import RunPlan
from kernel.errors import ApiError
from plugins.base import UpstreamError, Usage

#: The workflow node whose work is being traced ("" outside workflows); a step records it.
current_node: ContextVar[str] = ContextVar("current_node", default="")


def ms_since(since: float) -> int:
    """Milliseconds from a ``time.monotonic()`` reading to now."""
    return round((time.monotonic() - since) * 1000)


@dataclass
class Trace:
    """The steps of a run, kept in memory and written with the run when it ends. Nodes of
    a workflow that run side by side write to it from their threads."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    thoughts: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def step(self, kind: StepKind, name: str, **fields: Any) -> dict[str, Any]:
        """Add a step; the step itself, for a caller that fills it in when it ends."""
        step = {"kind": kind, "name": name, "node_id": current_node.get(), **fields}
        with self._lock:
            self.steps.append(step)
        return step

    def count(self, model: str, usage: Usage) -> None:
        with self._lock:
            self.usage[model][0] += usage.input_tokens
            self.usage[model][1] += usage.output_tokens

    def usage_out(self) -> list[dict[str, Any]]:
        return [
            {"model_id": model, "input_tokens": tokens[0], "output_tokens": tokens[1]}
            for model, tokens in self.usage.items()
        ]


class RunRecorder:
    """Keeps a run's trace, its answer so far and its outcome; as a context manager around
    the run, it records a run that did not succeed (the exception says how it ended)."""

    def __init__(self, plan: RunPlan) -> None:
        self.plan = plan
        #: Known before the run is written, so sub-runs can name it as their parent.
        self.run_id = uuid.uuid4()
        self.trace = Trace()
        self.started = time.monotonic()
        self.started_at = timezone.now()
        self.first_token_ms: int | None = None
        self.status = RunStatus.FAILED
        self.code = ""
        self.message = ""
        self._answer: list[str] = []

    @property
    def answer(self) -> str:
        return "".join(self._answer)

    def answered(self, text: str) -> TextDelta:
        """A piece of the answer, noted as it goes out to the caller."""
        if self.first_token_ms is None:
            self.first_token_ms = ms_since(self.started)
        self._answer.append(text)
        return TextDelta(text)

    def succeeded(self) -> None:
        self.status = RunStatus.SUCCEEDED
        self._write()

    def waiting(self) -> None:
        """The run paused at a human-input node; the next call resumes it."""
        self.status = RunStatus.WAITING
        self._write()

    def __enter__(self) -> "RunRecorder":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.status in (RunStatus.SUCCEEDED, RunStatus.WAITING):
            return  # recorded; a caller that leaves before the last event does not undo it
        if exc is not None:
            self._ended_by(exc)
        self._write()

    def _ended_by(self, exc: BaseException) -> None:
        if isinstance(exc, GeneratorExit):
            self.status = RunStatus.CANCELLED
        elif isinstance(exc, ApiError):
            self.code, self.message = exc.code, exc.message
        elif isinstance(exc, UpstreamError):
            # The run's trace is the tenant's to read: the caller's message, never the host.
            self.code = type(exc).__name__
            self.message = exc.caller_message(self.plan.request_id)
        elif isinstance(exc, Exception):
            self.code, self.message = "InternalError", f"{type(exc).__name__}: {exc}"

    def _write(self) -> None:
        plan = self.plan
        services.record_run(
            run_id=self.run_id,
            parent_run_id=plan.parent_run_id,
            workspace=plan.workspace,
            app=plan.app,
            version=plan.version,
            session_id=plan.session_id,
            surface=plan.surface,
            api_key=plan.api_key,
            user=plan.user,
            status=self.status,
            prompt=plan.prompt,
            answer=self.answer,
            error_code=self.code,
            error_message=self.message,
            usage=self.trace.usage,
            latency_ms=ms_since(self.started),
            first_token_ms=self.first_token_ms,
            request_id=plan.request_id,
            started_at=self.started_at,
            steps=self.trace.steps,
        )
