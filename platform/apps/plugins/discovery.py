"""Finding plugins through entry points, each load isolated from the others.

``discover()`` reads the three entry-point groups, imports each plugin class and checks it
against the contract. Nothing a plugin does at import can take the platform down: import
errors, contract violations and unsupported contract versions become a ``failed`` or
``incompatible`` record with the reason. The result is cached per process; ``refresh()``
forgets it (after a pip install, or in tests).
"""

import functools
import logging
import threading
from dataclasses import dataclass, replace
from enum import StrEnum
from importlib.metadata import EntryPoint, entry_points

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from plugins.base import BASE_CLASSES, CONTRACT_VERSION, ContractViolation, Plugin

logger = logging.getLogger(__name__)

GROUPS = {"loader": "ministudio.loaders", "tool": "ministudio.tools", "model": "ministudio.models"}


class Status(StrEnum):
    LOADED = "loaded"
    FAILED = "failed"
    INCOMPATIBLE = "incompatible"
    MISSING = "missing"  # recorded once, no longer installed


@dataclass(frozen=True)
class Discovered:
    kind: str
    plugin_id: str
    distribution: str
    version: str
    status: Status
    error: str = ""
    plugin_class: type[Plugin] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.plugin_id)


def _distribution_of(entry_point: EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    if dist is None:
        return ("", "")
    return (dist.metadata["Name"] or "", dist.version or "")


def _load(kind: str, entry_point: EntryPoint) -> Discovered:
    distribution, version = _distribution_of(entry_point)
    found = functools.partial(Discovered, kind, entry_point.name, distribution, version)
    try:
        plugin_class = entry_point.load()
    except BaseException as exc:  # a plugin may even call sys.exit() at import
        if isinstance(exc, KeyboardInterrupt):
            raise
        logger.warning("Plugin %s/%s failed to import: %r", kind, entry_point.name, exc)
        return found(Status.FAILED, f"import failed: {type(exc).__name__}: {exc}")
    base = BASE_CLASSES[kind]
    if not (isinstance(plugin_class, type) and issubclass(plugin_class, base)):
        return found(
            Status.FAILED, f"contract violation: {entry_point.value} is not a {base.__name__}"
        )
    try:
        supported = SpecifierSet(plugin_class.supported_contract)
    except InvalidSpecifier:
        return found(
            Status.FAILED,
            f"contract violation: bad supported_contract {plugin_class.supported_contract!r}",
        )
    if Version(CONTRACT_VERSION) not in supported:
        return found(
            Status.INCOMPATIBLE,
            f"supports contract {plugin_class.supported_contract}; "
            f"this platform speaks {CONTRACT_VERSION}",
        )
    try:
        plugin_class.check_contract()
    except ContractViolation as exc:
        return found(Status.FAILED, f"contract violation: {exc}")
    except Exception as exc:
        return found(Status.FAILED, f"contract check failed: {type(exc).__name__}: {exc}")
    return found(Status.LOADED, "", plugin_class)


_lock = threading.Lock()


@functools.cache
def _discover() -> dict[tuple[str, str], Discovered]:
    discovered: dict[tuple[str, str], Discovered] = {}
    for kind, group in GROUPS.items():
        for entry_point in entry_points(group=group):
            result = _load(kind, entry_point)
            if result.key in discovered:  # two distributions claim one id: the first wins
                first = discovered[result.key]
                note = (
                    f"id also claimed by {result.distribution} {result.version}, which is ignored"
                )
                discovered[result.key] = replace(
                    first, error="; ".join(filter(None, [first.error, note]))
                )
                logger.warning(
                    "Plugin id %s/%s is claimed by %s and %s; using %s",
                    kind,
                    result.plugin_id,
                    first.distribution,
                    result.distribution,
                    first.distribution,
                )
                continue
            discovered[result.key] = result
    return discovered


def discover() -> dict[tuple[str, str], Discovered]:
    """Every installed plugin by (kind, id), loaded once per process."""
    with _lock:
        return _discover()


def refresh() -> None:
    """Forget what was discovered; the next ``discover()`` reads entry points again."""
    import importlib

    with _lock:
        importlib.invalidate_caches()
        _discover.cache_clear()


def failures(discovered: dict[tuple[str, str], Discovered]) -> list[Discovered]:
    return [d for d in discovered.values() if d.status != Status.LOADED]


_instances: dict[type[Plugin], Plugin] = {}


def instance_of(plugin_class: type[Plugin]) -> Plugin:
    """The one instance of a plugin class in this process."""
    with _lock:
        if plugin_class not in _instances:
            _instances[plugin_class] = plugin_class()
        return _instances[plugin_class]
