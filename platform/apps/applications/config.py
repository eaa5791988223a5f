"""An agent app's configuration: the draft a builder edits and each published snapshot.

Stored as JSON on ``AgentApp.draft`` and ``AppVersion.config``; this model is its one
definition, used to validate what the console sends and to read what is stored.
"""

import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Variable(BaseModel):
    """A ``{{name}}`` in the system prompt, filled by ``biz_params.user_prompt_params``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    description: str = Field("", max_length=500)
    default: str | None = Field(None, max_length=10_000)
    required: bool = False


class KnowledgeSettings(BaseModel):
    """Which knowledge bases the app searches, how, and whether answers show sources."""

    model_config = ConfigDict(extra="forbid")

    knowledge_base_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    show_sources: bool = Field(
        True, description="Answers cite <ref>[n]</ref> and return doc_references."
    )
    auto_retrieve: bool = Field(True, description="Search before the first model call.")
    as_tool: bool = Field(False, description="Also offer the knowledge_search tool.")
    mode: Literal["vector", "fulltext", "hybrid"] | None = Field(
        None, description="Overrides the knowledge bases' own retrieval mode."
    )
    top_k: int = Field(5, ge=1, le=20)
    score_threshold: float | None = Field(None, ge=0, le=1)
    rerank: bool | None = None


class ToolReference(BaseModel):
    """A tool the app may call: an installed tool plugin, a workspace's HTTP tool, a tool
    of one of its MCP servers, or another published app of the workspace (agent
    orchestration: ``delegation``)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["plugin", "http", "mcp", "app"]
    id: str = Field(
        min_length=1,
        max_length=100,
        description="A plugin id, an HTTP tool id, an MCP tool id or an app id.",
    )

    @model_validator(mode="after")
    def _uuid_ids(self) -> "ToolReference":
        if self.type in ("app", "mcp"):
            try:
                self.id = str(uuid.UUID(self.id))
            except ValueError:
                kind = (
                    "an app tool's id is the app's id"
                    if self.type == "app"
                    else ("an MCP tool's id is the tool's id")
                )
                raise ValueError(f"{kind} (a UUID), not {self.id!r}") from None
        return self


class ModelParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, gt=0, le=32_768)


class AppConfigSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field("", max_length=100, description="A chat model endpoint's name.")
    system_prompt: str = Field("You are a helpful assistant.", max_length=20_000)
    variables: list[Variable] = Field(default_factory=list, max_length=50)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    tools: list[ToolReference] = Field(default_factory=list, max_length=30)
    parameters: ModelParameters = Field(default_factory=ModelParameters)
    memory_rounds: int = Field(
        10, ge=0, le=50, description="Earlier exchanges of a session the model sees."
    )
    max_iterations: int = Field(
        5, ge=1, le=20, description="Model calls a run may make before it must answer."
    )
    tool_calling: Literal["auto", "native", "react"] = Field(
        "auto",
        description="auto: native function calling when the model declares tool_calls, "
        "else a ReAct prompt.",
    )

    @field_validator("tools")
    @classmethod
    def _distinct_tools(cls, tools: list[ToolReference]) -> list[ToolReference]:
        seen = set()
        for tool in tools:
            if (tool.type, tool.id) in seen:
                raise ValueError(f"tool {tool.type}:{tool.id} is listed twice")
            seen.add((tool.type, tool.id))
        return tools

    @model_validator(mode="after")
    def _distinct_variables(self) -> "AppConfigSchema":
        names = [v.name for v in self.variables]
        if len(names) != len(set(names)):
            raise ValueError("variables: each name once")
        return self

    def undeclared_variables(self) -> list[str]:
        """``{{names}}`` the system prompt uses that ``variables`` does not declare."""
        declared = {v.name for v in self.variables}
        used = dict.fromkeys(VARIABLE.findall(self.system_prompt))
        return [name for name in used if name not in declared]


def changes(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Where two stored configurations differ, field by field (lists compared whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            found += changes(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return found
    return [] if before == after else [{"path": path, "before": before, "after": after}]
