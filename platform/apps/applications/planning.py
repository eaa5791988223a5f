"""Turning a call of an app (app API, OpenAI-compatible, playground) into a ``RunPlan``:
the conversation so far, the filled-in system prompt, where to search. Everything a
caller can get wrong is checked here, before the run starts, and answered with a 400."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.accounts.models import ApiKey, User, Workspace
from apps.applications import prompts, selectors
from apps.applications.config import AppConfigSchema
from apps.applications.models import AgentApp, AppVersion
from apps.applications.run_plan import Knowledge, RunPlan
from apps.applications.runtime import new_session_id
from apps.knowledge.models import KnowledgeBase
from apps.knowledge.retrieval import Filters
from kernel.errors import InvalidParameter
from plugins.base import ChatMessage


@dataclass(frozen=True)
class RagOptions:
    """``parameters.rag_options``: restrict this call's retrieval."""

    knowledge_base_ids: list[str] = field(default_factory=list)
    document_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """What a caller sent, in the surfaces' common terms."""

    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    session_id: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    rag: RagOptions = field(default_factory=RagOptions)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


def plan_published(
    published: selectors.PublishedApp,
    *,
    call: Call,
    surface: str,
    api_key: ApiKey | None = None,
    user: User | None = None,
    request_id: str = "",
) -> RunPlan:
    """``plan_run`` for an agent app's live version, on what ``selectors.published_app``
    read (its parsed configuration and knowledge bases, cached)."""
    assert published.config is not None, "an agent app's published version"
    return plan_run(
        app=published.app,
        version=published.version,
        config=published.config,
        call=call,
        surface=surface,
        api_key=api_key,
        user=user,
        request_id=request_id,
        attached=published.knowledge_bases,
    )


def plan_run(
    *,
    app: AgentApp,
    version: AppVersion | None,
    config: AppConfigSchema,
    call: Call,
    surface: str,
    api_key: ApiKey | None = None,
    user: User | None = None,
    request_id: str = "",
    attached: Sequence[KnowledgeBase] | None = None,
) -> RunPlan:
    """The plan of one call of ``config`` (a version's, or the draft's). ``attached``:
    the knowledge bases ``config`` names, when the caller has read them already."""
    workspace = app.workspace
    system_prompt = prompts.fill_variables(config, call.variables)
    session = selectors.live_session(app, call.session_id) if call.session_id else None
    # Unknown, another app's, or expired: a new conversation, under a new id.
    session_id = call.session_id if session is not None else ""
    history: list[ChatMessage] = []
    if call.messages:
        prompt, history, extra_system = _split_messages(call.messages)
        if extra_system:
            system_prompt = f"{system_prompt}\n\n{extra_system}"
    else:
        prompt = (call.prompt or "").strip()
        if not prompt:
            raise InvalidParameter("input.prompt: give a prompt, or input.messages.")
        if session is not None and config.memory_rounds:
            kept = session.messages[-config.memory_rounds * 2 :]
            history = [ChatMessage(role=m["role"], content=m["content"]) for m in kept]
    return RunPlan(
        workspace=workspace,
        app=app,
        version=version,
        config=config,
        surface=surface,
        prompt=prompt,
        history=history,
        system_prompt=system_prompt,
        knowledge=Knowledge(
            knowledge_bases=_knowledge_bases(workspace, config, call.rag, attached),
            filters=Filters(
                tags=tuple(call.rag.tags),
                metadata=call.rag.metadata,
                document_ids=tuple(call.rag.document_ids),
            ),
        ),
        session_id=session_id or new_session_id(),
        api_key=api_key,
        user=user,
        request_id=request_id,
        temperature=call.temperature,
        top_p=call.top_p,
        max_tokens=call.max_tokens,
    )


def _split_messages(messages: list[ChatMessage]) -> tuple[str, list[ChatMessage], str]:
    """The last user message is the prompt; the user/assistant turns before it are the
    history; the caller's system messages add to the app's system prompt."""
    if messages[-1].role != "user" or not (messages[-1].content or "").strip():
        raise InvalidParameter("input.messages: the last message must be the user's, with text.")
    history, system = [], []
    for message in messages[:-1]:
        if message.role == "system":
            system.append(message.content or "")
        elif message.role in ("user", "assistant"):
            history.append(ChatMessage(role=message.role, content=message.content or ""))
        else:
            raise InvalidParameter(
                "input.messages: only system, user and assistant messages; the app runs "
                "its own tools."
            )
    return (messages[-1].content or "").strip(), history, "\n\n".join(system)


def _knowledge_bases(
    workspace: Workspace,
    config: AppConfigSchema,
    rag: RagOptions,
    attached: Sequence[KnowledgeBase] | None,
) -> list[KnowledgeBase]:
    """The knowledge bases this call searches: the caller's ``pipeline_ids``, else the
    app's own (``attached`` when given). A new list: the run may not change a cached one."""
    if not rag.knowledge_base_ids:
        if attached is not None:
            return list(attached)
        # Attached ones deleted since are skipped: the app still answers, from what is left.
        return selectors.knowledge_bases_named(workspace, config.knowledge.knowledge_base_ids)
    found = selectors.knowledge_bases_named(workspace, rag.knowledge_base_ids)
    missing = sorted(set(rag.knowledge_base_ids) - {str(kb.pk) for kb in found})
    if missing:
        raise InvalidParameter(
            f"parameters.rag_options.pipeline_ids: no knowledge base {', '.join(missing)}."
        )
    return found
