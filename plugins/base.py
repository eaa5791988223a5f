"""The ministudio plugin contract, version 1.

This module is the whole public API between the platform and its plugins. It imports
nothing from Django or the platform, so a plugin can be written and tested on its own:

    from plugins.base import Tool, ToolContext, ToolResult

A plugin is a class registered under one of three entry-point groups in its distribution's
``pyproject.toml``; the entry-point name is the plugin's id:

    [project.entry-points."ministudio.tools"]
    unit_converter = "my_package.tools:UnitConverter"

Groups and base classes: ``ministudio.loaders`` → ``Loader``, ``ministudio.tools`` →
``Tool``, ``ministudio.models`` → ``ModelProvider``. Each plugin declares which versions of
this contract it supports (``supported_contract``, a PEP 440 specifier such as
``">=1.0,<2"``); a plugin whose range excludes ``CONTRACT_VERSION`` is reported as
incompatible and not used. Per-workspace configuration is a pydantic model (``Settings``);
fields typed ``SecretStr`` are secrets: encrypted at rest, never shown again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from enum import StrEnum
from types import NoneType
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from plugins.threaded_iteration import iterate_in_thread

CONTRACT_VERSION = "1.4"

__all__ = [
    "CONTRACT_VERSION",
    "Capability",
    "ChatChunk",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "ContractViolation",
    "Element",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "Loader",
    "LoaderInput",
    "ModelProvider",
    "Parser",
    "Passage",
    "Plugin",
    "PluginSettings",
    "ReadyModel",
    "RerankRequest",
    "RerankResponse",
    "RerankResult",
    "SecretStr",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolResult",
    "ToolSpec",
    "UnsupportedCapability",
    "UpstreamAuthenticationError",
    "UpstreamBadRequestError",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamRateLimitError",
    "UpstreamServerError",
    "UpstreamTimeoutError",
    "Usage",
    "secret_fields",
]


class ContractViolation(Exception):
    """A plugin class does not satisfy the contract (raised by ``check_contract``)."""


class UnsupportedCapability(Exception):
    """A model provider was asked for a capability it does not declare."""

    def __init__(self, provider: str, capability: str) -> None:
        super().__init__(f"Model provider '{provider}' does not support {capability}.")
        self.provider = provider
        self.capability = capability


# --- upstream errors: what a model provider raises when its server fails -----------------------
# The gateway turns each kind into the caller's error shape (OpenAI's or DashScope's) with the
# status and code the kind declares, so providers raise these instead of their SDK's
# exceptions. Messages must never contain credentials; they name the upstream host for the
# operator's log, and never reach a tenant (``caller_message`` does).


class UpstreamError(Exception):
    """A model server failed to answer. ``status`` is the upstream HTTP status, if any;
    ``code`` the upstream error code; ``retry_after`` seconds to wait, when it said;
    ``upstream`` the host it was. ``retryable`` says whether trying again may help.

    The class attributes say how the platform answers its own caller for this kind, on
    every surface, streaming or not: ``caller_status``, ``caller_code`` (DashScope's
    vocabulary; the OpenAI surface translates it) and ``caller_summary``, a sentence that
    names no host and quotes no upstream body."""

    retryable: ClassVar[bool] = False
    caller_status: ClassVar[int] = 502
    caller_code: ClassVar[str] = "InternalError.Upstream"
    caller_summary: ClassVar[str] = "The model server failed to answer"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        upstream: str | None = None,
        caller_detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.upstream = upstream
        #: What the caller may read about the cause, where the provider knows it names no
        #: host and holds no credentials (its own check, an upstream's reason for a 400).
        self.caller_detail = caller_detail

    def caller_message(self, request_id: str) -> str:
        """What the caller is told: what failed, the upstream's status and error code where
        it gave them (or the provider's ``caller_detail``), the retry hint, and the request
        id under which the log holds the rest."""
        said = [f"HTTP {self.status}"] if self.status else []
        if self.code:
            said.append(str(self.code)[:64])
        detail = f" ({', '.join(said)})" if said else ""
        if self.caller_detail:
            detail = f": {self.caller_detail.rstrip('.')}"
        wait = f"; retry after {self.retry_after_seconds()} s" if self.retry_after else ""
        return f"{self.caller_summary}{detail}{wait}. Request id: {request_id}."

    def caller_error_code(self) -> str:
        """The error code the caller gets (``caller_code``, unless the kind says otherwise)."""
        return self.caller_code

    def retry_after_seconds(self) -> int | None:
        """Whole seconds for a ``Retry-After`` header, when the upstream said how long."""
        return max(1, round(self.retry_after)) if self.retry_after else None


class UpstreamAuthenticationError(UpstreamError):
    """The server refused the credentials (401) or the access (403)."""

    caller_code = "InternalError.UpstreamAuthentication"
    caller_summary = "The model server refused the platform's credentials"


class UpstreamRateLimitError(UpstreamError):
    """The server asked to slow down (429); ``retry_after`` when it said how long."""

    retryable = True
    caller_status = 429
    caller_code = "Throttling"
    caller_summary = "The model server is rate limiting requests"


class UpstreamConnectionError(UpstreamError):
    """No answer: the connection failed or dropped."""

    retryable = True
    caller_code = "InternalError.UpstreamUnreachable"
    caller_summary = "The model server could not be reached"


class UpstreamTimeoutError(UpstreamConnectionError):
    """No answer in time."""

    caller_status = 504
    caller_code = "RequestTimeOut"
    caller_summary = "The model server did not answer in time"


class UpstreamBadRequestError(UpstreamError):
    """The server rejected the request (400, 404 unknown model, 409, 413, 422, ...)."""

    caller_status = 400
    caller_code = "InvalidParameter.Upstream"
    caller_summary = "The model server rejected the request"

    def caller_error_code(self) -> str:
        # The upstream's own reason (context_length_exceeded...) is the caller's to know.
        return self.code or self.caller_code


class UpstreamServerError(UpstreamError):
    """The server failed (5xx), or answered with something unusable."""

    retryable = True


# --- settings ---------------------------------------------------------------------------------


class PluginSettings(BaseModel):
    """Base of every plugin's per-workspace settings.

    Declare fields with defaults where a sensible one exists; type secrets as ``SecretStr``
    (or ``SecretStr | None``). Unknown keys are rejected so typos surface as errors.
    """

    model_config = ConfigDict(extra="forbid")


def secret_fields(settings_model: type[BaseModel]) -> frozenset[str]:
    """The names of the fields typed ``SecretStr`` or ``SecretStr | None``."""
    return frozenset(
        name
        for name, field in settings_model.model_fields.items()
        if field.annotation is SecretStr or set(get_args(field.annotation)) == {SecretStr, NoneType}
    )


def _mentions_secret(annotation: Any, seen: set[int] | None = None) -> bool:
    seen = set() if seen is None else seen
    if annotation is SecretStr:
        return True
    if id(annotation) in seen:
        return False
    seen.add(id(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return any(_mentions_secret(f.annotation, seen) for f in annotation.model_fields.values())
    return any(_mentions_secret(arg, seen) for arg in get_args(annotation))


# --- the common base ---------------------------------------------------------------------------


class Plugin:
    """What every plugin declares.

    Subclasses set the class attributes below; the platform instantiates the class with no
    arguments, once per process, and calls its methods from several threads, so keep
    per-call state in locals, not on ``self``.
    """

    #: "loader", "tool" or "model"; set by the three base classes.
    kind: ClassVar[str] = ""
    #: A human name for lists and forms.
    display_name: ClassVar[str] = ""
    #: One or two sentences: what it does, what it needs.
    description: ClassVar[str] = ""
    #: The contract versions this plugin works with (PEP 440 specifier).
    supported_contract: ClassVar[str] = ">=1.0,<2"
    #: The per-workspace settings model.
    Settings: ClassVar[type[PluginSettings]] = PluginSettings
    #: Whether a workspace that never configured this plugin has it enabled.
    enabled_by_default: ClassVar[bool] = False
    #: Whether enabling it in a workspace takes a platform admin (what it exposes reaches
    #: beyond the workspace, e.g. the host). Workspace admins may still disable it.
    requires_platform_admin: ClassVar[bool] = False

    @classmethod
    def check_contract(cls) -> None:
        """Raise ``ContractViolation`` when the class is not a usable plugin.

        The platform calls this once at discovery. Subclasses extend it with their
        kind's rules and call ``super().check_contract()``.
        """
        if not cls.display_name.strip():
            raise ContractViolation("display_name is empty")
        if not cls.description.strip():
            raise ContractViolation("description is empty")
        if not (isinstance(cls.Settings, type) and issubclass(cls.Settings, PluginSettings)):
            raise ContractViolation("Settings must subclass plugins.base.PluginSettings")
        secrets = secret_fields(cls.Settings)
        for name, field in cls.Settings.model_fields.items():
            if name not in secrets and _mentions_secret(field.annotation):
                # Only top-level secrets can be encrypted, masked and kept on "***".
                raise ContractViolation(
                    f"settings field '{name}' nests a SecretStr; declare each secret as its "
                    "own SecretStr (or SecretStr | None) field"
                )


# --- loaders -----------------------------------------------------------------------------------


#: How a loader reads pages that are images: ``auto`` reads the text layer and recognises
#: (OCR) the pages that have none or an unreadable one; ``text`` reads the text layer only;
#: ``ocr`` recognises every page's image. Loaders of formats without images ignore it.
Parser = Literal["auto", "text", "ocr"]


class LoaderInput(BaseModel):
    """One file to parse, with how to read it and where to report as it goes.

    ``on_progress`` and ``on_warning`` are the platform's (contract 1.3); a loader calls
    ``report_progress`` and ``warn``, which do nothing when no one listens (a plugin's
    own tests).
    """

    filename: str
    media_type: str = "application/octet-stream"
    data: bytes
    parser: Parser = "auto"
    on_progress: Callable[[int, int], None] | None = Field(default=None, exclude=True, repr=False)
    on_warning: Callable[[str], None] | None = Field(default=None, exclude=True, repr=False)

    def report_progress(self, done: int, total: int) -> None:
        """Say that ``done`` of ``total`` pages (or slides, or images) are read; worth
        calling where pages are slow (OCR), so the document list can show it."""
        if self.on_progress is not None:
            self.on_progress(done, total)

    def warn(self, message: str) -> None:
        """Record a problem that cost part of the file, not all of it (a page that could
        not be read); the document ends ``ready`` with the message among its warnings."""
        if self.on_warning is not None:
            self.on_warning(message)


class Element(BaseModel):
    """A piece of structured text a loader found, in reading order.

    ``type`` says what the piece is, so chunkers can keep headings with their sections
    and never split a table row; ``metadata`` carries its place in the source.
    """

    type: Literal["title", "heading", "paragraph", "list_item", "table", "code", "text"] = "text"
    text: str
    page: int | None = Field(default=None, description="1-based page number, when paged")
    section: str | None = Field(default=None, description="the heading path, e.g. 'Intro > Scope'")
    metadata: dict[str, Any] = Field(default_factory=dict)


class Loader(Plugin):
    """Turns a file into ``Element``s."""

    kind = "loader"
    #: Lower-case file name extensions handled, with the dot: (".txt", ".text").
    file_extensions: ClassVar[tuple[str, ...]] = ()
    #: Media types handled, for uploads whose name says nothing.
    media_types: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check_contract(cls) -> None:
        super().check_contract()
        if not cls.file_extensions and not cls.media_types:
            raise ContractViolation("a loader declares file_extensions or media_types")
        if any(not ext.startswith(".") or ext != ext.lower() for ext in cls.file_extensions):
            raise ContractViolation("file_extensions are lower-case and start with a dot")
        if cls.load is Loader.load:
            raise ContractViolation("a loader implements load()")

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        """Parse ``source`` and return its elements in reading order.

        Raise ``ValueError`` with a message a person can act on when the file cannot be
        parsed (wrong format, encrypted, truncated); the document is then marked failed
        with that message. Return an empty list for a file with no text.
        """
        raise ContractViolation(f"{type(self).__name__} does not implement load()")


# --- tools -------------------------------------------------------------------------------------


class Passage(BaseModel):
    """A piece of a knowledge base that answers a query, as ``search_knowledge`` returns it."""

    reference: int = Field(description="the n an answer cites it by: <ref>[n]</ref>")
    text: str
    document_name: str
    document_id: str
    score: float
    page: int | None = None
    section: str | None = None


class ToolContext(BaseModel):
    """What a tool knows about the call besides its arguments.

    ``search_knowledge(query, top_k)`` is given when the tool runs inside an agent app
    with knowledge bases attached: it searches them with the app's retrieval settings and
    filters, and numbers each passage as the answer's sources. Elsewhere it is None.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    settings: PluginSettings
    workspace: str | None = Field(default=None, description="the calling workspace's slug")
    search_knowledge: Callable[[str, int], list[Passage]] | None = None


class ToolResult(BaseModel):
    """A tool's answer. ``content`` is what a model reads; ``data`` is for programs."""

    content: str
    data: Any = None
    is_error: bool = False


class Tool(Plugin):
    """A function an agent may call.

    Its parameters are a pydantic model (``Arguments``); the JSON Schema a model sees is
    generated from it, and arguments are validated against it before ``invoke`` runs.
    """

    kind = "tool"
    #: The arguments model.
    Arguments: ClassVar[type[BaseModel]]
    #: Seconds after which a call is abandoned and reported as timed out.
    timeout_seconds: ClassVar[float] = 10.0

    @classmethod
    def check_contract(cls) -> None:
        super().check_contract()
        arguments = getattr(cls, "Arguments", None)
        if not (isinstance(arguments, type) and issubclass(arguments, BaseModel)):
            raise ContractViolation("a tool declares Arguments, a pydantic model")
        if not 0 < cls.timeout_seconds <= 600:
            raise ContractViolation("timeout_seconds is between 0 and 600")
        if cls.invoke is Tool.invoke:
            raise ContractViolation("a tool implements invoke()")

    @classmethod
    def parameters_schema(cls) -> dict[str, Any]:
        """The JSON Schema of ``Arguments``, as function-calling models expect it."""
        schema = cls.Arguments.model_json_schema()
        schema.pop("title", None)
        return schema

    def invoke(self, arguments: BaseModel, context: ToolContext) -> ToolResult:
        """Run the tool with validated ``arguments`` (an ``Arguments`` instance).

        Return ``ToolResult(is_error=True, ...)`` for failures the model should read and
        react to (no result found, a bad combination of arguments); any exception raised
        is caught by the platform and reported the same way.
        """
        raise ContractViolation(f"{type(self).__name__} does not implement invoke()")


# --- model providers ----------------------------------------------------------------------------


class Capability(StrEnum):
    CHAT = "chat"
    CHAT_STREAM = "chat_stream"
    TOOL_CALLS = "tool_calls"
    EMBEDDINGS = "embeddings"
    RERANK = "rerank"


class ToolSpec(BaseModel):
    """A tool offered to a chat model."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})

    def as_function_tool(self) -> dict[str, Any]:
        """The tool in the ``{"type": "function", "function": {...}}`` form that OpenAI,
        DashScope, vLLM and most servers accept."""
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: str = Field(description="JSON text, as the model produced it")


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class ChatRequest(BaseModel):
    model: str = Field(description="the upstream model name")
    messages: list[ChatMessage]
    tools: list[ToolSpec] = Field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict, description="provider-specific options")


class ChatResponse(BaseModel):
    message: ChatMessage
    finish_reason: str = "stop"
    usage: Usage | None = None


class ChatChunk(BaseModel):
    """One streamed piece of a chat completion.

    Text arrives in ``content`` as it is generated. Tool calls are not streamed in
    fragments: each call is sent once, complete, and providers put them on the last chunk.
    The last chunk has ``finish_reason``, and ``usage`` when the server reported it.
    """

    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None


class EmbeddingRequest(BaseModel):
    model: str
    inputs: list[str]
    input_type: Literal["query", "document"] = "document"


class EmbeddingResponse(BaseModel):
    vectors: list[list[float]]
    usage: Usage | None = None


class RerankRequest(BaseModel):
    model: str
    query: str
    documents: list[str]
    top_n: int | None = None


class RerankResult(BaseModel):
    index: int
    score: float


class RerankResponse(BaseModel):
    results: list[RerankResult]
    usage: Usage | None = None


class ReadyModel(BaseModel):
    """A model a provider serves with no settings at all (a local model), registered as an
    endpoint of that name when the platform first starts."""

    #: The endpoint's name (what callers send as ``model``), also the model the provider is
    #: asked for.
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    #: What the endpoint offers: ``chat`` (with ``tool_calls`` if it calls tools),
    #: ``embeddings`` or ``rerank``, each among the provider's ``capabilities``
    #: (``chat_stream`` is the provider's, not the model's: it is ignored here).
    capabilities: frozenset[Capability]
    display_name: str = Field(default="", max_length=200)
    context_window: int | None = Field(default=None, gt=0)
    embedding_dimension: int | None = Field(default=None, gt=0)
    #: Whether it becomes the workspace's default model for its first capability (a model
    #: a provider key brings later may take over).
    default: bool = False


_CAPABILITY_METHODS = {
    Capability.CHAT: "chat",
    Capability.CHAT_STREAM: "chat_stream",
    Capability.EMBEDDINGS: "embed",
    Capability.RERANK: "rerank",
}


class ModelProvider(Plugin):
    """Talks to a family of model servers (an API, a local engine).

    Declare what it can do in ``capabilities`` and implement the matching methods; the
    others keep raising ``UnsupportedCapability``. ``settings`` carries the endpoint's
    configuration (base URL, credentials).
    """

    kind = "model"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    @classmethod
    def check_contract(cls) -> None:
        super().check_contract()
        if not cls.capabilities:
            raise ContractViolation("a model provider declares at least one capability")
        for capability in cls.capabilities:
            method = _CAPABILITY_METHODS.get(capability)
            if method and getattr(cls, method) is getattr(ModelProvider, method):
                raise ContractViolation(f"declares {capability} but does not implement {method}()")

    def chat(self, request: ChatRequest, settings: PluginSettings) -> ChatResponse:
        """One chat completion. Raise ``UnsupportedCapability`` if not declared."""
        raise UnsupportedCapability(type(self).__name__, Capability.CHAT)

    def chat_stream(self, request: ChatRequest, settings: PluginSettings) -> Iterator[ChatChunk]:
        """A chat completion as it is generated; the last chunk has ``finish_reason``."""
        raise UnsupportedCapability(type(self).__name__, Capability.CHAT_STREAM)

    def embed(self, request: EmbeddingRequest, settings: PluginSettings) -> EmbeddingResponse:
        """One vector per input, in order."""
        raise UnsupportedCapability(type(self).__name__, Capability.EMBEDDINGS)

    def rerank(self, request: RerankRequest, settings: PluginSettings) -> RerankResponse:
        """Relevance of each document to the query, best first."""
        raise UnsupportedCapability(type(self).__name__, Capability.RERANK)

    async def achat(self, request: ChatRequest, settings: PluginSettings) -> ChatResponse:
        """``chat`` for the platform's async paths (the SDK surfaces). This default runs
        ``chat`` on a worker thread; a provider with an async client overrides it, and the
        other ``a*`` methods, so that a call holds no thread. Since contract 1.4."""
        return await asyncio.to_thread(self.chat, request, settings)

    def achat_stream(
        self, request: ChatRequest, settings: PluginSettings
    ) -> AsyncIterator[ChatChunk]:
        """``chat_stream`` as an async iterator; closing it must close the upstream call.
        This default iterates ``chat_stream`` on a thread of its own. Since contract 1.4."""
        return iterate_in_thread(self.chat_stream(request, settings))

    async def aembed(
        self, request: EmbeddingRequest, settings: PluginSettings
    ) -> EmbeddingResponse:
        """``embed`` for async paths; by default on a worker thread. Since contract 1.4."""
        return await asyncio.to_thread(self.embed, request, settings)

    async def arerank(self, request: RerankRequest, settings: PluginSettings) -> RerankResponse:
        """``rerank`` for async paths; by default on a worker thread. Since contract 1.4."""
        return await asyncio.to_thread(self.rerank, request, settings)

    def ready_models(self) -> list[ReadyModel]:
        """The models this provider can serve with its default settings and nothing else
        (local models: no URL, no key), which the demo workspace is given at first start.

        The platform asks at each start (``ministudio bootstrap``) and registers the ones it
        does not have yet; an endpoint already there is left as a platform admin made it.
        Name only what is installed now, cheaply: do not load a model to find out. The
        default returns none. Since contract 1.2.
        """
        return []


BASE_CLASSES: dict[str, type[Plugin]] = {"loader": Loader, "tool": Tool, "model": ModelProvider}
