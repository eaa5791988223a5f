"""A workflow app's run as the DashScope app API answers it, in Bailian's three
``flow_stream_mode``s (``parameters.flow_stream_mode``; the SDK passes any extra keyword of
``Application.call`` there):

- ``full_thoughts`` (the default): the answer's text in ``output.text`` and, with
  ``has_thoughts``, each node's progress as an ``output.thoughts`` item (``action_type``
  "workflow_node", ``action`` the node type, ``action_name`` its title, ``action_input`` what
  it read, ``observation`` its outputs as JSON, ``response`` its status); the thoughts of
  retrievals and tool calls inside nodes too.
- ``agent_format``: only the answer, as an agent app streams it (``app_api``'s frames).
- ``message_format``: each frame carries ``output.workflow_message`` (``node_id``,
  ``node_name``, ``node_type``, ``node_status`` "executing" / "success" / "failed" /
  "waiting", ``node_is_completed`` "true" / "false", ``node_msg_seq_id``, ``message``
  ``{"role": "assistant", "content"}``): a frame when a node starts, one per piece of text it
  answers, one when it ends.

A run that pauses at a human-input node ends with the question as ``output.text``,
``finish_reason`` "stop" and its ``session_id``: the next call with that ``session_id``
answers the question with its prompt, and the run goes on.
"""

import itertools
import json
from collections.abc import Iterator
from typing import Any, Literal

from apps.applications.events import Event, Finished, NodeFinished, NodeStarted, TextDelta, Thought
from apps.gateway.wire.dashscope import error_frame, sse_frame
from kernel.errors import ApiError, failure_of
from plugins.base import UpstreamError

FlowStreamMode = Literal["full_thoughts", "agent_format", "message_format"]
NODE_STATUS = {"succeeded": "success", "failed": "failed", "waiting": "waiting"}


def node_thought(finished: NodeFinished, inputs: dict[str, Any]) -> dict[str, Any]:
    """One node's progress as a DashScope ``thoughts`` item."""
    status = NODE_STATUS.get(finished.status, finished.status)
    return {
        "thought": f"{finished.title}: {status}"
        + (f" ({finished.error})" if finished.error else ""),
        "action_type": "workflow_node",
        "action_name": finished.title,
        "action": finished.node_type,
        "action_input": inputs,
        "observation": json.dumps(finished.outputs, ensure_ascii=False, default=str),
        "response": status,
    }


class Progress:
    """What the frames need to remember across a run's events: each node's inputs and
    message count, and the node whose text is streaming."""

    def __init__(self) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}
        self.sequence: dict[str, int] = {}
        self.current: NodeStarted | None = None
        self.thoughts: list[dict[str, Any]] = []

    def started(self, event: NodeStarted) -> None:
        self.inputs[event.node_id] = event.inputs
        self.current = event

    def finished(self, event: NodeFinished) -> dict[str, Any]:
        thought = node_thought(event, self.inputs.get(event.node_id, {}))
        self.thoughts.append(thought)
        if self.current is not None and self.current.node_id == event.node_id:
            self.current = None
        return thought

    def message(
        self,
        node_id: str,
        title: str,
        node_type: str,
        status: str,
        completed: bool,
        content: str,
    ) -> dict[str, Any]:
        number = self.sequence.get(node_id, 0)
        self.sequence[node_id] = number + 1
        return {
            "node_id": node_id,
            "node_name": title,
            "node_type": node_type,
            "node_status": status,
            "node_is_completed": "true" if completed else "false",
            "node_msg_seq_id": number,
            "message": {"role": "assistant", "content": content},
        }


def collect(events: Iterator[Event]) -> tuple[Finished, list[dict[str, Any]]]:
    """Consume a run nobody streams: its result and its nodes' thoughts."""
    progress = Progress()
    finished = None
    for event in events:
        if isinstance(event, NodeStarted):
            progress.started(event)
        elif isinstance(event, NodeFinished):
            progress.finished(event)
        elif isinstance(event, Finished):
            finished = event
    assert finished is not None, "a run that ends without raising ends with Finished"
    return finished, progress.thoughts


def final_output(
    finished: Finished, *, text: str, has_thoughts: bool, node_thoughts: list[dict[str, Any]]
) -> dict[str, Any]:
    output: dict[str, Any] = {
        "text": text,
        "finish_reason": finished.finish_reason,
        "session_id": finished.session_id,
    }
    if has_thoughts:
        output["thoughts"] = [*node_thoughts, *finished.thoughts]
    if finished.doc_references is not None:
        output["doc_references"] = finished.doc_references
    return output


def workflow_frames(
    events: Iterator[Event],
    *,
    session_id: str,
    incremental: bool,
    has_thoughts: bool,
    mode: FlowStreamMode,
    request_id: str,
) -> Iterator[str]:
    """A workflow run as DashScope app frames in ``full_thoughts`` or ``message_format``
    mode (``agent_format`` is an agent app's frames); the last frame has ``finish_reason``
    "stop" and the usage; a failure half-way is an ``event:error`` frame."""
    frames = Frames(
        session_id=session_id,
        incremental=incremental,
        has_thoughts=has_thoughts,
        mode=mode,
        request_id=request_id,
    )
    try:
        for event in events:
            frame = frames.of(event)
            if frame is not None:
                yield frame
    except (ApiError, UpstreamError) as exc:
        yield frames.error(exc)


class Frames:
    """A run's frames, one event at a time (at most one frame an event), numbered in order."""

    def __init__(
        self,
        *,
        session_id: str,
        incremental: bool,
        has_thoughts: bool,
        mode: FlowStreamMode,
        request_id: str,
    ) -> None:
        self.session_id = session_id
        self.incremental = incremental
        self.has_thoughts = has_thoughts
        self.messages = mode == "message_format"
        self.request_id = request_id
        self.numbers = itertools.count(1)
        self.progress = Progress()
        self.so_far = ""

    def of(self, event: Event) -> str | None:
        """The frame ``event`` makes, if any."""
        if isinstance(event, NodeStarted):
            return self.node_started(event)
        if isinstance(event, NodeFinished):
            return self.node_finished(event)
        if isinstance(event, TextDelta):
            return self.text_delta(event)
        if isinstance(event, Thought):
            return self.thought(event)
        if isinstance(event, Finished):
            return self.finished(event)
        return None

    def frame(self, output: dict[str, Any], usage: list | None = None) -> str:
        data = {"output": output, "usage": {"models": usage or []}, "request_id": self.request_id}
        return sse_frame(next(self.numbers), data)

    def partial(self, **more: Any) -> dict[str, Any]:
        return {
            "text": "" if self.incremental else self.so_far,
            "finish_reason": "null",
            "session_id": self.session_id,
            **more,
        }

    def node_started(self, event: NodeStarted) -> str | None:
        self.progress.started(event)
        if not self.messages:
            return None
        message = self.progress.message(
            event.node_id, event.title, event.node_type, "executing", False, ""
        )
        return self.frame(self.partial(workflow_message=message))

    def node_finished(self, event: NodeFinished) -> str | None:
        thought = self.progress.finished(event)
        if self.messages:
            status = NODE_STATUS.get(event.status, event.status)
            message = self.progress.message(
                event.node_id, event.title, event.node_type, status, True, ""
            )
            return self.frame(self.partial(workflow_message=message))
        if self.has_thoughts:
            return self.frame(self.partial(thoughts=[thought]))
        return None

    def text_delta(self, event: TextDelta) -> str:
        self.so_far += event.text
        text = event.text if self.incremental else self.so_far
        output = {"text": text, "finish_reason": "null", "session_id": self.session_id}
        node = self.progress.current
        if self.messages and node is not None:
            output["workflow_message"] = self.progress.message(
                node.node_id, node.title, node.node_type, "executing", False, event.text
            )
        return self.frame(output)

    def thought(self, event: Thought) -> str | None:
        if self.has_thoughts and not self.messages:
            return self.frame(self.partial(thoughts=[event.data]))
        return None

    def finished(self, event: Finished) -> str:
        output = final_output(
            event,
            text="" if self.incremental else event.text,
            has_thoughts=self.has_thoughts and not self.messages,
            node_thoughts=[] if self.incremental else self.progress.thoughts,
        )
        if self.incremental and "thoughts" in output:
            output["thoughts"] = []
        return self.frame(output, event.usage)

    def error(self, exc: ApiError | UpstreamError) -> str:
        return error_frame(next(self.numbers), failure_of(exc, self.request_id), self.request_id)
