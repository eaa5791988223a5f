"""Batch throughput through the gateway: lines/s of a batch run over HTTP on a real worker.

One run starts the scripted stub model server (``tests/upstream.py``, in a thread of this
process) and ``ministudio up`` (web, Celery worker with beat, embedded Postgres and Redis,
on a temporary data directory under /tmp), registers the stub as a chat endpoint granted
to the ``demo`` workspace (as ``bench/gateway.py`` does), and then does what Bailian's batch
documentation does with the official ``openai`` SDK: upload a JSONL file of ``--lines``
chat requests, create a batch, poll ``batches.retrieve`` until it ends, download the
output file and check it has one line per request.

It prints the time of each phase as the client saw it (upload; created → in_progress,
which is queueing and validation; in_progress → completed, which is the lines' execution
and the output files) and lines/s of the execution phase and of the whole batch. Each line
is one gateway call (routing, quota admission, metering) to the stub, which answers at
once, so the figure is the platform's own cost per line; ``--concurrency`` sets the lines
in flight (``MINISTUDIO_BATCH_CONCURRENCY``, default 8).

    .venv/bin/python bench/batch_http.py [--lines N] [--concurrency N] [--timeout SECONDS]
"""

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway import ADMIN_EMAIL, ADMIN_PASSWORD, MODEL, set_up_gateway  # noqa: E402
from bench.platform_process import Platform, kill_leftovers  # noqa: E402
from tests.upstream import UpstreamServer  # noqa: E402

ENDED = {"completed", "failed", "expired", "cancelled"}


def requests_file(lines: int) -> io.BytesIO:
    rows = (
        json.dumps(
            {
                "custom_id": f"req-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": MODEL,
                    "messages": [{"role": "user", "content": f"Repeat after me: line {i}"}],
                    "max_tokens": 32,
                },
            }
        )
        for i in range(lines)
    )
    buffer = io.BytesIO("\n".join(rows).encode())
    buffer.name = "requests.jsonl"
    return buffer


def run(client: openai.OpenAI, lines: int, timeout: float) -> dict[str, float]:
    began = time.monotonic()
    f = client.files.create(file=requests_file(lines), purpose="batch")
    uploaded = time.monotonic()
    b = client.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    created = time.monotonic()
    started = None
    deadline = created + timeout
    while b.status not in ENDED:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the batch did not end in {timeout:.0f} s: {b.status}")
        time.sleep(0.1)
        b = client.batches.retrieve(b.id)
        if started is None and b.status != "validating":
            started = time.monotonic()
    ended = time.monotonic()
    if b.status != "completed":
        raise RuntimeError(f"the batch ended {b.status}: {b.errors}")
    output = client.files.content(b.output_file_id).text.splitlines()
    if len(output) != lines or b.request_counts.completed != lines:
        raise RuntimeError(f"{len(output)} output lines for {lines} requests")
    started = started or ended
    return {
        "upload_s": uploaded - began,
        "queued_and_validated_s": started - created,
        "executed_s": ended - started,
        "total_s": ended - began,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=5000, help="requests in the batch")
    parser.add_argument("--concurrency", type=int, default=8, help="lines in flight")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait")
    options = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="ms-bench-", dir="/tmp"))
    platform: Platform | None = None
    try:
        with UpstreamServer() as stub:
            platform = Platform(
                data_dir,
                admin_email=ADMIN_EMAIL,
                admin_password=ADMIN_PASSWORD,
                log_level="WARNING",
                extra_env={"MINISTUDIO_BATCH_CONCURRENCY": str(options.concurrency)},
            )
            platform.wait_until_ready(180)
            key = set_up_gateway(platform.base_url, stub.openai_base_url)
            client = openai.OpenAI(
                base_url=f"{platform.base_url}/compatible-mode/v1", api_key=key, max_retries=0
            )
            figures = run(client, options.lines, options.timeout)
            upstream_calls = len(stub.requests_for("chat"))
    finally:
        if platform is not None:
            platform.stop()
        kill_leftovers(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    lines = options.lines
    print(f"\nbatch of {lines} chat lines, {options.concurrency} in flight, stub upstream")
    print(f"  upload                      {figures['upload_s']:8.2f} s")
    print(f"  created -> in_progress      {figures['queued_and_validated_s']:8.2f} s")
    print(f"  in_progress -> completed    {figures['executed_s']:8.2f} s")
    print(f"  lines/s while executing     {lines / figures['executed_s']:8.1f}")
    print(f"  lines/s, upload to output   {lines / figures['total_s']:8.1f}")
    print(f"  upstream calls              {upstream_calls:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
