"""Console API: sessions, workspaces, members and invitations, API keys.

Handlers validate (schemas), resolve the caller's workspace context, check the permission,
call a service or selector, and shape the response. Nothing else lives here.
"""

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest
from django.middleware.csrf import get_token
from ninja import Router, Schema, Status

from apps.accounts import selectors, services, throttling
from apps.accounts.auth import CSRF_BEFORE_SIGN_IN, require_csrf
from apps.accounts.context import (
    caller_user,
    require_platform_admin,
    require_user,
    workspace_context,
)
from apps.accounts.models import ApiKey, Membership, Role, User, Workspace
from apps.accounts.permissions import API_KEY, Permission
from apps.accounts.schemas import (
    ApiKeyCreatedOut,
    ApiKeyCreateIn,
    ApiKeyOut,
    InvitationCreatedOut,
    InvitationIn,
    InvitationOut,
    InvitationPreviewOut,
    InvitationSignUpIn,
    InvitationTokenIn,
    LoginIn,
    MemberOut,
    MemberRoleIn,
    MeOut,
    MyWorkspaceOut,
    WorkspaceCreateIn,
    WorkspaceOut,
    WorkspaceRenameIn,
)
from apps.accounts.tenancy import get_in_workspace
from kernel.errors import NotAuthenticated
from kernel.openapi import UUIDText, also_answers

router = Router()


class CsrfOut(Schema):
    csrf_token: str


# --- session ---------------------------------------------------------------------------------


@router.get("/auth/csrf", auth=None, response=CsrfOut, tags=["auth"])
def csrf(request: HttpRequest):
    """Set the ``csrftoken`` cookie; send its value back as ``X-CSRFToken`` on writes."""
    return {"csrf_token": get_token(request)}


@router.post(
    "/auth/login",
    auth=None,
    response=MeOut,
    tags=["auth"],
    openapi_extra=also_answers(401, 403, 429),
)
def login_view(request: HttpRequest, payload: LoginIn):
    require_csrf(request, CSRF_BEFORE_SIGN_IN)
    # Failures are counted and lock-outs refused by the backend (apps.accounts.throttling).
    user = authenticate(request, username=payload.email, password=payload.password)
    if user is None:
        throttling.raise_if_locked_out(request)
        raise NotAuthenticated("Wrong e-mail or password.", code="InvalidCredentials")
    login(request, user)
    return {"user": user, "workspaces": _workspaces_of(user)}


@router.post("/auth/logout", response={204: None}, tags=["auth"])
def logout_view(request: HttpRequest):
    require_user(request)
    logout(request)
    return Status(204, None)


@router.get("/auth/me", response=MeOut, tags=["auth"])
def me(request: HttpRequest):
    """Who is calling: a user and their workspaces, or an API key and its workspace."""
    user = caller_user(request)
    if user is not None:
        return {"user": user, "workspaces": _workspaces_of(user)}
    api_key: ApiKey = request.auth
    return {
        "user": None,
        "workspaces": [_with_role(api_key.workspace, API_KEY)],
        "api_key": api_key,
    }


def _with_role(workspace: Workspace, role: str) -> dict:
    return {**WorkspaceOut.from_orm(workspace).model_dump(), "role": role}


def _workspaces_of(user: User) -> list[dict]:
    roles = {m.workspace_id: m.role for m in user.memberships.all()}
    return [
        _with_role(ws, Role.ADMIN if user.is_staff else roles[ws.id])
        for ws in selectors.workspaces_for_user(user)
    ]


# --- workspaces ------------------------------------------------------------------------------


@router.get("/workspaces", response=list[MyWorkspaceOut], tags=["workspaces"])
def list_workspaces(request: HttpRequest):
    """The workspaces the caller can open (an API key sees its own)."""
    user = caller_user(request)
    if user is None:
        return [_with_role(request.auth.workspace, API_KEY)]
    return _workspaces_of(user)


@router.post("/workspaces", response={201: WorkspaceOut}, tags=["workspaces"])
def create_workspace(request: HttpRequest, payload: WorkspaceCreateIn):
    """Create a workspace (platform admins only); the creator becomes its admin."""
    user = require_platform_admin(request)
    workspace = services.create_workspace(name=payload.name, slug=payload.slug, creator=user)
    return Status(201, workspace)


@router.get("/workspace", response=MyWorkspaceOut, tags=["workspaces"])
def current_workspace(request: HttpRequest):
    """The workspace named by ``X-Workspace`` (or the API key's)."""
    ctx = workspace_context(request)
    return _with_role(ctx.workspace, ctx.role)


@router.patch("/workspace", response=MyWorkspaceOut, tags=["workspaces"])
def rename_workspace(request: HttpRequest, payload: WorkspaceRenameIn):
    ctx = workspace_context(request)
    ctx.require(Permission.RENAME_WORKSPACE)
    workspace = services.rename_workspace(ctx.workspace, name=payload.name)
    return _with_role(workspace, ctx.role)


# --- members ---------------------------------------------------------------------------------


@router.get("/members", response=list[MemberOut], tags=["members"])
def list_members(request: HttpRequest):
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    return selectors.members_of(ctx.workspace)


@router.patch("/members/{member_id}", response=MemberOut, tags=["members"])
def change_member_role(request: HttpRequest, member_id: UUIDText, payload: MemberRoleIn):
    ctx = workspace_context(request)
    ctx.require(Permission.MANAGE_MEMBERS)
    membership = get_in_workspace(selectors.members_of(ctx.workspace), ctx.workspace, pk=member_id)
    return services.change_member_role(membership, role=payload.role)


@router.delete("/members/{member_id}", response={204: None}, tags=["members"])
def remove_member(request: HttpRequest, member_id: UUIDText):
    ctx = workspace_context(request)
    ctx.require(Permission.MANAGE_MEMBERS)
    services.remove_member(get_in_workspace(Membership, ctx.workspace, pk=member_id))
    return Status(204, None)


# --- invitations -----------------------------------------------------------------------------


@router.get("/invitations", response=list[InvitationOut], tags=["members"])
def list_invitations(request: HttpRequest):
    """Invitations not yet accepted or revoked (pending or expired); never their links."""
    ctx = workspace_context(request)
    ctx.require(Permission.MANAGE_MEMBERS)
    return selectors.open_invitations_of(ctx.workspace)


@router.post("/invitations", response={201: InvitationCreatedOut}, tags=["members"])
def invite_member(request: HttpRequest, payload: InvitationIn):
    """Invite an e-mail address with a role (or renew its open invitation).

    The answer is the same whether or not the address has an account. The link is
    e-mailed when e-mail is configured, and otherwise returned here, once.
    """
    ctx = workspace_context(request)
    ctx.require(Permission.MANAGE_MEMBERS)
    created = services.invite_member(
        ctx.workspace,
        email=payload.email,
        role=payload.role,
        invited_by=ctx.user,
        console_url=request.build_absolute_uri("/"),
    )
    invitation = created.invitation
    invitation.email_sent = created.email_sent
    invitation.accept_url = None if created.email_sent else created.accept_url
    return Status(201, invitation)


@router.post("/invitations/{invitation_id}/revoke", response=InvitationOut, tags=["members"])
def revoke_invitation(request: HttpRequest, invitation_id: UUIDText):
    ctx = workspace_context(request)
    ctx.require(Permission.MANAGE_MEMBERS)
    invitation = get_in_workspace(
        selectors.invitations_of(ctx.workspace), ctx.workspace, pk=invitation_id
    )
    return services.revoke_invitation(invitation)


@router.post(
    "/invitations/lookup",
    auth=None,
    response=InvitationPreviewOut,
    tags=["members"],
    openapi_extra=also_answers(404, 410),
)
def look_up_invitation(request: HttpRequest, payload: InvitationTokenIn):
    """What an invitation link is for, to whoever holds it: 404 unknown, 410 used,
    revoked or expired. The token goes in the body, so it is in no URL or access log."""
    invitation = services.check_invitation(payload.token)
    inviter = invitation.invited_by
    return {
        "workspace": invitation.workspace.name,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": (inviter.name or inviter.email) if inviter else None,
        "expires_at": invitation.expires_at,
    }


@router.post(
    "/invitations/accept",
    response=MyWorkspaceOut,
    tags=["members"],
    openapi_extra=also_answers(410),
)
def accept_invitation(request: HttpRequest, payload: InvitationTokenIn):
    """The signed-in user joins; the invitation must be for their e-mail address."""
    user = require_user(request)
    membership = services.accept_invitation(payload.token, user)
    return _with_role(membership.workspace, membership.role)


@router.post(
    "/invitations/sign-up",
    auth=None,
    response={201: MeOut},
    tags=["members"],
    openapi_extra=also_answers(403, 404, 410),
)
def accept_invitation_with_new_account(request: HttpRequest, payload: InvitationSignUpIn):
    """Create the invited address's account (name, password), join, and sign in."""
    require_csrf(request, CSRF_BEFORE_SIGN_IN)
    user = services.accept_invitation_with_new_account(
        payload.token, name=payload.name, password=payload.password
    )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return Status(201, {"user": user, "workspaces": _workspaces_of(user)})


# --- API keys --------------------------------------------------------------------------------


@router.get("/api-keys", response=list[ApiKeyOut], tags=["api keys"])
def list_api_keys(request: HttpRequest):
    """The workspace's keys, masked; the whole key is only ever shown at creation."""
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_API_KEYS)
    return selectors.api_keys_of(ctx.workspace)


@router.post("/api-keys", response={201: ApiKeyCreatedOut}, tags=["api keys"])
def create_api_key(request: HttpRequest, payload: ApiKeyCreateIn):
    ctx = workspace_context(request)
    ctx.require(Permission.CREATE_API_KEYS)
    created = services.create_api_key(
        ctx.workspace, name=payload.name, created_by=ctx.user, expires_at=payload.expires_at
    )
    api_key = created.api_key
    api_key.key = created.plaintext  # only on this response object; never saved
    return Status(201, api_key)


@router.post("/api-keys/{api_key_id}/revoke", response=ApiKeyOut, tags=["api keys"])
def revoke_api_key(request: HttpRequest, api_key_id: UUIDText):
    """Revoke a key at once. Developers may revoke the keys they created; admins any key."""
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_API_KEYS)
    api_key = get_in_workspace(selectors.api_keys_of(ctx.workspace), ctx.workspace, pk=api_key_id)
    own = ctx.user is not None and api_key.created_by_id == ctx.user.pk
    if not own:
        ctx.require(Permission.REVOKE_ANY_API_KEY)
    return services.revoke_api_key(api_key)
