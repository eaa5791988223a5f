"""Writes of model groups: several endpoints behind one model name (``ModelGroup``), their
members and weights, and the workspaces granted the name. How a call picks a member is the
gateway's (``apps.gateway.balancing``)."""

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from apps.accounts.models import User, Workspace
from apps.model_endpoints.models import (
    EndpointCapability,
    ModelEndpoint,
    ModelGroup,
    ModelGroupGrant,
    ModelGroupMember,
)
from kernel.errors import Conflict, InvalidParameter, NotFound

EDITABLE = ("display_name", "balancing", "cooldown_seconds", "failures_to_cool_down", "enabled")


@dataclass(frozen=True)
class MemberSpec:
    """A member as a platform admin names it: an endpoint by name, and its weight."""

    endpoint: str
    weight: int = 1


def _members(specs: list[MemberSpec]) -> list[tuple[ModelEndpoint, int]]:
    """The endpoints ``specs`` name, checked to make one model: at least one, each once,
    sharing a capability, and embedding models of one dimension."""
    if not specs:
        raise InvalidParameter("members: give at least one endpoint.", param="members")
    names = [spec.endpoint for spec in specs]
    if len(set(names)) != len(names):
        raise InvalidParameter("members: an endpoint may be a member once.", param="members")
    found = {e.name: e for e in ModelEndpoint.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        raise InvalidParameter(
            f"members: no endpoint named {', '.join(repr(n) for n in missing)}.", param="members"
        )
    endpoints = [found[name] for name in names]
    shared = set.intersection(*(set(e.capabilities) for e in endpoints))
    if not shared:
        raise InvalidParameter(
            "members: the endpoints share no capability (chat, embedding or rerank).",
            param="members",
        )
    dimensions = {e.embedding_dimension for e in endpoints}
    if EndpointCapability.EMBEDDING in shared and len(dimensions) > 1:
        raise InvalidParameter(
            "members: embedding endpoints of one group return vectors of one dimension.",
            param="members",
        )
    return [(endpoint, spec.weight) for endpoint, spec in zip(endpoints, specs, strict=True)]


def _set_members(group: ModelGroup, specs: list[MemberSpec]) -> None:
    members = _members(specs)
    group.members.all().delete()
    ModelGroupMember.objects.bulk_create(
        ModelGroupMember(group=group, endpoint=endpoint, weight=weight, position=n)
        for n, (endpoint, weight) in enumerate(members)
    )


@transaction.atomic
def create_group(*, name: str, members: list[MemberSpec], **fields: Any) -> ModelGroup:
    """A new group ``name`` of ``members``; the name is no endpoint's and no group's."""
    if ModelEndpoint.objects.filter(name=name).exists():
        raise Conflict(f"An endpoint is named '{name}'; a model name is one or the other.")
    group = ModelGroup(name=name, **{k: v for k, v in fields.items() if k in EDITABLE})
    group.display_name = group.display_name or name
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError:
        raise Conflict(f"A model group named '{name}' already exists.") from None
    _set_members(group, members)
    return group


@transaction.atomic
def update_group(
    group: ModelGroup, *, members: list[MemberSpec] | None = None, **changes: Any
) -> ModelGroup:
    """Change a group; ``members`` replaces its members when given."""
    for key, value in changes.items():
        if key in EDITABLE and value is not None:
            setattr(group, key, value)
    group.save()
    if members is not None:
        _set_members(group, members)
    return group


def delete_group(group: ModelGroup) -> None:
    group.delete()


def grant_group(group: ModelGroup, workspace: Workspace, *, by: User | None) -> ModelGroupGrant:
    """Let ``workspace`` call ``group`` by its name."""
    found, _ = ModelGroupGrant.objects.get_or_create(
        group=group, workspace=workspace, defaults={"granted_by": by}
    )
    return found


def revoke_group_grant(group: ModelGroup, workspace: Workspace) -> None:
    deleted, _ = ModelGroupGrant.objects.filter(group=group, workspace=workspace).delete()
    if not deleted:
        raise NotFound(f"'{group.name}' is not granted to workspace '{workspace.slug}'.")
