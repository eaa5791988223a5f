"""Writes of model endpoints, the connection test, and the endpoints seeded at first start
(``seed_endpoints``: what providers serve with no settings, and what provider keys bring).

Only platform admins reach these through the API (it checks). Provider settings go through the same
store as every plugin's settings: validated by the provider's model, secrets encrypted.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from pydantic import ValidationError as PydanticValidationError

from apps.accounts.models import User, Workspace
from apps.model_endpoints import selectors
from apps.model_endpoints.models import (
    EndpointCapability,
    EndpointGrant,
    ModelEndpoint,
    ModelGroup,
    ModelGroupGrant,
)
from apps.plugins import discovery
from apps.plugins.models import Kind, Plugin
from apps.plugins.plugin_settings import (
    StoredSettings,
    field_errors,
    load_settings,
    secret_values,
    store_settings,
)
from apps.plugins.services import PluginUnavailable, loaded_class
from kernel.errors import ApiError, Conflict, InvalidParameter, NotFound
from plugins.base import (
    Capability,
    ChatMessage,
    ChatRequest,
    EmbeddingRequest,
    ModelProvider,
    PluginSettings,
    ReadyModel,
    RerankRequest,
)
from plugins.scrubbing import scrub

logger = logging.getLogger(__name__)

# What an endpoint capability needs its provider to declare.
NEEDS = {
    EndpointCapability.CHAT: Capability.CHAT,
    EndpointCapability.EMBEDDING: Capability.EMBEDDINGS,
    EndpointCapability.RERANK: Capability.RERANK,
    EndpointCapability.TOOL_CALLS: Capability.TOOL_CALLS,
}
EDITABLE = (
    "display_name",
    "upstream_model",
    "capabilities",
    "context_window",
    "embedding_dimension",
    "default_parameters",
    "price_input_per_1k",
    "price_output_per_1k",
    "enabled",
)


def provider_class(provider: str) -> type[ModelProvider]:
    """The loaded model-provider plugin ``provider``, or a clear error."""
    plugin = Plugin.objects.filter(kind=Kind.MODEL, plugin_id=provider).first()
    if plugin is None:
        raise InvalidParameter(f"provider: no model provider '{provider}' is installed.")
    plugin_class = loaded_class(plugin) if plugin.available else None
    if plugin_class is None:
        raise PluginUnavailable(f"Model provider '{provider}' is {plugin.status}; fix it first.")
    return plugin_class


def check_capabilities(plugin_class: type[ModelProvider], capabilities: list[str]) -> list[str]:
    if not capabilities:
        raise InvalidParameter("capabilities: give at least one of chat, embedding, rerank.")
    if (
        EndpointCapability.TOOL_CALLS in capabilities
        and EndpointCapability.CHAT not in capabilities
    ):
        raise InvalidParameter("capabilities: tool_calls is a kind of chat; add chat too.")
    missing = [
        c for c in capabilities if NEEDS[EndpointCapability(c)] not in plugin_class.capabilities
    ]
    if missing:
        raise InvalidParameter(
            f"capabilities: provider does not support {', '.join(missing)} "
            f"(it declares {', '.join(sorted(plugin_class.capabilities))})."
        )
    return sorted(set(capabilities))


@transaction.atomic
def create_endpoint(
    *,
    name: str,
    provider: str,
    upstream_model: str,
    capabilities: list[str],
    settings: dict[str, Any],
    **fields: Any,
) -> ModelEndpoint:
    plugin_class = provider_class(provider)
    stored = store_settings(plugin_class.Settings, settings)
    endpoint = ModelEndpoint(
        name=name,
        provider=provider,
        upstream_model=upstream_model,
        capabilities=check_capabilities(plugin_class, capabilities),
        settings=stored.plain,
        encrypted_secrets=stored.encrypted_secrets,
        display_name=fields.pop("display_name", "") or name,
        **{k: v for k, v in fields.items() if k in EDITABLE},
    )
    if ModelGroup.objects.filter(name=name).exists():
        raise Conflict(f"A model group is named '{name}'; a model name is one or the other.")
    try:
        with transaction.atomic():
            endpoint.save()
    except IntegrityError:
        raise Conflict(f"An endpoint named '{name}' already exists.") from None
    return endpoint


@transaction.atomic
def update_endpoint(
    endpoint: ModelEndpoint, *, settings: dict[str, Any] | None = None, **changes: Any
) -> ModelEndpoint:
    """Change an endpoint; ``settings`` replaces the provider settings ("***" keeps a secret)."""
    plugin_class = provider_class(endpoint.provider)
    if settings is not None:
        stored = store_settings(plugin_class.Settings, settings, stored_settings(endpoint))
        endpoint.settings, endpoint.encrypted_secrets = stored.plain, stored.encrypted_secrets
    for key, value in changes.items():
        if key in EDITABLE and value is not None:
            setattr(endpoint, key, value)
    endpoint.capabilities = check_capabilities(plugin_class, endpoint.capabilities)
    endpoint.save()
    return endpoint


def delete_endpoint(endpoint: ModelEndpoint) -> None:
    endpoint.delete()


def grant(
    endpoint: ModelEndpoint, workspace: Workspace, *, by: User | None, default: bool = False
) -> EndpointGrant:
    """Let ``workspace`` call ``endpoint``; ``default`` makes it the workspace's default
    for the endpoint's first capability (and no longer any other endpoint's)."""
    with transaction.atomic():
        found, _ = EndpointGrant.objects.get_or_create(
            endpoint=endpoint, workspace=workspace, defaults={"granted_by": by}
        )
        if default:
            capability = endpoint.capabilities[0]
            EndpointGrant.objects.in_workspace(workspace).filter(
                is_default=True, endpoint__capabilities__contains=[capability]
            ).exclude(pk=found.pk).update(is_default=False)
            if not found.is_default:
                found.is_default = True
                found.save(update_fields=["is_default"])
    return found


def set_response_cache(workspace: Workspace, model: str, seconds: int) -> None:
    """Keep ``workspace``'s deterministic answers of ``model`` (an endpoint or a group) for
    ``seconds`` (0: off). A model the workspace may not call is ``NotFound``, as at the
    gateway."""
    found = (
        EndpointGrant.objects.in_workspace(workspace)
        .filter(endpoint__name=model, endpoint__enabled=True)
        .first()
    ) or (
        ModelGroupGrant.objects.in_workspace(workspace)
        .filter(group__name=model, group__enabled=True)
        .first()
    )
    if found is None:
        raise NotFound(f"The model '{model}' does not exist or you do not have access to it.")
    found.response_cache_seconds = seconds
    found.save(update_fields=["response_cache_seconds"])  # the gateway's routes follow


def revoke_grant(endpoint: ModelEndpoint, workspace: Workspace) -> None:
    deleted, _ = EndpointGrant.objects.filter(endpoint=endpoint, workspace=workspace).delete()
    if not deleted:
        raise NotFound(f"'{endpoint.name}' is not granted to workspace '{workspace.slug}'.")


def stored_settings(endpoint: ModelEndpoint) -> StoredSettings:
    return StoredSettings(endpoint.settings, endpoint.encrypted_secrets)


def provider_settings(endpoint: ModelEndpoint, plugin_class: type[ModelProvider]) -> PluginSettings:
    try:
        return load_settings(plugin_class.Settings, stored_settings(endpoint))
    except PydanticValidationError as exc:
        raise InvalidParameter(
            f"Endpoint '{endpoint.name}' has settings its provider no longer accepts ("
            + field_errors(exc, "settings")
            + "); a platform admin must edit it."
        ) from None


# --- the connection test ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    latency_ms: int
    capability: str
    detail: str


def test_connection(endpoint: ModelEndpoint) -> ConnectionTest:
    """Make one tiny real call through the provider and say how it went."""
    plugin_class = provider_class(endpoint.provider)
    settings = provider_settings(endpoint, plugin_class)
    provider = discovery.instance_of(plugin_class)
    capability = endpoint.capabilities[0]
    started = time.monotonic()
    try:
        detail = _probe(provider, endpoint, capability, settings)
        ok = True
    except Exception as exc:  # any upstream failure is the answer, not a crash
        detail = scrub(f"{type(exc).__name__}: {exc}", secret_values(settings))
        ok = False
    latency_ms = round((time.monotonic() - started) * 1000)
    return ConnectionTest(ok=ok, latency_ms=latency_ms, capability=capability, detail=detail)


def _probe(provider: ModelProvider, endpoint: ModelEndpoint, capability: str, settings) -> str:
    model = endpoint.upstream_model
    if capability == EndpointCapability.CHAT:
        request = ChatRequest(
            model=model, messages=[ChatMessage(role="user", content="ping")], max_tokens=1
        )
        answer = provider.chat(request, settings)
        return f"chat answered ({answer.finish_reason})"
    if capability == EndpointCapability.EMBEDDING:
        vectors = provider.embed(EmbeddingRequest(model=model, inputs=["ping"]), settings).vectors
        dimension = len(vectors[0]) if vectors else 0
        expected = endpoint.embedding_dimension
        if expected and dimension != expected:
            raise ValueError(f"the model returns {dimension}-d vectors, not {expected}-d")
        return f"embedding answered ({dimension} dimensions)"
    results = provider.rerank(
        RerankRequest(model=model, query="ping", documents=["ping"]), settings
    )
    return f"rerank answered ({len(results.results)} result)"


# --- first-run endpoints -------------------------------------------------------------------------

# A ready model's capabilities (the contract's words) as the endpoint's; chat_stream is the
# provider's, not the model's.
ENDPOINT_CAPABILITIES = {needed: offered for offered, needed in NEEDS.items()}


@dataclass(frozen=True)
class SeededEndpoint:
    name: str
    created: bool


def seed_endpoints(workspace: Workspace, environ: dict[str, str]) -> list[SeededEndpoint]:
    """The models a newcomer can use at once, granted to ``workspace`` (the demo):

    - what each loaded model provider serves with no settings (``ready_models``: the local
      embedding models, the local demo chat model with the ``local-llm`` extra...);
    - DashScope's chat and embedding models when ``DASHSCOPE_API_KEY`` is set;
    - an OpenAI-compatible server's models when ``OPENAI_API_KEY`` is set (``OPENAI_BASE_URL``
      for vLLM, Ollama...; ``OPENAI_CHAT_MODEL`` / ``OPENAI_EMBEDDING_MODEL`` name them).

    A model a key brings is the default chat model over a ready one (it is seeded after).
    Idempotent: existing endpoints are granted again, never overwritten.
    """
    seeded = []
    for plugin in Plugin.objects.filter(kind=Kind.MODEL).order_by("plugin_id"):
        seeded += _seed_ready_models(workspace, plugin)
    if (key := environ.get("DASHSCOPE_API_KEY")) and _provider_loaded("dashscope"):
        seeded += _seed_dashscope(workspace, key)
    if (key := environ.get("OPENAI_API_KEY")) and _provider_loaded("openai"):
        seeded += _seed_openai(workspace, key, environ)
    return seeded


def _ensure(workspace: Workspace, *, default: bool = False, **fields: Any) -> SeededEndpoint:
    endpoint = selectors.endpoint_named(fields["name"])
    created = endpoint is None
    if created:
        endpoint = create_endpoint(**fields)
    grant(endpoint, workspace, by=None, default=default)
    return SeededEndpoint(endpoint.name, created)


def _provider_loaded(provider: str) -> bool:
    plugin = Plugin.objects.filter(kind=Kind.MODEL, plugin_id=provider).first()
    return bool(plugin and plugin.available)


def _seed_ready_models(workspace: Workspace, plugin: Plugin) -> list[SeededEndpoint]:
    """Register what ``plugin`` serves with no settings. A provider that fails to say, or
    names a model it cannot serve, is logged and skipped: it must not stop the start."""
    plugin_class = loaded_class(plugin) if plugin.available else None
    if plugin_class is None:
        return []
    try:
        ready = discovery.instance_of(plugin_class).ready_models()
    except Exception:
        logger.exception("Model provider '%s' failed to name its ready models", plugin.plugin_id)
        return []
    seeded = []
    for model in ready:
        try:
            seeded.append(_ensure_ready(workspace, plugin.plugin_id, model))
        except ApiError as exc:
            logger.warning(
                "Ready model '%s' of '%s' skipped: %s", model.name, plugin.plugin_id, exc.message
            )
    return seeded


def _ensure_ready(workspace: Workspace, provider: str, model: ReadyModel) -> SeededEndpoint:
    return _ensure(
        workspace,
        name=model.name,
        provider=provider,
        upstream_model=model.name,
        capabilities=[
            ENDPOINT_CAPABILITIES[c] for c in model.capabilities if c in ENDPOINT_CAPABILITIES
        ],
        settings={},
        display_name=model.display_name,
        context_window=model.context_window,
        embedding_dimension=model.embedding_dimension,
        default=model.default,
    )


def _seed_dashscope(workspace: Workspace, key: str) -> list[SeededEndpoint]:
    settings = {"api_key": key}
    chat = _ensure(
        workspace,
        name="qwen-plus",
        provider="dashscope",
        upstream_model="qwen-plus",
        capabilities=["chat", "tool_calls"],
        settings=settings,
        context_window=131072,
        default=True,
    )
    embedding = _ensure(
        workspace,
        name="text-embedding-v3",
        provider="dashscope",
        upstream_model="text-embedding-v3",
        capabilities=["embedding"],
        settings=settings,
        embedding_dimension=1024,
    )
    return [chat, embedding]


def _seed_openai(workspace: Workspace, key: str, environ: dict[str, str]) -> list[SeededEndpoint]:
    settings = {"api_key": key}
    if base_url := environ.get("OPENAI_BASE_URL"):
        settings["base_url"] = base_url
    chat_model = environ.get("OPENAI_CHAT_MODEL") or "gpt-4o-mini"
    seeded = [
        _ensure(
            workspace,
            name=chat_model,
            provider="openai",
            upstream_model=chat_model,
            # A server of one's own (vLLM, Ollama) calls tools only when started to:
            # agent apps use ReAct on it until an admin adds tool_calls.
            capabilities=["chat"] if base_url else ["chat", "tool_calls"],
            settings=settings,
            default=True,
        )
    ]
    if embedding_model := environ.get("OPENAI_EMBEDDING_MODEL"):
        seeded.append(
            _ensure(
                workspace,
                name=embedding_model,
                provider="openai",
                upstream_model=embedding_model,
                capabilities=["embedding"],
                settings=settings,
            )
        )
    return seeded
