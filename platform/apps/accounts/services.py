"""Writes of the accounts app: workspaces, members, API keys, and the first-run bootstrap.

Handlers and commands call these; they validate business rules and raise ``studio.errors``
exceptions that every surface renders the same way.
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts import keys
from apps.accounts.models import ApiKey, Membership, Role, User, Workspace
from apps.accounts.selectors import api_key_by_prefix
from studio.errors import Conflict, InvalidApiKey, InvalidParameter

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


def add_member(
    workspace: Workspace,
    *,
    email: str,
    role: Role,
    name: str = "",
    password: str | None = None,
) -> Membership:
    """Add a person to the workspace, creating their account when a password is given."""
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        if not password:
            raise InvalidParameter(
                f"password: no account exists for {email}; give a password to create it."
            )
        try:
            validate_password(password, User(email=email, name=name))
        except DjangoValidationError as exc:
            raise InvalidParameter("password: " + " ".join(exc.messages)) from None
        user = User.objects.create_user(email, password, name=name)
    try:
        with transaction.atomic():
            return Membership.objects.create(workspace=workspace, user=user, role=role)
    except IntegrityError:
        raise Conflict(f"{email} is already a member of this workspace.") from None


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
    per ``API_KEY_LAST_USED_RESOLUTION_SECONDS`` for a key, not on every request.
    """
    presented = presented.strip()
    if not keys.looks_like_key(presented):
        raise InvalidApiKey("Invalid API-key provided.")
    api_key = api_key_by_prefix(presented[: keys.PREFIX_LENGTH])
    stored_hash = api_key.secret_hash if api_key is not None else _DUMMY_HASH
    if not hmac.compare_digest(stored_hash, keys.hash_key(presented)) or api_key is None:
        raise InvalidApiKey("Invalid API-key provided.")
    now = timezone.now()
    if api_key.revoked_at is not None:
        raise InvalidApiKey("This API key has been revoked.")
    if api_key.is_expired(now):
        raise InvalidApiKey("This API key has expired.")
    _touch_last_used(api_key, now)
    return api_key


def _touch_last_used(api_key: ApiKey, now: datetime) -> None:
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is not None and now - api_key.last_used_at < resolution:
        return
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
