"""A batch for an endpoint served by an in-process vLLM engine: validated like any batch,
handed to the ``batch-vllm`` queue, run there in chunks through the engine, metered.

The engine's ``vllm.LLM`` is the engine tests' scripted stand-in (a model server, like the
suite's scripted upstream); everything around it is real."""

import json
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.services import create_api_key
from apps.batch import services
from apps.batch.engine_runner import engine_config
from apps.batch.execution import run_batch
from apps.batch.inputs import batch_storage
from apps.batch.leases import claim, kept_alive
from apps.batch.models import Batch
from apps.batch.vllm_engine import VllmEngine
from apps.model_endpoints import services as endpoints
from apps.model_endpoints.services import provider_class, provider_settings
from apps.plugins.services import sync_plugins
from apps.usage.models import UsageRecord
from apps.usage.services import flush_usage
from kernel.errors import InvalidParameter
from tests.batch.conftest import chat_line, jsonl
from tests.batch.test_vllm_engine import FakeLLM
from tests.gateway_fixtures import openai_settings

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def engine_endpoint(upstream, acme):
    sync_plugins()
    endpoint = endpoints.create_endpoint(
        name="smol",
        provider="vllm",
        upstream_model="smol",
        capabilities=["chat"],
        settings={**openai_settings(upstream), "engine_model_path": "/models/smol"},
    )
    endpoints.grant(endpoint, acme, by=None)
    llm = FakeLLM()
    config = engine_config(provider_settings(endpoint, provider_class(endpoint.provider)))
    VllmEngine._shared[config] = VllmEngine(config, llm=llm, sampling_params_factory=dict)
    yield llm
    VllmEngine._shared.pop(config, None)


def upload(acme, lines: list[dict]):
    content = jsonl(lines).getvalue()
    return services.upload_file(acme, SimpleUploadedFile("in.jsonl", content), "batch")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("engine_dtype", "int3"),
        ("engine_tensor_parallel_size", 0),
        ("engine_gpu_memory_utilization", 1.5),
        ("engine_chunk_size", 0),
    ],
)
def test_bad_engine_settings_are_refused_by_name(upstream, setting, value):
    sync_plugins()
    with pytest.raises(InvalidParameter, match=f"settings.{setting}"):
        endpoints.create_endpoint(
            name="smol-bad",
            provider="vllm",
            upstream_model="smol",
            capabilities=["chat"],
            settings={**openai_settings(upstream), "engine_model_path": "/m", setting: value},
        )


def test_an_engine_batch_runs_through_the_engine_not_http(acme, alice, engine_endpoint, upstream):
    key = create_api_key(acme, name="program", created_by=alice)
    lines = [chat_line(f"r{i}", f"question {i}", model="smol", max_tokens=8) for i in range(5)]
    batch = services.create_batch(
        acme,
        input_file=upload(acme, lines),
        endpoint="/v1/chat/completions",
        completion_window="24h",
        api_key=key.api_key,
    )  # the suite's eager tasks: validated, handed over and run, all here
    batch.refresh_from_db()
    assert (batch.status, batch.engine) == ("completed", "vllm")
    assert (batch.completed, batch.failed) == (5, 0)
    assert upstream.requests_for("chat") == []  # not one line went over HTTP
    [call] = engine_endpoint.calls  # one chunk, one LLM.chat call
    assert len(call["conversations"]) == 5
    assert {params["max_tokens"] for params in call["params"]} == {8}
    with batch_storage().open(batch.output_file.storage_key) as out:
        rows = [json.loads(line) for line in out]
    assert [row["custom_id"] for row in rows] == [f"r{i}" for i in range(5)]
    body = rows[0]["response"]["body"]
    assert body["choices"][0]["message"]["content"] == "answer to question 0"
    assert body["usage"]["prompt_tokens"] == 2 and body["model"] == "smol"
    flush_usage()
    usage = UsageRecord.objects.filter(batch_id=batch.pk)
    assert usage.count() == 5 and {u.surface for u in usage} == {"batch"}
    assert sum(u.input_tokens for u in usage) == batch.input_tokens == 10


def test_a_plain_worker_hands_an_engine_batch_to_the_batch_vllm_queue(
    acme, engine_endpoint, celery_not_eager
):
    batch = services.create_batch(
        acme,
        input_file=upload(acme, [chat_line("a", "hi", model="smol")]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    broker = redis.Redis.from_url(settings.TEST_REDIS_URL)
    broker.delete("batch-vllm")
    assert run_batch(batch.pk, "plain-worker") == "handed to batch-vllm"
    stored = Batch.objects.get(pk=batch.pk)
    assert (stored.status, stored.engine, stored.lease_owner) == ("in_progress", "vllm", "")
    assert broker.llen("batch-vllm") == 1
    assert engine_endpoint.calls == []  # a plain worker never runs the engine


def test_a_long_engine_chunk_keeps_the_lease(acme, engine_endpoint, settings, celery_not_eager):
    settings.BATCH_LEASE_SECONDS = 3  # renewed every second
    batch = services.create_batch(
        acme,
        input_file=upload(acme, [chat_line("a", "hi", model="smol")]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    assert claim(batch.pk, "engine-worker")
    before = Batch.objects.get(pk=batch.pk).lease_expires_at
    with kept_alive(batch, "engine-worker"):
        time.sleep(2.5)
    assert Batch.objects.get(pk=batch.pk).lease_expires_at >= before + timedelta(seconds=1)
