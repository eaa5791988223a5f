"""``ministudio plugins list`` and ``ministudio plugins sync``."""

import json

import django


def list_plugins(*, as_json: bool) -> int:
    """Print what this environment has installed, straight from the entry points.

    Needs no database: an operator can check a `pip install` before anything runs. Exits 1
    when a plugin failed to load, so scripts notice.
    """
    from apps.plugins.discovery import discover, failures

    found = sorted(discover().values(), key=lambda d: d.key)
    rows = [
        {
            "id": d.plugin_id,
            "kind": d.kind,
            "version": d.version,
            "distribution": d.distribution,
            "status": d.status.value,
            "error": d.error,
        }
        for d in found
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(rows)
    return 1 if failures(discover()) else 0


def _print_table(rows: list[dict]) -> None:
    columns = ["id", "kind", "version", "distribution", "status", "error"]
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns[:-1]}
    print("  ".join(c.upper().ljust(widths.get(c, 0)) for c in columns).rstrip())
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths.get(c, 0)) for c in columns).rstrip())
    if not rows:
        print("(no plugins installed)")


def sync() -> int:
    """Record installed plugins in the registry; print what changed state."""
    django.setup()
    from django.conf import settings

    from apps.plugins.services import PluginsFailed, sync_plugins

    try:
        result = sync_plugins(strict=settings.PLUGINS_STRICT)
    except PluginsFailed as exc:
        print(f"ministudio: {exc}")
        return 1
    print(
        f"ministudio: {len(result.loaded)} plugins loaded, {len(result.failed)} failed, "
        f"{len(result.missing)} no longer installed"
    )
    for name in result.failed:
        print(f"  failed: {name} (see `ministudio plugins list`)")
    for name in result.missing:
        print(f"  gone: {name}")
    return 0


def sync_at_start() -> None:
    """A web server records what it has installed before serving (so a restart is enough
    after a `pip install`)."""
    django.setup()
    from django.conf import settings

    from apps.plugins.services import sync_plugins

    sync_plugins(strict=settings.PLUGINS_STRICT)
