"""What the gateway adds to a chat call: latency, time to first byte, and requests/s.

One run starts the scripted stub model server (``tests/upstream.py``, in a thread of this
process) and ``ministudio up`` (a subprocess, on a temporary data directory under /tmp),
registers the stub as an ``openai`` model endpoint, grants it to the ``demo`` workspace and
creates an API key there, all through the console API. Then, for each scenario, the same
load runs twice: directly against the stub's ``/v1/chat/completions``, and through the
gateway's ``/compatible-mode/v1/chat/completions``:

- non-streaming and streaming (``"stream": true`` with ``include_usage``; the stub echoes
  the prompt back word by word, about ten SSE frames);
- 1 client, then ``--clients`` concurrent clients (default 32), each a task on one
  ``httpx.AsyncClient`` (HTTP/1.1 keep-alive, connection pool sized to the concurrency);
- ``--warmup`` requests first (not measured), then ``--requests`` (1 client) or
  ``--requests-concurrent`` (N clients) measured requests.

For each request it records the latency (until the whole response was read) and the time
to first byte (the response headers for non-streaming calls; the first SSE frame for
streaming ones). The table gives the median and p99 latency of each path, what the gateway
adds (gateway percentile minus direct percentile), what it adds to the median time to first
byte, requests/s of each path (measured requests over the wall time of the phase), and the
requests that failed (a non-200, a broken body or stream; left out of the figures).

The gateway is `ministudio up`'s single uvicorn worker (plus Postgres, Redis and, unless
``--no-worker``, the Celery worker) on the same cores as this load generator and the stub,
so the figures are pessimistic: on a machine with few cores they include the competition
for the CPU. Variables that would point `up` elsewhere (DATABASE_URL, REDIS_URL, ...) are
dropped from its environment; the temporary data directory is removed at the end, also
after a failure or Ctrl-C.

Run from the repository root, in the project's virtual environment:

    .venv/bin/python bench/gateway.py [--requests N] [--requests-concurrent N] [--clients N]
        [--warmup N] [--no-worker] [--log-level LEVEL] [--up-log FILE] [--timeout SECONDS]

Defaults take about two to three minutes on two cores, most of it the requests through the
gateway; ``--log-level WARNING`` silences uvicorn's access log to see what it costs.
"""

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.platform_process import (  # noqa: E402
    EXCEPTION_LINE,
    Platform,
    kill_leftovers,
)
from tests.upstream import UpstreamServer  # noqa: E402

ADMIN_EMAIL = "bench@example.com"
# A throwaway instance, removed at the end.
ADMIN_PASSWORD = "bench-gateway-password-1"  # noqa: S105
MODEL = "bench-chat"
UPSTREAM_MODEL = "stub-chat"
PROMPT = "Please repeat these few words back to me, one at a time."


def set_up_gateway(base_url: str, upstream_base_url: str) -> str:
    """Register the stub as an endpoint, grant it to `demo`, and return a `demo` API key."""
    with httpx.Client(base_url=f"{base_url}/console/api", timeout=30) as console:

        def call(method: str, path: str, payload: dict, **headers: str) -> dict:
            token = console.cookies.get("csrftoken", "")
            response = console.request(
                method, path, json=payload, headers={"X-CSRFToken": token, **headers}
            )
            if response.status_code not in (200, 201):
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
            return response.json()

        console.get("/auth/csrf").raise_for_status()
        call("POST", "/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        endpoint = call(
            "POST",
            "/model-endpoints",
            {
                "name": MODEL,
                "provider": "openai",
                "upstream_model": UPSTREAM_MODEL,
                "capabilities": ["chat"],
                "settings": {"base_url": upstream_base_url, "api_key": "x", "max_retries": 0},
            },
        )
        call("POST", f"/model-endpoints/{endpoint['id']}/grants", {"workspace": "demo"})
        created = call("POST", "/api-keys", {"name": "bench-gateway"}, **{"X-Workspace": "demo"})
        return created["key"]


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    model: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Phase:
    """The measured requests of one target in one scenario."""

    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def body_for(model: str, streaming: bool) -> bytes:
    payload: dict = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    if streaming:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return json.dumps(payload).encode()


async def one_request(
    client: httpx.AsyncClient, target: Target, body: bytes, streaming: bool
) -> tuple[float, float]:
    """(latency, time to first byte) of one call, in seconds; raises when it failed."""
    headers = {"Content-Type": "application/json", **target.headers}
    started = time.perf_counter()
    async with client.stream("POST", target.url, content=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {(await response.aread())[:300]!r}")
        if not streaming:
            ttfb = time.perf_counter() - started
            data = await response.aread()
            latency = time.perf_counter() - started
            if not json.loads(data).get("choices"):
                raise RuntimeError(f"no choices in {data[:300]!r}")
            return latency, ttfb
        ttfb = None
        frames = 0
        done = False
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            if ttfb is None:
                ttfb = time.perf_counter() - started
            frames += 1
            if line.strip() == "data: [DONE]":
                done = True
            elif '"error"' in line:
                raise RuntimeError(f"error frame {line[:300]!r}")
        latency = time.perf_counter() - started
        if not done or ttfb is None:
            raise RuntimeError(f"stream ended without [DONE] after {frames} frames")
        return latency, ttfb


async def run_load(
    target: Target, *, streaming: bool, clients: int, requests: int, warmup: int
) -> Phase:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    timeout = httpx.Timeout(60.0, pool=60.0)
    body = body_for(target.model, streaming)
    phase = Phase()
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

        async def drive(count: int, record: bool) -> None:
            remaining = count

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    try:
                        latency, ttfb = await one_request(client, target, body, streaming)
                    except Exception as exc:  # counted, and the first one is shown
                        if record:
                            phase.errors += 1
                            phase.first_error = phase.first_error or f"{type(exc).__name__}: {exc}"
                        continue
                    if record:
                        phase.latencies.append(latency)
                        phase.ttfbs.append(ttfb)

            await asyncio.gather(*(worker() for _ in range(min(clients, count))))

        await drive(warmup, record=False)
        started = time.perf_counter()
        await drive(requests, record=True)
        phase.seconds = time.perf_counter() - started
    return phase


# --- figures ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def added(seconds: float) -> str:
    return f"{seconds * 1000:+.2f}"


COLUMNS = (
    ("scenario", "<"),
    ("clients", ">"),
    ("direct p50", ">"),
    ("direct p99", ">"),
    ("gateway p50", ">"),
    ("gateway p99", ">"),
    ("added p50", ">"),
    ("added p99", ">"),
    ("added TTFB p50", ">"),
    ("direct req/s", ">"),
    ("gateway req/s", ">"),
    ("errors d/g", ">"),
)


def table_row(scenario: str, clients: int, direct: Phase, gateway: Phase) -> list[str]:
    d50, d99 = percentile(direct.latencies, 50), percentile(direct.latencies, 99)
    g50, g99 = percentile(gateway.latencies, 50), percentile(gateway.latencies, 99)
    ttfb = percentile(gateway.ttfbs, 50) - percentile(direct.ttfbs, 50)
    return [
        scenario,
        str(clients),
        ms(d50),
        ms(d99),
        ms(g50),
        ms(g99),
        added(g50 - d50),
        added(g99 - d99),
        added(ttfb),
        f"{direct.rate:.0f}",
        f"{gateway.rate:.0f}",
        f"{direct.errors}/{gateway.errors}",
    ]


def print_table(rows: list[list[str]]) -> None:
    widths = [
        max(len(title), *(len(row[i]) for row in rows)) for i, (title, _) in enumerate(COLUMNS)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(cells, COLUMNS, widths, strict=True)
        )

    print(line([title for title, _ in COLUMNS]))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="measured requests, 1 client")
    parser.add_argument(
        "--requests-concurrent",
        type=int,
        default=1000,
        help="measured requests with --clients concurrent clients",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured requests first")
    parser.add_argument(
        "--no-worker", action="store_true", help="start `up` without its Celery worker"
    )
    parser.add_argument(
        "--log-level", help="MINISTUDIO_LOG_LEVEL for `up` (default: its own, INFO)"
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for `up`")
    parser.add_argument("--up-log", type=Path, help="write all of `up`'s output to this file")
    options = parser.parse_args()

    began = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="ms-bench-", dir="/tmp"))
    platform: Platform | None = None
    rows: list[list[str]] = []
    failures: list[str] = []
    print(f"data directory: {data_dir}", flush=True)
    try:
        with UpstreamServer() as stub:
            platform = Platform(
                data_dir,
                admin_email=ADMIN_EMAIL,
                admin_password=ADMIN_PASSWORD,
                with_worker=not options.no_worker,
                log_level=options.log_level,
                log=options.up_log,
            )
            ready = platform.wait_until_ready(options.timeout)
            key = set_up_gateway(platform.base_url, stub.openai_base_url)
            print(
                f"`up` ready in {ready:.1f} s on port {platform.port} "
                f"(web pid {platform.web_pid()}); stub on port {stub.port}",
                flush=True,
            )
            direct = Target("direct", f"{stub.openai_base_url}/chat/completions", UPSTREAM_MODEL)
            gateway = Target(
                "gateway",
                f"{platform.base_url}/compatible-mode/v1/chat/completions",
                MODEL,
                {"Authorization": f"Bearer {key}"},
            )
            for streaming in (False, True):
                scenario = "streaming" if streaming else "non-streaming"
                for clients, requests in (
                    (1, options.requests),
                    (options.clients, options.requests_concurrent),
                ):
                    phases = {}
                    for target in (direct, gateway):
                        phase = asyncio.run(
                            run_load(
                                target,
                                streaming=streaming,
                                clients=clients,
                                requests=requests,
                                warmup=options.warmup,
                            )
                        )
                        phases[target.name] = phase
                        print(
                            f"  {scenario:<13} {clients:>3} clients  {target.name:<7}  "
                            f"{len(phase.latencies)} ok, {phase.errors} failed "
                            f"in {phase.seconds:.1f} s",
                            flush=True,
                        )
                        if phase.first_error:
                            failures.append(
                                f"{scenario}, {clients} clients, {target.name}: {phase.first_error}"
                            )
                    rows.append(table_row(scenario, clients, phases["direct"], phases["gateway"]))
            if stub.crashes:
                failures.append("the stub crashed:\n" + "\n".join(stub.crashes))
    finally:
        if platform is not None:
            code = platform.stop()
            if code not in (0, None):
                print(f"`up` exited with {code}:\n{platform.output}", file=sys.stderr)
        kill_leftovers(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)

    print()
    print(
        f"CPUs: {os.cpu_count()}. The gateway is `ministudio up`'s single uvicorn worker; it, "
        "Postgres, Redis"
        + ("" if options.no_worker else ", the Celery worker")
        + " and this process (load generator and stub) share those cores, so the figures are "
        "pessimistic."
    )
    print(
        "Latency in ms until the whole response was read; added = gateway minus direct, per "
        "percentile; TTFB = response headers (non-streaming) or first SSE frame (streaming)."
    )
    print_table(rows)
    for failure in failures:
        print(f"first failure, {failure}", file=sys.stderr)
    if failures and platform is not None and platform.errors:
        print("the first errors the platform logged (run with --up-log for all):", file=sys.stderr)
        for block in platform.errors:
            raised = [line for line in block if EXCEPTION_LINE.match(line)]
            print("  " + block[0].rstrip(), file=sys.stderr)
            if raised:
                print("    " + raised[-1].rstrip(), file=sys.stderr)
    print(f"\ntotal run time {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # everything was stopped and removed on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)
