"""Warming the local embedding models knowledge bases use (apps.knowledge.warmup).

The models are real: use-m3 is loaded (about a second); multilingual-e5-small is only ever
asked for and checked absent. The provider's registry of loaded models
(``local_embeddings._loaded``) is emptied for each test, so what a test finds there is what
the warm-up loaded.
"""

import logging
import subprocess
import sys

import pytest
from django.db import connection
from django.test import override_settings

from apps.knowledge import services, warmup
from apps.model_endpoints import services as endpoints
from apps.model_endpoints.services import seed_endpoints
from plugins.models import local_embeddings
from tests.worker_process import (
    ROOT,
    free_port,
    platform_environment,
    start_web,
    start_worker,
    stop,
    wait_for,
)

USE = "use-m3"
E5 = "multilingual-e5-small"
TEXT_TOOLS = ["the token counter", "the Chinese word segmenter"]


@pytest.fixture
def registry(monkeypatch) -> dict:
    """The local provider's loaded models, empty for this test."""
    loaded: dict = {}
    monkeypatch.setattr(local_embeddings, "_loaded", loaded)
    return loaded


@pytest.fixture
def local_models(acme, models):
    """acme is granted both local embedding models (and the stub ones of ``models``)."""
    seed_endpoints(acme, {})


def knowledge_base(workspace, model: str, name: str | None = None):
    return services.create_knowledge_base(workspace, name=name or model, embedding_model=model)


def labels(targets: list[warmup.WarmTarget]) -> list[str]:
    return [str(target) for target in targets]


def test_loads_exactly_the_local_models_knowledge_bases_use(acme, local_models, registry):
    knowledge_base(acme, USE)
    knowledge_base(acme, USE, "Second on the same model")
    knowledge_base(acme, "stub-embed")  # a provider that calls a server: nothing to load

    assert labels(warmup.models_to_warm(warmup.endpoints_in_use())) == [f"local/{USE}"]
    assert warmup.warm_models() == [f"local/{USE}", *TEXT_TOOLS]
    assert set(registry) == {USE}  # e5 is granted but no knowledge base uses it


def test_every_workspace_counts(acme, globex, local_models, registry):
    seed_endpoints(globex, {})
    knowledge_base(globex, E5)
    knowledge_base(acme, USE)
    assert labels(warmup.models_to_warm(warmup.endpoints_in_use())) == [
        f"local/{E5}",
        f"local/{USE}",
    ]


def test_nothing_is_loaded_when_no_knowledge_base_uses_a_local_model(acme, local_models, registry):
    knowledge_base(acme, "stub-embed")
    assert warmup.models_to_warm(warmup.endpoints_in_use()) == []
    # The hit tests of that knowledge base still count tokens and segment Chinese.
    assert warmup.warm_models() == TEXT_TOOLS
    assert registry == {}


def test_nothing_at_all_is_loaded_without_knowledge_bases(local_models, registry):
    assert warmup.targets_to_warm() == []
    assert warmup.warm_models() == []
    assert registry == {}


def test_a_disabled_endpoint_is_not_warmed(acme, local_models, registry):
    kb = knowledge_base(acme, USE)
    endpoints.update_endpoint(kb.embedding_endpoint, enabled=False)
    assert warmup.endpoints_in_use() == []
    assert warmup.targets_to_warm() == []


@pytest.mark.django_db(transaction=True)
def test_it_loads_in_a_background_thread_and_start_up_returns_at_once(acme, local_models, registry):
    knowledge_base(acme, USE)
    # Holding the model's load lock (as a concurrent first call would) keeps the warm-up
    # from finishing: the caller has its answer while the model is still to load.
    with local_embeddings._load_locks[USE]:
        thread = warmup.warm_in_background()
        assert thread is not None
        assert thread.daemon and thread.name == warmup.THREAD_NAME
        assert thread.is_alive()
        assert registry == {}
    thread.join(60)
    assert not thread.is_alive()
    assert set(registry) == {USE}


def test_a_concurrent_first_call_finds_the_model_the_warm_up_loaded(registry):
    provider = local_embeddings.LocalEmbeddingProvider()
    provider.warm(USE)
    model = registry[USE]
    provider.embed(
        local_embeddings.EmbeddingRequest(model=USE, inputs=["hello"]),
        local_embeddings.LocalEmbeddingSettings(),
    )
    assert registry[USE] is model  # loaded once


def test_a_failing_model_is_logged_and_the_others_still_load(acme, local_models, registry, caplog):
    broken = endpoints.create_endpoint(
        name="broken-local",
        provider="local",
        upstream_model="no-such-model",
        capabilities=["embedding"],
        settings={},
        embedding_dimension=16,
    )
    endpoints.grant(broken, acme, by=None)
    knowledge_base(acme, "broken-local")
    knowledge_base(acme, USE)

    with caplog.at_level(logging.INFO, logger=warmup.logger.name):
        assert warmup.warm_models() == [f"local/{USE}", *TEXT_TOOLS]  # no exception
    messages = [record.getMessage() for record in caplog.records]
    assert any("local/no-such-model failed to load" in m for m in messages), messages
    assert any(f"loaded local/{USE} in" in m for m in messages), messages
    assert set(registry) == {USE}


@pytest.mark.django_db(transaction=True)
def test_the_setting_turns_it_off(acme, local_models, registry, caplog):
    knowledge_base(acme, USE)
    with override_settings(KNOWLEDGE_WARM_MODELS=False), caplog.at_level(logging.INFO):
        assert warmup.warm_in_background() is None
    assert registry == {}
    assert "Model warm-up is off" in caplog.text


# --- the processes that warm, for real ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_warms_the_models_at_start(acme, local_models, tmp_path):
    knowledge_base(acme, USE)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = start_worker("default", log=log, MINISTUDIO_LOG_LEVEL="INFO")
        try:
            wait_for(
                lambda: f"Model warm-up: loaded local/{USE}" in log_path.read_text(),
                90,
                "the worker's pool process to warm use-m3",
                log_path,
            )
        finally:
            stop(worker)
    text = log_path.read_text()
    # The main process listed the models before the fork; the pool process read no
    # database while Celery closed what it inherited (that race once skipped the warm-up).
    assert "Model warm-up skipped" not in text
    # In the process that runs tasks (a prefork child), not in the worker's main process.
    assert "ForkPoolWorker" in text.split(f"Model warm-up: loaded local/{USE}")[0].splitlines()[-1]
    assert E5 not in text


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_web_process_reads_the_setting(acme, local_models, tmp_path):
    knowledge_base(acme, USE)
    log_path = tmp_path / "web.log"
    with log_path.open("w") as log:
        web = start_web(
            free_port(), log=log, MINISTUDIO_LOG_LEVEL="INFO", MINISTUDIO_WARM_MODELS="0"
        )
        try:
            wait_for(
                lambda: "Model warm-up is off" in log_path.read_text(),
                60,
                "the web process",
                log_path,
            )
        finally:
            stop(web)
    assert "loaded local/" not in log_path.read_text()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_be_read_is_logged_and_skipped():
    """The web application loads against a database with no tables (not migrated yet):
    the warm-up says so and the import goes on."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'].replace('/', '%2F')}/postgres"
    script = (
        "import threading, studio.asgi\n"
        "for t in threading.enumerate():\n"
        f"    if t.name == {warmup.THREAD_NAME!r}: t.join(60)\n"
        "print('served on')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=platform_environment(DATABASE_URL=url, MINISTUDIO_LOG_LEVEL="INFO"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "served on" in result.stdout
    assert "Model warm-up skipped: the database cannot be read" in result.stderr
