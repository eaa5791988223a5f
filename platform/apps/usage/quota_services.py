"""Writes of quotas: the limits platform admins set on a workspace's calls, for all its
models or one. ``quotas`` enforces them; a change binds the next call (the gateway's cache
is invalidated by the save's signal, so writes go through ``save``/``delete``)."""

from typing import Any

from django.db import IntegrityError, transaction

from apps.accounts.models import Workspace
from apps.model_endpoints.models import ModelEndpoint
from apps.usage.models import Quota
from kernel.errors import Conflict, InvalidParameter

#: The limits a quota may set; a limit left null is not enforced.
LIMITS = (
    "requests_per_minute",
    "tokens_per_minute",
    "tokens_per_day",
    "tokens_per_month",
    "concurrent_requests",
)


def create_quota(
    *, workspace: Workspace, endpoint: ModelEndpoint | None, limits: dict[str, int | None]
) -> Quota:
    """Limit ``workspace``'s calls to ``endpoint`` (None: to all its models); at least one
    limit is required, and one quota per workspace and scope (``Conflict`` otherwise)."""
    if all(value is None for value in limits.values()):
        raise InvalidParameter("Give at least one limit.")
    try:
        with transaction.atomic():
            return Quota.objects.create(workspace=workspace, endpoint=endpoint, **limits)
    except IntegrityError:
        raise Conflict("That workspace already has a quota for this scope; edit it.") from None


def update_quota(quota: Quota, changes: dict[str, Any]) -> Quota:
    """Set the limits in ``changes``; a limit given as None is lifted."""
    for name, value in changes.items():
        if name in LIMITS:
            setattr(quota, name, value)
    quota.save()
    return quota


def delete_quota(quota: Quota) -> None:
    quota.delete()
