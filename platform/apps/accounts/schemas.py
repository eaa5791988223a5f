"""Request and response bodies of the accounts endpoints."""

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from ninja import Field, Schema
from pydantic import AfterValidator, field_validator

from apps.accounts.models import Role

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")


def _clean_email(value: str) -> str:
    value = value.strip().lower()
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("not a valid e-mail address") from None
    return value


def _clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _aware(value: datetime | None) -> datetime | None:
    # A timestamp without an offset is read as UTC, the API's time zone.
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value


Email = Annotated[str, Field(max_length=254), AfterValidator(_clean_email)]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_clean_name)]
AwareDatetime = Annotated[datetime | None, AfterValidator(_aware)]


class LoginIn(Schema):
    email: Email
    password: str = Field(min_length=1, max_length=4096)


class UserOut(Schema):
    id: int
    email: str
    name: str
    is_platform_admin: bool = Field(validation_alias="is_staff")


class WorkspaceOut(Schema):
    id: uuid.UUID
    name: str
    slug: str
    created_at: datetime


class MyWorkspaceOut(WorkspaceOut):
    role: str


class MeOut(Schema):
    user: UserOut | None
    workspaces: list[MyWorkspaceOut]
    api_key: "ApiKeyOut | None" = None


class WorkspaceCreateIn(Schema):
    name: Name
    slug: str | None = Field(default=None, max_length=50)

    @field_validator("slug")
    @classmethod
    def _check_slug(cls, value: str | None) -> str | None:
        if value is not None and not _SLUG.match(value):
            raise ValueError(
                "use 1-50 lowercase letters, digits and hyphens, starting and ending "
                "with a letter or digit"
            )
        return value


class WorkspaceRenameIn(Schema):
    name: Name


class MemberOut(Schema):
    id: uuid.UUID
    user: UserOut
    role: Role
    created_at: datetime


class InvitationIn(Schema):
    email: Email
    role: Role = Role.DEVELOPER


class InvitationOut(Schema):
    id: uuid.UUID
    email: str
    role: Role
    status: Literal["pending", "expired", "accepted", "revoked"]
    invited_by: str | None = Field(description="The inviting admin's e-mail.")
    sent_at: datetime
    expires_at: datetime

    @staticmethod
    def resolve_invited_by(obj) -> str | None:
        return obj.invited_by.email if obj.invited_by else None


class InvitationCreatedOut(InvitationOut):
    email_sent: bool = Field(description="Whether the link went out by e-mail.")
    accept_url: str | None = Field(
        description="The accept link, to pass on, when it was not e-mailed. It carries a "
        "secret token: shown in this answer only, never again."
    )


class InvitationTokenIn(Schema):
    token: str = Field(min_length=1, max_length=200, description="The accept link's token.")


class InvitationSignUpIn(InvitationTokenIn):
    name: Name
    password: str = Field(min_length=1, max_length=4096)


class InvitationPreviewOut(Schema):
    """What the accept page shows to whoever holds the link."""

    workspace: str = Field(description="The workspace's name.")
    email: str
    role: Role
    invited_by: str | None
    expires_at: datetime


class MemberRoleIn(Schema):
    role: Role


class ApiKeyOut(Schema):
    id: uuid.UUID
    name: str
    masked: str
    status: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @staticmethod
    def resolve_created_by(obj) -> str | None:
        return obj.created_by.email if obj.created_by else None


class ApiKeyCreateIn(Schema):
    name: Name
    expires_at: AwareDatetime = None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The whole key. Shown this once; store it now.")


MeOut.model_rebuild()
