"""Loading the in-process embedding models knowledge bases use when a platform process
starts, so that the first hit test costs what the tenth does.

A local model (the ``local`` provider's ``use-m3``, ``multilingual-e5-small`` and
``all-minilm-l6-v2``) is loaded into each process the first time that process uses it.
Without a warm-up, the first hit test (or the first ingestion) after a start pays for the
load. ``warm_in_background()`` looks up the models that knowledge bases embed with and
loads them on one daemon thread, one after the other, so a start takes no longer; a hit
test that comes first waits for the model's load under the provider's own lock rather
than loading it a second time.

A model is warmed when its provider offers ``warm(model)`` (the local provider does; a
provider that calls a server has nothing to load). When any knowledge base exists, two
more things every hit test and ingestion loads on first use come after the models
(``bench/warm_models.py`` measured them as what the first hit test still paid): the
gateway's token counter for those models (``kernel.tokens``, about 0.7 s, 40 MB) and the
Chinese word segmenter of full-text search (jieba's dictionary, about 1.5 s, 80 MB).

It runs in the web process (``studio/asgi.py``, ``studio/wsgi.py``) and in each Celery
process that runs tasks (``worker_process_init``: a prefork child after the fork, or the
solo pool's process). Not at Django's ``ready()``: that also runs for ``migrate``, ``shell``
and the tests. Other Celery pools (threads, gevent) send no ``worker_process_init``: there
each model loads on first use.

In a worker, the worker's main process lists what to load (``worker_init``, before the
pool forks) and each pool process only loads it. A pool process must not read the
database while it starts: Celery's Django fixup closes the connections and the connection
pool the child inherited, in the same signal, and a query racing it failed with "the pool
is closed" (or would use a socket the parent shares).

``MINISTUDIO_WARM_MODELS=0`` (``settings.KNOWLEDGE_WARM_MODELS``) turns it off. Nothing here
raises: a database that cannot be read yet, or a model that fails to load, is logged and
the process goes on (the model then loads on first use, as without the warm-up).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from celery.signals import worker_init, worker_process_init
from django.conf import settings
from django.db import DatabaseError, connections

from apps.knowledge.models import KnowledgeBase
from apps.knowledge.search_text import segmented
from apps.model_endpoints.models import ModelEndpoint
from apps.model_endpoints.services import provider_class
from apps.plugins import discovery
from kernel.errors import ApiError
from kernel.tokens import count_tokens

logger = logging.getLogger(__name__)

THREAD_NAME = "warm-models"


@dataclass(frozen=True)
class WarmTarget:
    """One thing to load: what the log calls it, and the call that loads it."""

    label: str
    load: Callable[[], object]

    def __str__(self) -> str:
        return self.label


def endpoints_in_use() -> list[ModelEndpoint]:
    """The embedding endpoints some knowledge base uses, in any workspace (the process
    serves them all, and the models are shared by all); disabled ones are left out (no
    call reaches them). Raises ``DatabaseError`` when the database cannot be read."""
    used = KnowledgeBase.objects.values("embedding_endpoint")
    return list(ModelEndpoint.objects.filter(pk__in=used, enabled=True).order_by("name"))


def models_to_warm(endpoints: list[ModelEndpoint]) -> list[WarmTarget]:
    """The in-process models of ``endpoints`` (their provider offers ``warm``), each once."""
    targets: dict[tuple[str, str], WarmTarget] = {}
    for endpoint in endpoints:
        key = (endpoint.provider, endpoint.upstream_model)
        if key in targets:  # two endpoints on one model: it loads once
            continue
        try:
            plugin_class = provider_class(endpoint.provider)
        except ApiError as exc:  # not installed or failed to load: its calls fail anyway
            logger.info("Not warming %s: %s", endpoint.name, exc)
            continue
        warm = getattr(discovery.instance_of(plugin_class), "warm", None)
        if callable(warm):
            label = f"{endpoint.provider}/{endpoint.upstream_model}"
            targets[key] = WarmTarget(label, functools.partial(warm, endpoint.upstream_model))
    return list(targets.values())


def targets_to_warm() -> list[WarmTarget]:
    """What this process loads at start: the models, then the text tools every hit test
    uses (none when there is no knowledge base)."""
    endpoints = endpoints_in_use()
    if not endpoints:
        return []
    models = sorted({endpoint.upstream_model for endpoint in endpoints})
    return [
        *models_to_warm(endpoints),
        WarmTarget("the token counter", functools.partial(_count_tokens_for, models)),
        WarmTarget("the Chinese word segmenter", functools.partial(segmented, "知识库")),
    ]


def _count_tokens_for(models: list[str]) -> None:
    # The gateway counts each embedding call's tokens with the encoding its model picks.
    for model in models:
        count_tokens("warm up", model)


def listed_targets() -> list[WarmTarget] | None:
    """``targets_to_warm()``, or ``None`` (logged) when they cannot be listed: a database
    that cannot be read yet, or any other failure. Never raises; this thread's database
    connection goes back to the pool before it returns, not when the thread ends."""
    try:
        return targets_to_warm()
    except DatabaseError as exc:
        logger.warning("Model warm-up skipped: the database cannot be read (%s)", exc)
    except Exception:
        logger.exception("Model warm-up skipped: could not list the models to load")
    finally:
        connections.close_all()
    return None


def warm_models(targets: list[WarmTarget] | None = None) -> list[str]:
    """Load each of ``targets`` (by default ``listed_targets()``), one after the other, in
    this thread.

    Returns what was loaded (the labels: ``provider/model``, then the text tools). Logs
    what it loaded and how long each took; a failure is logged and the rest still load; a
    database that cannot be read is logged and nothing is loaded. Never raises.
    """
    if targets is None:
        targets = listed_targets() or []
    loaded = []
    for target in targets:
        started = time.perf_counter()
        try:
            target.load()
        except Exception as exc:
            logger.warning("Model warm-up: %s failed to load: %s", target, exc)
            continue
        logger.info("Model warm-up: loaded %s in %.2fs", target, time.perf_counter() - started)
        loaded.append(str(target))
    return loaded


def warm_in_background(targets: list[WarmTarget] | None = None) -> threading.Thread | None:
    """Start ``warm_models(targets)`` on a daemon thread and return at once (the thread,
    for whoever wants to wait for it); ``None`` when ``MINISTUDIO_WARM_MODELS`` is off.

    A daemon thread: a process that stops mid-load is not held up by it."""
    if not settings.KNOWLEDGE_WARM_MODELS:
        logger.info("Model warm-up is off (MINISTUDIO_WARM_MODELS)")
        return None
    thread = threading.Thread(target=warm_models, args=(targets,), name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


# What the worker's main process listed at ``worker_init``; its pool processes inherit it.
_worker_targets: list[WarmTarget] = []


@worker_init.connect
def _list_in_worker(**kwargs: object) -> None:
    """The worker's main process lists the models before its pool forks (see the module's
    docstring for why a pool process does not)."""
    global _worker_targets
    if not settings.KNOWLEDGE_WARM_MODELS:
        return
    _worker_targets = listed_targets() or []
    # Nor does a pool process inherit an open connection: the main process runs no task
    # and opens its next connection (and pool) when it needs one.
    for connection in connections.all(initialized_only=True):
        try:
            if hasattr(connection, "close_pool"):
                connection.close_pool()
        except Exception:  # a worker must start even so; Celery's fixup closes it again
            logger.exception("Model warm-up: could not close the connection pool")


@worker_process_init.connect
def _warm_in_worker_process(**kwargs: object) -> None:
    """Each process that runs tasks loads its own models: a prefork child after the fork
    (a thread started before it would not be in the child, and a lock it held at the fork
    would stay held there), or the solo pool's one process."""
    warm_in_background(_worker_targets)
