"""Reads of the accounts app. Everything tenant-owned is read inside one workspace."""

from django.db.models import QuerySet

from apps.accounts.models import ApiKey, Invitation, Membership, User, Workspace
from kernel.errors import NotFound


def workspaces_for_user(user: User) -> QuerySet[Workspace]:
    """The workspaces a user can open: all of them for a platform admin."""
    if user.is_staff:
        return Workspace.objects.all()
    return Workspace.objects.filter(memberships__user=user)


def get_workspace_for_user(user: User, slug: str) -> Workspace:
    """The workspace ``slug`` that ``user`` can open, or ``NotFound``."""
    workspace = workspaces_for_user(user).filter(slug=slug).first()
    if workspace is None:
        raise NotFound(f"Workspace '{slug}' not found.")
    return workspace


def membership_of(user: User, workspace: Workspace) -> Membership | None:
    return Membership.objects.in_workspace(workspace).filter(user=user).first()


def members_of(workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.in_workspace(workspace).select_related("user")


def invitations_of(workspace: Workspace) -> QuerySet[Invitation]:
    """Every invitation of ``workspace``, accepted and revoked ones included."""
    return Invitation.objects.in_workspace(workspace).select_related("invited_by")


def open_invitations_of(workspace: Workspace) -> QuerySet[Invitation]:
    """Invitations not yet accepted or revoked (expired ones included: they can be renewed)."""
    return invitations_of(workspace).filter(accepted_at__isnull=True, revoked_at__isnull=True)


def invitation_by_token_hash(token_hash: str, *, lock: bool = False) -> Invitation | None:
    invitations = Invitation.objects.select_related("workspace", "invited_by")
    if lock:
        invitations = invitations.select_for_update(of=("self",))
    return invitations.filter(token_hash=token_hash).first()


def api_keys_of(workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.in_workspace(workspace).select_related("created_by")


def api_key_by_prefix(prefix: str) -> ApiKey | None:
    return ApiKey.objects.select_related("workspace").filter(prefix=prefix).first()
