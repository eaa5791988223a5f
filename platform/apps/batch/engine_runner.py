"""Running a batch's lines on an in-process vLLM engine (workers of queue ``batch-vllm``).

The engine is loaded once per worker process (``VllmEngine.shared``) and fed the file in
chunks of ``engine_chunk_size`` lines through ``LLM.chat``; each chunk is one checkpoint.
Every line is still admitted against the workspace's quotas before its chunk runs and
metered with the token counts the engine reports, like a line sent over HTTP.
"""

import itertools
import time
from collections.abc import Iterator

from django.conf import settings

from apps.batch.checkpoints import Checkpoint
from apps.batch.leases import kept_alive
from apps.batch.lines import BatchLine, LineOutcome, failed_line
from apps.batch.models import Batch, BatchStatus
from apps.batch.vllm_engine import EngineConfig, VllmEngine
from apps.gateway import routing
from apps.model_endpoints.models import EndpointCapability
from apps.usage.models import CallStatus
from apps.usage.quotas import QuotaExceeded
from kernel.errors import OPENAI_CODES
from kernel.tokens import count_tokens
from plugins.base import PluginSettings, Usage


def engine_config(provider_settings: PluginSettings) -> EngineConfig:
    """The engine an endpoint's settings describe (``engine_*`` fields of provider vllm)."""
    return EngineConfig(
        model_path=provider_settings.engine_model_path,
        tensor_parallel_size=provider_settings.engine_tensor_parallel_size,
        gpu_memory_utilization=provider_settings.engine_gpu_memory_utilization,
        max_model_len=provider_settings.engine_max_model_len,
        chunk_size=provider_settings.engine_chunk_size,
        dtype=provider_settings.engine_dtype,
    )


def run_on_engine(batch: Batch, lines: Iterator[BatchLine], checkpoint: Checkpoint) -> None:
    """Answer ``lines`` on the engine, one checkpoint per chunk, until done or told to stop."""
    first = routing.route(
        batch.workspace, batch.model, EndpointCapability.CHAT, surface="batch", batch_id=batch.pk
    )
    config = engine_config(first.settings)
    engine = VllmEngine.shared(config)
    while chunk := list(itertools.islice(lines, config.chunk_size)):
        admitted: list[tuple[BatchLine, routing.Route]] = []
        for line in chunk:
            target, refusal = _admit(batch, line)
            if refusal is not None:
                checkpoint.add(refusal)
            elif target is None:  # told to stop while waiting for the quota
                return
            else:
                admitted.append((line, target))
        with kept_alive(batch, checkpoint.owner):
            outcomes = engine.run_chunk([line for line, _ in admitted], model=batch.model)
        for (_, target), outcome in zip(admitted, outcomes, strict=True):
            _meter(target, outcome)
            checkpoint.add(outcome)
        if checkpoint.save():
            return


def _admit(batch: Batch, line: BatchLine) -> tuple[routing.Route | None, LineOutcome | None]:
    """Reserve the line's tokens: its route when admitted, an outcome when refused for
    good, ``(None, None)`` when the batch was stopped while a per-minute quota was full."""
    body = line.body
    prompt = "\n".join(str(message.get("content") or "") for message in body.get("messages") or [])
    while True:
        target = routing.route(
            batch.workspace,
            batch.model,
            EndpointCapability.CHAT,
            surface="batch",
            api_key=batch.api_key,
            batch_id=batch.pk,
        )
        target.meter.prompt_text = prompt
        answer = body.get("max_completion_tokens") or body.get("max_tokens")
        reserve = count_tokens(prompt, target.endpoint.upstream_model) + (
            answer or settings.QUOTA_DEFAULT_OUTPUT_RESERVATION
        )
        try:
            target.meter.admit(reserve)
            return target, None
        except QuotaExceeded as exc:
            if exc.code != "Throttling.RateQuota":
                code = OPENAI_CODES.get(exc.code, exc.code)
                return None, failed_line(line, exc.status, exc.message, code=code)
            if _stop_requested(batch, float(exc.retry_after or 1)):
                return None, None


def _stop_requested(batch: Batch, seconds: float) -> bool:
    time.sleep(min(seconds, 60.0))
    batch.refresh_from_db(fields=["status"])
    return batch.status == BatchStatus.CANCELLING


def _meter(target: routing.Route, outcome: LineOutcome) -> None:
    target.meter.request_id = outcome.request_id or target.meter.request_id
    if outcome.succeeded:
        target.meter.finish(
            status=CallStatus.OK,
            usage=Usage(input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens),
        )
    else:
        target.meter.finish(
            status=CallStatus.ERROR, error_code=(outcome.error or {}).get("code", "")
        )
