"""Workspace scoping: the one way tenant-owned rows are read.

Every model that belongs to a workspace inherits ``WorkspaceOwned`` and is read through
``Model.objects.in_workspace(ws)`` or ``get_in_workspace``. Another workspace's id then
answers 404, never 403 and never data, because the row is simply not in the queryset.
"""

from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from kernel.errors import NotFound

M = TypeVar("M", bound=models.Model)


class WorkspaceQuerySet(models.QuerySet):
    def in_workspace(self, workspace: "models.Model") -> "WorkspaceQuerySet":
        return self.filter(workspace=workspace)


class WorkspaceOwned(models.Model):
    """Abstract base of every tenant-owned model."""

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="+", editable=False
    )

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        abstract = True


def user_reference() -> models.ForeignKey:
    """A field naming the user who did something; the row stays (naming nobody) when that
    user is deleted."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )


class Created(models.Model):
    """Abstract: who created a row and when."""

    created_by = user_reference()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Audited(Created):
    """Abstract: ``Created``, and when the row last changed."""

    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def get_in_workspace(
    queryset: "models.QuerySet[M] | type[M]", workspace: "models.Model", **lookup: object
) -> M:
    """The one object matching ``lookup`` inside ``workspace``, or ``NotFound``.

    Malformed ids (a non-UUID for a UUID key) are treated as absent, like foreign ones.
    """
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()
    model = queryset.model
    try:
        return queryset.filter(workspace=workspace).get(**lookup)
    except (model.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound(f"{model._meta.verbose_name.capitalize()} not found.") from None
