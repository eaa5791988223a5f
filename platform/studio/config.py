"""Reading configuration from the environment, without Django.

The CLI (``ministudio up``) and the settings module share these so that the embedded
servers it starts are exactly the ones the settings point at by default.
"""

import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

DEVELOPMENT_SECRET_KEY = "django-insecure-ministudio-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)
EMBEDDED_DATABASE_NAME = "ministudio"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str) -> str | None:
    """The variable's value, or None when it is unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def env_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_int(name: str, *, default: int) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer; got {raw!r}") from None


def env_list(name: str, *, default: list[str]) -> list[str]:
    raw = env_str(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_stdio_commands(name: str) -> dict[str, dict]:
    """The allow-list of stdio MCP servers, a JSON object: ``{"<name>": {"command":
    ["/absolute/path", "arg", ...], "description": "...", "env": {"VAR": "value"}}}``."""
    raw = env_str(name)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a JSON object; {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object of name → {{command, description, env}}")
    for key, entry in value.items():
        where = f"{name}[{key!r}]"
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", key):
            raise ValueError(f"{where}: names are lower-case letters, digits, '_' or '-'")
        if not isinstance(entry, dict) or set(entry) - {"command", "description", "env"}:
            raise ValueError(f"{where}: an object with command, description and env")
        command = entry.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(part, str) for part in command)
            or not os.path.isabs(command[0])
        ):
            raise ValueError(f"{where}.command: a list of strings, an absolute path first")
        env = entry.get("env") or {}
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise ValueError(f"{where}.env: an object of strings")
        if not isinstance(entry.get("description", ""), str):
            raise ValueError(f"{where}.description: text")
    return value


def data_dir() -> Path:
    """``MINISTUDIO_DATA_DIR`` (default ``./var``), absolute."""
    return Path(env_str("MINISTUDIO_DATA_DIR") or "var").resolve()


def postgres_dir(base: Path) -> Path:
    return base / "postgres"


def redis_dir(base: Path) -> Path:
    return base / "redis"


def redis_socket(base: Path) -> Path:
    return redis_dir(base) / "redis.sock"


def default_database_url(base: Path) -> str:
    """The embedded server's Unix socket under the data directory (what `up` starts)."""
    host = quote(str(postgres_dir(base)), safe="")
    return f"postgres://postgres@{host}/{EMBEDDED_DATABASE_NAME}"


def default_redis_url(base: Path) -> str:
    return f"unix://{redis_socket(base)}"


def celery_url(redis_url: str) -> str:
    """Translate a redis-py URL into the form kombu and Celery's backend accept.

    redis-py spells a Unix socket ``unix:///path?db=N``; Celery wants
    ``redis+socket:///path?virtual_host=N``. TCP URLs pass through unchanged.
    """
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    db = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{parts.path}?virtual_host={db}"


def read_secret_key_file(base: Path) -> str | None:
    path = base / SECRET_KEY_FILE
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
