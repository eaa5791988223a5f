"""Agent: an agent's whole loop (retrieval, model turns, tools) as one node, either a
published agent app of the workspace (``app_id``: its latest version) or one written
inline (``agent``: an agent app's configuration).

It runs ``runtime.agent_events`` inside the node, not a nested graph, so the agent's model
calls, retrievals and tool calls are steps of this run's trace under this node. Its text
does not stream to the caller: the answer is the node's ``text`` output, for an answer or
end node to show; its tool calls go out as thoughts. The run's delegate, when it has one,
lets the agent call apps as tools.
"""

import contextlib
import dataclasses
import uuid
from typing import Any

from pydantic import Field, model_validator

from apps.applications import selectors
from apps.applications.config import AppConfigSchema
from apps.applications.events import TextDelta, Thought
from apps.applications.models import AgentApp, AppKind, AppVersion
from apps.applications.planning import Call, plan_run
from apps.applications.runtime import Sources, agent_events
from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    Uses,
    template_reads,
)
from plugins.base import Usage


class AgentSettings(NodeSettings):
    app_id: uuid.UUID | None = Field(None, description="A published agent app of the workspace.")
    agent: AppConfigSchema | None = Field(None, description="An agent written here instead.")
    prompt: str = Field("{{ sys.query }}", min_length=1, max_length=50_000)

    @model_validator(mode="after")
    def _one_agent(self) -> "AgentSettings":
        if (self.app_id is None) == (self.agent is None):
            raise ValueError("give either app_id (a published agent app) or agent, not both")
        return self


class _NodeTrace:
    """The run's trace as the agent writes to it, counting the node's tokens on the way."""

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._trace = ctx.run.trace
        self.thoughts = self._trace.thoughts

    def step(self, *args: Any, **fields: Any) -> dict[str, Any]:
        return self._trace.step(*args, **fields)

    def count(self, model: str, usage: Usage) -> None:
        self._trace.count(model, usage)
        self._ctx.input_tokens += usage.input_tokens
        self._ctx.output_tokens += usage.output_tokens


class _KeptAnswer:
    """The agent's answer, kept for the node's output instead of streamed to the caller."""

    def __init__(self, ctx: NodeContext) -> None:
        self.trace = _NodeTrace(ctx)
        self.run_id = ctx.run.run_id
        self.parts: list[str] = []

    def answered(self, text: str) -> TextDelta:
        self.parts.append(text)
        return TextDelta(text)


class Agent(Node):
    type = "agent"
    Settings = AgentSettings

    def outputs(self, settings: AgentSettings) -> dict[str, Any]:
        return {"text": "string"}

    def reads(self, settings: AgentSettings) -> list[Read]:
        return template_reads(settings.prompt, "prompt")

    def uses(self, settings: AgentSettings) -> Uses:
        if settings.agent is None:
            return Uses(app_ids=[str(settings.app_id)], agent_app_ids=[str(settings.app_id)])
        agent = settings.agent
        return Uses(
            models=[agent.model],
            knowledge_base_ids=[str(kb) for kb in agent.knowledge.knowledge_base_ids],
            tools=[{"type": t.type, "id": t.id} for t in agent.tools if t.type != "app"],
            app_ids=[t.id for t in agent.tools if t.type == "app"],
        )

    def run(self, ctx: NodeContext, settings: AgentSettings) -> NodeResult:
        prompt = ctx.render(settings.prompt).strip()
        if not prompt:
            raise ctx.failed("the prompt is empty here; the agent needs something to do.")
        version, config = self._agent(ctx, settings)
        run = ctx.run
        plan = plan_run(
            # The workflow's run: its app is metered and traced, whichever agent works.
            app=run.app,
            version=version,
            config=config,
            call=Call(prompt=prompt),
            surface=run.surface,
            api_key=run.api_key,
            user=run.user,
            request_id=run.request_id,
        )
        plan = dataclasses.replace(plan, session_id=run.session_id, callers=run.callers[:-1])
        answer = _KeptAnswer(ctx)
        events = agent_events(plan, Sources(), answer, run.delegate, ctx.check)
        with contextlib.closing(events):
            for event in events:
                ctx.check()  # closes the model's stream when the caller has gone
                if isinstance(event, Thought):
                    ctx.emit(event)
        return NodeResult({"text": "".join(answer.parts)})

    def _agent(
        self, ctx: NodeContext, settings: AgentSettings
    ) -> tuple[AppVersion | None, AppConfigSchema]:
        """The version and configuration the node runs (an inline agent has no version)."""
        if settings.agent is not None:
            if not settings.agent.model:
                raise ctx.failed("the agent has no model; choose a chat model.")
            return None, settings.agent
        app = (
            AgentApp.objects.in_workspace(ctx.run.workspace)
            .filter(pk=settings.app_id, kind=AppKind.AGENT)
            .first()
        )
        if app is None:
            raise ctx.failed(f"there is no agent app {settings.app_id} in this workspace.")
        version = selectors.latest_version(app)
        if version is None:
            raise ctx.failed(f"the agent app '{app.name}' is not published; publish it first.")
        return version, AppConfigSchema.model_validate(version.config)
