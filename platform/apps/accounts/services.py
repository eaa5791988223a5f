"""Writes of the accounts app: workspaces, members and invitations, API keys, and the
first-run bootstrap.

Handlers and commands call these; they validate business rules and raise ``kernel.errors``
exceptions that every surface renders the same way.
"""

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts import keys
from apps.accounts.models import ApiKey, Invitation, Membership, Role, User, Workspace
from apps.accounts.selectors import api_key_by_prefix, invitation_by_token_hash
from kernel import config_cache
from kernel.errors import (
    AccessDenied,
    ApiError,
    Conflict,
    InvalidApiKey,
    InvalidParameter,
    NotFound,
)

logger = logging.getLogger(__name__)

DEMO_WORKSPACE_SLUG = "demo"
# Compared against when no key has the presented prefix, so a miss costs the same as a hit.
_DUMMY_HASH = keys.hash_key("sk-" + "0" * 48)


# --- workspaces -----------------------------------------------------------------------------


def create_workspace(
    *, name: str, slug: str | None = None, creator: User | None = None
) -> Workspace:
    """Create a workspace; its creator (if any) becomes its first admin."""
    slug = slug or slugify(name)[:50]
    if not slug:
        raise InvalidParameter("slug: cannot be derived from the name; give one explicitly.")
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(name=name, slug=slug)
            if creator is not None:
                Membership.objects.create(workspace=workspace, user=creator, role=Role.ADMIN)
    except IntegrityError:
        raise Conflict(f"A workspace with slug '{slug}' already exists.") from None
    return workspace


def rename_workspace(workspace: Workspace, *, name: str) -> Workspace:
    workspace.name = name
    workspace.save(update_fields=["name"])
    return workspace


# --- members --------------------------------------------------------------------------------


class InvitationGone(ApiError):
    """The invitation's link no longer works: used, revoked or expired."""

    status = 410
    code = "InvitationExpired"


@dataclass(frozen=True)
class CreatedInvitation:
    invitation: Invitation
    #: The accept link with its token: for the inviting admin when no e-mail went out.
    accept_url: str
    email_sent: bool


def invitation_email_enabled() -> bool:
    return bool(settings.EMAIL_HOST)


def accept_url(console_url: str, token: str) -> str:
    """The console's accept page. The token travels in the fragment, which browsers never
    send to a server, so it appears in no access log and no Referer header."""
    return f"{console_url.rstrip('/')}/invitations/accept#{token}"


def invite_member(
    workspace: Workspace,
    *,
    email: str,
    role: Role,
    invited_by: User | None,
    console_url: str,
) -> CreatedInvitation:
    """Invite ``email`` to the workspace with ``role``, or renew its open invitation.

    Whether the address has an account makes no difference here, so the answer cannot
    tell an admin who is registered on the platform. Inviting someone who is already a
    member of this workspace is a conflict (the admin can see the members anyway).
    """
    email = email.strip().lower()
    if Membership.objects.in_workspace(workspace).filter(user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of this workspace.", code="AlreadyMember")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    values = {
        "role": role,
        "token_hash": keys.hash_key(token),
        "invited_by": invited_by,
        "sent_at": now,
        "expires_at": now + timedelta(days=settings.INVITATION_LIFETIME_DAYS),
    }
    with transaction.atomic():
        invitation = (
            Invitation.objects.in_workspace(workspace)
            .select_for_update()
            .filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True)
            .first()
        )
        if invitation is None:
            invitation = Invitation.objects.create(workspace=workspace, email=email, **values)
        else:
            for name, value in values.items():
                setattr(invitation, name, value)
            invitation.save(update_fields=list(values))
    link = accept_url(console_url, token)
    return CreatedInvitation(invitation, link, _send_invitation(invitation, link))


def _send_invitation(invitation: Invitation, link: str) -> bool:
    """E-mail the link when e-mail is configured; False when it is not or sending failed."""
    if not invitation_email_enabled():
        return False
    inviter = invitation.invited_by
    who = (inviter.name or inviter.email) if inviter else "An administrator"
    workspace = invitation.workspace.name
    body = (
        f"{who} invited you to the workspace {workspace!r} on ministudio, "
        f"as {invitation.get_role_display().lower()}.\n\n"
        f"Open this link to accept (it works until "
        f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC):\n\n{link}\n\n"
        "If you did not expect this invitation, ignore this message.\n"
    )
    try:
        send_mail(
            f"You are invited to {workspace} on ministudio",
            body,
            None,
            [invitation.email],
            fail_silently=False,
        )
    except Exception as exc:  # any transport failure: the admin gets the link instead
        # Never the link itself: it carries the token.
        logger.warning(
            "The invitation e-mail for %s could not be sent (%s); the console shows the link "
            "instead.",
            invitation.email,
            type(exc).__name__,
        )
        return False
    return True


def _usable_invitation(token: str, *, lock: bool = False) -> Invitation:
    """The invitation ``token`` opens, or NotFound / InvitationGone saying why not."""
    invitation = invitation_by_token_hash(keys.hash_key(token.strip()), lock=lock)
    if invitation is None:
        raise NotFound(
            "This invitation link is not valid: it may have been replaced by a newer one. "
            "Ask a workspace admin to invite you again."
        )
    if invitation.accepted_at is not None:
        raise InvitationGone("This invitation has already been used.", code="InvitationUsed")
    if invitation.revoked_at is not None:
        raise InvitationGone("This invitation was revoked.", code="InvitationRevoked")
    if invitation.is_expired():
        raise InvitationGone(
            "This invitation has expired; ask a workspace admin to invite you again."
        )
    return invitation


def check_invitation(token: str) -> Invitation:
    """The open invitation behind ``token`` (for the accept page to show)."""
    return _usable_invitation(token)


def _join(invitation: Invitation, user: User) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def accept_invitation(token: str, user: User) -> Membership:
    """``user`` joins with the invitation's role. Someone already a member keeps theirs."""
    invitation = _usable_invitation(token, lock=True)
    if user.email.lower() != invitation.email:
        raise AccessDenied(
            f"This invitation is for {invitation.email}, and you are signed in as "
            f"{user.email}. Sign out, then open the link again.",
            code="InvitationForAnotherUser",
        )
    return _join(invitation, user)


@transaction.atomic
def accept_invitation_with_new_account(token: str, *, name: str, password: str) -> User:
    """Create the invited address's account and join the workspace, in one step."""
    invitation = _usable_invitation(token, lock=True)
    email = invitation.email
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(
            f"An account for {email} already exists: sign in to accept the invitation.",
            code="AccountExists",
        )
    try:
        validate_password(password, User(email=email, name=name))
    except DjangoValidationError as exc:
        raise InvalidParameter("password: " + " ".join(exc.messages)) from None
    try:
        with transaction.atomic():
            user = User.objects.create_user(email, password, name=name)
    except IntegrityError:
        raise Conflict(
            f"An account for {email} already exists: sign in to accept the invitation.",
            code="AccountExists",
        ) from None
    _join(invitation, user)
    return user


def revoke_invitation(invitation: Invitation) -> Invitation:
    if invitation.accepted_at is not None:
        raise Conflict(
            "This invitation has already been accepted; remove the member instead.",
            code="InvitationUsed",
        )
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def _ensure_another_admin(membership: Membership) -> None:
    others = (
        Membership.objects.in_workspace(membership.workspace)
        .filter(role=Role.ADMIN)
        .exclude(pk=membership.pk)
    )
    if not others.exists():
        raise Conflict(
            "A workspace must keep at least one admin; promote someone else first.",
            code="LastAdmin",
        )


@transaction.atomic
def change_member_role(membership: Membership, *, role: Role) -> Membership:
    # Lock the workspace's admin rows so two demotions cannot both pass the last-admin check.
    list(
        Membership.objects.in_workspace(membership.workspace)
        .filter(role=Role.ADMIN)
        .select_for_update()
    )
    if membership.role == Role.ADMIN and role != Role.ADMIN:
        _ensure_another_admin(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(membership: Membership) -> None:
    list(
        Membership.objects.in_workspace(membership.workspace)
        .filter(role=Role.ADMIN)
        .select_for_update()
    )
    if membership.role == Role.ADMIN:
        _ensure_another_admin(membership)
    membership.delete()


# --- API keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    plaintext: str


def create_api_key(
    workspace: Workspace, *, name: str, created_by: User | None, expires_at: datetime | None = None
) -> CreatedApiKey:
    """Create a key; the plaintext is returned here once and never stored."""
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidParameter("expires_at: must be in the future.")
    for _ in range(5):  # a prefix collision is astronomically rare; retry rather than fail
        new_key = keys.generate_key()
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    workspace=workspace,
                    name=name,
                    prefix=new_key.prefix,
                    secret_hash=new_key.secret_hash,
                    last_four=new_key.last_four,
                    created_by=created_by,
                    expires_at=expires_at,
                )
            return CreatedApiKey(api_key=api_key, plaintext=new_key.plaintext)
        except IntegrityError:
            continue
    raise RuntimeError("Could not allocate a unique API key prefix.")


def revoke_api_key(api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def authenticate_api_key(presented: str) -> ApiKey:
    """The active key matching ``presented``, or ``InvalidApiKey``.

    The secret is compared in constant time, and ``last_used_at`` is written at most once
    per ``API_KEY_LAST_USED_RESOLUTION_SECONDS`` for a key, not on every request. Keys are
    read through the process's configuration cache (``kernel.config_cache``): a warm key
    costs one Redis GET, and a revoked one is refused by the next call in every process.
    """
    presented = _well_formed(presented)
    prefix = presented[: keys.PREFIX_LENGTH]
    version = config_cache.current_version()
    api_key = config_cache.cached(("api-key", prefix), version, lambda: api_key_by_prefix(prefix))
    now = timezone.now()
    _check_key(api_key, presented, now)
    if _needs_touch(api_key, now):
        _touch_last_used(api_key, now)
    return api_key


async def aauthenticate_api_key(presented: str) -> ApiKey:
    """``authenticate_api_key`` for async code: no thread unless the key is not cached yet
    or its ``last_used_at`` is due."""
    presented = _well_formed(presented)
    prefix = presented[: keys.PREFIX_LENGTH]
    version = await config_cache.acurrent_version()
    api_key = await config_cache.acached(
        ("api-key", prefix), version, sync_to_async(api_key_by_prefix), prefix
    )
    now = timezone.now()
    _check_key(api_key, presented, now)
    if _needs_touch(api_key, now):
        await sync_to_async(_touch_last_used)(api_key, now)
    return api_key


def _well_formed(presented: str) -> str:
    presented = presented.strip()
    if not keys.looks_like_key(presented):
        raise InvalidApiKey("Invalid API-key provided.")
    return presented


def _check_key(api_key: ApiKey | None, presented: str, now: datetime) -> None:
    """Refuse a key that is unknown, does not match, is revoked or has expired."""
    stored_hash = api_key.secret_hash if api_key is not None else _DUMMY_HASH
    if not hmac.compare_digest(stored_hash, keys.hash_key(presented)) or api_key is None:
        raise InvalidApiKey("Invalid API-key provided.")
    if api_key.revoked_at is not None:
        raise InvalidApiKey("This API key has been revoked.")
    if api_key.is_expired(now):
        raise InvalidApiKey("This API key has expired.")


def _needs_touch(api_key: ApiKey, now: datetime) -> bool:
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    return api_key.last_used_at is None or now - api_key.last_used_at >= resolution


def _touch_last_used(api_key: ApiKey, now: datetime) -> None:
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    # Conditional on the stored value, so concurrent requests write it once.
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - resolution), pk=api_key.pk
    ).update(last_used_at=now)
    api_key.last_used_at = now


# --- first run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapResult:
    admin: User
    admin_created: bool
    generated_password: str | None
    demo_workspace: Workspace
    demo_created: bool


@transaction.atomic
def bootstrap(*, admin_email: str, admin_password: str | None) -> BootstrapResult:
    """Ensure a platform admin and a demo workspace exist; safe to run on every start.

    An existing admin keeps its password: the environment only seeds the first run.
    """
    admin = User.objects.filter(email__iexact=admin_email).first()
    generated_password = None
    admin_created = admin is None
    if admin is None:
        if not admin_password:
            generated_password = admin_password = secrets.token_urlsafe(15)
        admin = User.objects.create_superuser(admin_email, admin_password, name="Admin")
    demo = Workspace.objects.filter(slug=DEMO_WORKSPACE_SLUG).first()
    demo_created = demo is None
    if demo is None:
        demo = create_workspace(name="Demo", slug=DEMO_WORKSPACE_SLUG, creator=admin)
    return BootstrapResult(admin, admin_created, generated_password, demo, demo_created)
