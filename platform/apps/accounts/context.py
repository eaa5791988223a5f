"""The workspace a console request acts on, and as whom.

The workspace comes from the API key, or else from the ``X-Workspace`` header (a slug).
A workspace the caller cannot open is reported as not found, exactly like one that does
not exist, so tenants cannot probe each other's slugs.
"""

from dataclasses import dataclass

from django.http import HttpRequest

from apps.accounts.models import ApiKey, Role, User, Workspace
from apps.accounts.permissions import API_KEY, Permission, permissions_of
from apps.accounts.selectors import get_workspace_for_user, membership_of
from kernel.errors import AccessDenied, InvalidParameter, NotFound

WORKSPACE_HEADER = "X-Workspace"


@dataclass(frozen=True)
class WorkspaceContext:
    workspace: Workspace
    role: str
    user: User | None = None
    api_key: ApiKey | None = None

    def can(self, permission: Permission) -> bool:
        return permission in permissions_of(self.role)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise AccessDenied(
                f"Your role ({self.role.replace('_', ' ')}) may not {permission.replace('_', ' ')} "
                "in this workspace."
            )


def caller_user(request: HttpRequest) -> User | None:
    """The signed-in person, or None when the caller is an API key."""
    return request.auth if isinstance(request.auth, User) else None


def require_user(request: HttpRequest) -> User:
    user = caller_user(request)
    if user is None:
        raise AccessDenied("This action needs a signed-in user, not an API key.")
    return user


def require_platform_admin(request: HttpRequest) -> User:
    """The signed-in platform admin, or AccessDenied (API keys are never platform admins)."""
    user = caller_user(request)
    if user is None or not user.is_staff:
        raise AccessDenied("Only platform admins may do this.")
    return user


def workspace_context(request: HttpRequest) -> WorkspaceContext:
    slug = request.headers.get(WORKSPACE_HEADER, "").strip()
    if isinstance(request.auth, ApiKey):
        api_key = request.auth
        if slug and slug != api_key.workspace.slug:
            raise NotFound(f"Workspace '{slug}' not found.")
        return WorkspaceContext(workspace=api_key.workspace, role=API_KEY, api_key=api_key)

    user: User = request.auth
    if not slug:
        raise InvalidParameter(f"The {WORKSPACE_HEADER} header (a workspace slug) is required.")
    workspace = get_workspace_for_user(user, slug)
    if user.is_staff:
        return WorkspaceContext(workspace=workspace, role=Role.ADMIN, user=user)
    membership = membership_of(user, workspace)
    return WorkspaceContext(workspace=workspace, role=membership.role, user=user)
