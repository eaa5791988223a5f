"""Shared by the knowledge-base benchmarks (``retrieval_quality.py``, ``ingest.py``): the
platform in this process, on its own embedded Postgres, with ingestion driven by hand.

``bench_platform()`` creates a temporary directory under /tmp (Unix socket paths must stay
short), starts the embedded Postgres 18 + pgvector there, points Django at it
(``DJANGO_SETTINGS_MODULE=studio.settings``, ``DEBUG=1``, ``DATABASE_URL``, ``REDIS_URL`` =
``redis://127.0.0.1:6379/11``, ``MINISTUDIO_DATA_DIR`` for the stored files), runs
``migrate`` and ``sync_plugins()``, creates a workspace and grants it the local embedding
models (``seed_endpoints``). On the way out (also after an error, Ctrl-C or SIGTERM) it
closes the connection pool, stops the server and removes the directory.

Uploads go through ``services.upload_documents``, but its ``dispatch`` (which would put
one Celery token per document on Redis, for workers that are not running) is replaced by a
no-op: the benchmark ingests in this process instead, calling ``ingestion.ingest_next`` with a
fresh run id per document (as each Celery token has its own id) until the queue is empty.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"  # the project's shared folder, beside the checkout
REDIS_URL = "redis://127.0.0.1:6379/11"


@dataclass
class Bench:
    """The running platform: the workspace the knowledge bases go in."""

    workspace: Any
    base: Path


@dataclass
class IngestReport:
    """What one ``ingest_all`` did."""

    seconds: float
    #: Units of work done (``ingestion.ingest_next``: a prepare, a slice or a finish), not
    #: documents: one unit may serve several documents.
    units: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # document name -> error


def _raise_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def bench_platform(label: str = "bench") -> Iterator[Bench]:
    base = Path(tempfile.mkdtemp(prefix=f"ms-{label}-", dir="/tmp"))
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    postgres = None
    try:
        for path in (str(ROOT / "platform"), str(ROOT)):
            if path not in sys.path:
                sys.path.insert(0, path)
        from studio.cli.embedded import start_postgres

        postgres = start_postgres(base)
        os.environ.update(
            DJANGO_SETTINGS_MODULE="studio.settings",
            DEBUG="1",
            DATABASE_URL=postgres.url(),
            REDIS_URL=REDIS_URL,
            MINISTUDIO_DATA_DIR=str(base / "data"),
            MINISTUDIO_LOG_LEVEL=os.environ.get("MINISTUDIO_LOG_LEVEL", "WARNING"),
        )
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            os.environ.pop(name, None)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from apps.accounts.models import Workspace
        from apps.knowledge import services
        from apps.model_endpoints.services import seed_endpoints
        from apps.plugins.services import sync_plugins

        sync_plugins()
        services.dispatch = lambda count=1: None  # ingestion runs in this process
        workspace = Workspace.objects.create(name="Bench", slug="bench")
        seed_endpoints(workspace, {})
        yield Bench(workspace=workspace, base=base)
    finally:
        try:
            if "django.db" in sys.modules:
                from django.db import connections

                for connection in connections.all(initialized_only=True):
                    connection.close()
                    close_pool = getattr(connection, "close_pool", None)
                    if close_pool is not None:
                        close_pool()
        finally:
            if postgres is not None:
                postgres.stop()
            shutil.rmtree(base, ignore_errors=True)
            signal.signal(signal.SIGTERM, previous)


def upload_text(knowledge_base: Any, name: str, text: str, metadata: dict | None = None) -> Any:
    """Upload one text file; returns its ``Document``."""
    from apps.knowledge.services import UploadedFile, upload_documents

    upload = UploadedFile(name=name, data=text.encode("utf-8"), media_type="text/plain")
    (outcome,) = upload_documents(knowledge_base, [upload], metadata=metadata)
    return outcome.document


def ingest_all() -> IngestReport:
    """Ingest every queued document, one at a time, as the ingest workers would."""
    from django.utils import timezone

    from apps.knowledge import ingestion
    from apps.knowledge.models import Document, DocumentStatus

    since = timezone.now()
    started = time.perf_counter()
    report = IngestReport(seconds=0.0)
    while True:
        run_id = f"bench-{uuid.uuid4()}"
        try:
            document_id = ingestion.ingest_next(run_id)
        except ingestion.TransientFailure as exc:  # not expected of local models: give up
            ingestion.fail_claimed(run_id, f"transient failure (not retried here): {exc}")
            document_id = "?"
        if document_id is None:
            break
        report.units += 1
    report.seconds = time.perf_counter() - started
    failed = Document.objects.filter(status=DocumentStatus.FAILED, finished_at__gte=since)
    for name, error in failed.values_list("name", "error"):
        report.failed[name] = error
    return report


def rerank_model(workspace: Any) -> str | None:
    """A rerank model granted to ``workspace``, if any (none is seeded locally)."""
    from apps.model_endpoints.models import EndpointCapability
    from apps.model_endpoints.selectors import endpoints_for_workspace

    endpoint = (
        endpoints_for_workspace(workspace)
        .filter(capabilities__contains=[EndpointCapability.RERANK])
        .first()
    )
    return endpoint.name if endpoint else None
