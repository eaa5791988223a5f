"""Loading the in-process embedding models knowledge bases use when a platform process
starts, so that the first hit test costs what the tenth does.

A local model (the ``local`` provider's ``use-m3`` and ``multilingual-e5-small``) is loaded
into each process the first time that process uses it. Without a warm-up, the first hit
test (or the first ingestion) after a start pays for the load. ``warm_in_background()``
looks up the models that knowledge bases embed with and loads them on one daemon thread,
one after the other, so a start takes no longer; a hit test that comes first waits for
the model's load under the provider's own lock rather than loading it a second time.

A model is warmed when its provider offers ``warm(model)`` (the local provider does; a
provider that calls a server has nothing to load). It runs in the web process
(``studio/asgi.py``, ``studio/wsgi.py``) and in each Celery process that runs tasks
(``worker_process_init``: a prefork child after the fork, or the solo pool's process). Not
at Django's ``ready()``: that also runs for ``migrate``, ``shell`` and the tests.

``MINISTUDIO_WARM_MODELS=0`` (``settings.KNOWLEDGE_WARM_MODELS``) turns it off. Nothing here
raises: a database that cannot be read yet, or a model that fails to load, is logged and
the process goes on (the model then loads on first use, as without the warm-up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from celery.signals import worker_process_init
from django.conf import settings
from django.db import DatabaseError, connections

from apps.knowledge.models import KnowledgeBase
from apps.model_endpoints.models import ModelEndpoint
from apps.model_endpoints.services import provider_class
from apps.plugins import discovery
from kernel.errors import ApiError

logger = logging.getLogger(__name__)

THREAD_NAME = "warm-models"


@dataclass(frozen=True)
class WarmTarget:
    """One model to load: the provider's ``warm`` and the model's name at that provider."""

    provider: str
    model: str
    warm: Callable[[str], object]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


def models_to_warm() -> list[WarmTarget]:
    """The in-process models that some knowledge base embeds with, each once.

    Every workspace's knowledge bases count: the process serves them all, and the models
    are shared by all. Disabled endpoints are left out (no call reaches them). Raises
    ``DatabaseError`` when the database cannot be read.
    """
    used = KnowledgeBase.objects.values("embedding_endpoint")
    endpoints = ModelEndpoint.objects.filter(pk__in=used, enabled=True).order_by("name")
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
            targets[key] = WarmTarget(endpoint.provider, endpoint.upstream_model, warm)
    return list(targets.values())


def warm_models() -> list[str]:
    """Load each model of ``models_to_warm()``, one after the other, in this thread.

    Returns the models loaded (``provider/model``). Logs what it loaded and how long each
    took; a model that fails is logged and the others still load; a database that cannot
    be read is logged and nothing is loaded. Never raises.
    """
    try:
        targets = models_to_warm()
    except DatabaseError as exc:
        logger.warning("Model warm-up skipped: the database cannot be read (%s)", exc)
        return []
    except Exception:
        logger.exception("Model warm-up skipped: could not list the models to load")
        return []
    finally:
        # This thread's connection goes back to the pool now, not when the thread ends.
        connections.close_all()
    loaded = []
    for target in targets:
        started = time.perf_counter()
        try:
            target.warm(target.model)
        except Exception as exc:
            logger.warning("Model warm-up: %s failed to load: %s", target, exc)
            continue
        logger.info("Model warm-up: loaded %s in %.2fs", target, time.perf_counter() - started)
        loaded.append(str(target))
    return loaded


def warm_in_background() -> threading.Thread | None:
    """Start ``warm_models()`` on a daemon thread and return at once (the thread, for
    whoever wants to wait for it); ``None`` when ``MINISTUDIO_WARM_MODELS`` is off.

    A daemon thread: a process that stops mid-load is not held up by it."""
    if not settings.KNOWLEDGE_WARM_MODELS:
        logger.info("Model warm-up is off (MINISTUDIO_WARM_MODELS)")
        return None
    thread = threading.Thread(target=warm_models, name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


@worker_process_init.connect
def _warm_in_worker_process(**kwargs: object) -> None:
    """Each process that runs tasks loads its own models: a prefork child after the fork
    (a thread started before it would not be in the child, and a lock it held at the fork
    would stay held there), or the solo pool's one process."""
    warm_in_background()
