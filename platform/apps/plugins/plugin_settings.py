"""Storing a plugin's settings: validated by its model, secrets encrypted and masked.

Used wherever plugin settings are kept (a workspace's choice of a plugin, a model
endpoint's provider configuration). Non-secret values are plain JSON; the ``SecretStr``
fields are encrypted together into one token. Callers never see a secret again: it reads
``"***"``, and ``"***"`` sent back keeps the stored value.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic import ValidationError as PydanticValidationError

from kernel.encryption import DecryptionFailed, decrypt_json, encrypt_json
from kernel.errors import InvalidParameter
from plugins.base import PluginSettings, secret_fields

MASK = "***"


@dataclass(frozen=True)
class StoredSettings:
    plain: dict[str, Any]
    encrypted_secrets: str


def field_errors(exc: PydanticValidationError, prefix: str) -> str:
    """Pydantic's errors as ``prefix.field: message; ...``, for a 400's message."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(root)"
        parts.append(f"{prefix}.{location}: {error['msg']}")
    return "; ".join(parts)


def store_settings(
    model: type[PluginSettings],
    incoming: dict[str, Any],
    previous: StoredSettings | None = None,
    *,
    prefix: str = "settings",
) -> StoredSettings:
    """Validate ``incoming`` (a whole replacement) and split it for storage.

    A secret sent as ``"***"`` keeps ``previous``'s value; ``InvalidParameter`` names the
    offending field otherwise.
    """
    secrets = secret_fields(model)
    stored = decrypt_json(previous.encrypted_secrets) if previous else {}
    merged = dict(incoming)
    for name in secrets:
        if merged.get(name) == MASK:
            if name not in stored:
                raise InvalidParameter(f"{prefix}.{name}: no value is stored yet; send the secret")
            merged[name] = stored[name]
    try:
        validated = model.model_validate(merged)
    except PydanticValidationError as exc:
        raise InvalidParameter(field_errors(exc, prefix)) from None
    plain = validated.model_dump(mode="json", exclude=set(secrets))
    hidden = {
        name: value.get_secret_value()
        for name in secrets
        if isinstance(value := getattr(validated, name), SecretStr)
    }
    return StoredSettings(plain, encrypt_json(hidden) if hidden else "")


def load_settings(model: type[PluginSettings], stored: StoredSettings) -> PluginSettings:
    """The stored settings as a validated model instance, secrets decrypted.

    Raises ``pydantic.ValidationError`` when they no longer validate (a plugin upgrade);
    callers say what to do about it.
    """
    return model.model_validate({**stored.plain, **decrypt_json(stored.encrypted_secrets)})


def masked(stored: StoredSettings, schema: dict[str, Any]) -> dict[str, Any]:
    """Settings as an API shows them: each stored secret replaced by ``"***"``."""
    shown = dict(stored.plain)
    if stored.encrypted_secrets:
        try:
            names = list(decrypt_json(stored.encrypted_secrets))
        except DecryptionFailed:
            names = secret_names_in_schema(schema)
        shown.update(dict.fromkeys(names, MASK))
    return shown


def secret_names_in_schema(schema: dict[str, Any]) -> list[str]:
    """The fields a settings JSON Schema marks as secrets (pydantic writes SecretStr as
    ``writeOnly``)."""

    def write_only(field: dict[str, Any]) -> bool:
        return any(option.get("writeOnly") for option in [field, *field.get("anyOf", [])])

    return [name for name, field in schema.get("properties", {}).items() if write_only(field)]


def secret_values(settings: BaseModel) -> list[str]:
    """The plaintext secrets in a settings object, to scrub them from error texts."""
    return [
        value.get_secret_value()
        for value in (getattr(settings, name) for name in type(settings).model_fields)
        if isinstance(value, SecretStr) and value.get_secret_value()
    ]
