"""Console API: model groups (platform admins), each member with its health as the gateway
sees it now. Definitions are written by ``model_endpoints.group_services``; the health is
the gateway's (``balancing``), which is why this router lives here."""

import uuid
from datetime import UTC, datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from apps.accounts.context import require_platform_admin
from apps.accounts.selectors import get_workspace_for_user
from apps.gateway import balancing
from apps.model_endpoints import group_services, selectors
from apps.model_endpoints.models import Balancing, EndpointCapability, ModelGroup
from kernel.errors import NotFound
from kernel.openapi import UUIDText

router = Router(tags=["model groups"])


class GroupMemberIn(Schema):
    endpoint: str = Field(min_length=1, max_length=100, description="The endpoint's name.")
    weight: int = Field(default=1, ge=1, le=1000, description="Share of calls (weighted).")


class GroupCreateIn(Schema):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    display_name: str = Field(default="", max_length=200)
    balancing: Balancing = Balancing.WEIGHTED
    cooldown_seconds: int = Field(default=60, ge=1, le=86400)
    failures_to_cool_down: int = Field(default=3, ge=1, le=100)
    enabled: bool = True
    members: list[GroupMemberIn] = Field(min_length=1, max_length=50)


class GroupUpdateIn(Schema):
    display_name: str | None = Field(default=None, max_length=200)
    balancing: Balancing | None = None
    cooldown_seconds: int | None = Field(default=None, ge=1, le=86400)
    failures_to_cool_down: int | None = Field(default=None, ge=1, le=100)
    enabled: bool | None = None
    members: list[GroupMemberIn] | None = Field(default=None, min_length=1, max_length=50)


class GroupGrantIn(Schema):
    workspace: str = Field(min_length=1, max_length=50, description="The workspace's slug.")


class LastFailureOut(Schema):
    error: str
    message: str
    at: datetime


class GroupMemberOut(Schema):
    endpoint: str
    endpoint_enabled: bool
    weight: int
    capabilities: list[EndpointCapability]
    state: str = Field(description="healthy, cooling_down, disabled, or unknown (no Redis).")
    cooling_down_seconds: int
    recent_failures: int = Field(description="Failures counted toward the next cool-down.")
    in_flight: int = Field(description="Calls on it now (counted for least_busy groups).")
    last_failure: LastFailureOut | None


class GroupOut(Schema):
    id: uuid.UUID
    name: str
    display_name: str
    balancing: Balancing
    cooldown_seconds: int
    failures_to_cool_down: int
    enabled: bool
    capabilities: list[EndpointCapability]
    members: list[GroupMemberOut]
    workspaces: list[str]
    created_at: datetime
    updated_at: datetime


def _get(group_id: str) -> ModelGroup:
    group = selectors.group_with_id(group_id)
    if group is None:
        raise NotFound("Model group not found.")
    return group


def _member_out(member, found: balancing.MemberHealth | None) -> dict:
    endpoint = member.endpoint
    if not endpoint.enabled:
        state = "disabled"
    elif found is None:
        state = "unknown"
    else:
        state = "cooling_down" if found.cooling_down_seconds else "healthy"
    last = found.last_failure if found else None
    return {
        "endpoint": endpoint.name,
        "endpoint_enabled": endpoint.enabled,
        "weight": member.weight,
        "capabilities": endpoint.capabilities,
        "state": state,
        "cooling_down_seconds": found.cooling_down_seconds if found else 0,
        "recent_failures": found.recent_failures if found else 0,
        "in_flight": found.busy if found else 0,
        "last_failure": (
            {
                "error": last["error"],
                "message": last.get("message", ""),
                "at": datetime.fromtimestamp(float(last["at"]), tz=UTC),
            }
            if last
            else None
        ),
    }


def _out(group: ModelGroup) -> dict:
    group = _get(str(group.pk))  # members and grants as they are now, loaded at once
    members = list(group.members.all())
    policy = balancing.GroupPolicy(
        str(group.pk), group.name, group.balancing, group.cooldown_seconds, 1
    )
    health = balancing.health(policy, [m.endpoint.pk for m in members])
    shared = (
        set.intersection(*(set(m.endpoint.capabilities) for m in members)) if members else set()
    )
    return {
        **{f: getattr(group, f) for f in ("id", "name", "display_name", "balancing")},
        **{f: getattr(group, f) for f in ("cooldown_seconds", "failures_to_cool_down")},
        "enabled": group.enabled,
        "capabilities": sorted(shared),
        "members": [
            _member_out(m, health.get(m.endpoint.pk) if health is not None else None)
            for m in members
        ],
        "workspaces": sorted(grant.workspace.slug for grant in group.grants.all()),
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    }


def _specs(members: list[GroupMemberIn]) -> list[group_services.MemberSpec]:
    return [group_services.MemberSpec(m.endpoint, m.weight) for m in members]


@router.get("/model-groups", response=list[GroupOut])
def list_groups(request: HttpRequest):
    require_platform_admin(request)
    return [_out(group) for group in selectors.all_groups()]


@router.post("/model-groups", response={201: GroupOut})
def create_group(request: HttpRequest, payload: GroupCreateIn):
    """Put several endpoints behind one model name."""
    require_platform_admin(request)
    fields = payload.model_dump(exclude={"members"})
    group = group_services.create_group(members=_specs(payload.members), **fields)
    return Status(201, _out(group))


@router.get("/model-groups/{group_id}", response=GroupOut)
def get_group(request: HttpRequest, group_id: UUIDText):
    require_platform_admin(request)
    return _out(_get(group_id))


@router.patch("/model-groups/{group_id}", response=GroupOut)
def update_group(request: HttpRequest, group_id: UUIDText, payload: GroupUpdateIn):
    require_platform_admin(request)
    changes = payload.model_dump(exclude_unset=True, exclude={"members"})
    members = _specs(payload.members) if payload.members is not None else None
    return _out(group_services.update_group(_get(group_id), members=members, **changes))


@router.delete("/model-groups/{group_id}", response={204: None})
def delete_group(request: HttpRequest, group_id: UUIDText):
    require_platform_admin(request)
    group_services.delete_group(_get(group_id))
    return Status(204, None)


@router.post("/model-groups/{group_id}/grants", response={201: GroupOut})
def grant_group(request: HttpRequest, group_id: UUIDText, payload: GroupGrantIn):
    user = require_platform_admin(request)
    group = _get(group_id)
    group_services.grant_group(group, get_workspace_for_user(user, payload.workspace), by=user)
    return Status(201, _out(group))


@router.delete("/model-groups/{group_id}/grants/{slug}", response={204: None})
def revoke_group_grant(request: HttpRequest, group_id: UUIDText, slug: str):
    admin = require_platform_admin(request)
    group_services.revoke_group_grant(_get(group_id), get_workspace_for_user(admin, slug))
    return Status(204, None)
