"""What the gateway adds to a chat call: latency, time to first byte, requests/s, memory per
web worker, and what a response-cache hit and a model group's fallback hop cost; optionally
beside LiteLLM's proxy.

One run starts the scripted stub model server (``tests/upstream.py``, in a thread of this
process) and ``ministudio up`` (a subprocess, on a temporary data directory under /tmp),
registers the stub as an ``openai`` model endpoint, grants it to the ``demo`` workspace and
creates an API key there, all through the console API. With ``--litellm-python`` it also
starts LiteLLM's proxy in front of the same stub (below). Then, for each scenario, the same
load runs against each target in turn: directly against the stub's
``/v1/chat/completions``, through LiteLLM's ``/v1/chat/completions`` when asked, and
through the gateway's ``/compatible-mode/v1/chat/completions``:

- non-streaming and streaming (``"stream": true`` with ``include_usage``; the stub echoes
  the prompt back word by word, about ten SSE frames);
- 1 client, then ``--clients`` concurrent clients (default 32), each a task on one
  ``httpx.AsyncClient`` (HTTP/1.1 keep-alive, connection pool sized to the concurrency);
- ``--warmup`` requests first (not measured), then ``--requests`` (1 client) or
  ``--requests-concurrent`` (N clients) measured requests.

For each request it records the latency (until the whole response was read) and the time
to first byte (the response headers for non-streaming calls; the first SSE frame for
streaming ones). The table gives the median and p99 latency and requests/s of the direct
path, and for each proxy its requests/s (measured requests over the wall time of the
phase), what it adds to the median and the p99 latency (its percentile minus the direct
one) and to the median time to first byte, and the requests that failed on each path (a
non-200, a broken body or stream; left out of the figures).

Memory (``--memory-requests N``, default 10,000; 0 skips it): after the latency phases, N
more non-streaming requests at ``--clients`` clients through each proxy, then the resident
set size (RSS) of each of its web worker processes is read, then another N, and it is read
again. The table gives each worker's RSS before, after the first N and after the second N,
and the growth over the second N (the first N fills caches and pools; a steady growth there
is a leak). A worker is a process that serves HTTP: with one worker, uvicorn's own process
(``ministudio web`` under ``up``; the ``litellm`` process); with several, uvicorn's
children (the supervisor that only watches them is left out). The gateway's Postgres,
Redis and Celery worker, and LiteLLM's helper processes if any, are not counted.

Response cache (``--cache-requests N``, default 300; 0 skips it), through the gateway only,
at 1 client, the same non-streaming request with ``"temperature": 0``: N times directly to
the stub; N times through the gateway with the cache off (the normal path); then the bench
model's cache is turned on for ``demo`` through the console API (``PATCH
/console/api/models/bench-chat/settings``, ``response_cache_seconds`` 600) and it sends N
requests with a new prompt each time (misses: the lookup and the write on top of the normal
path), and N of the same request (the first a miss, the others hits). Each cached call must
say ``X-Ministudio-Cache: miss`` or ``hit`` as expected; one that does not is a failure.
The table gives p50 and p99 of each path, what each adds over the direct call and the
difference from the gateway with the cache off. The stub answers at once, so this is the
price of a hit, not what it saves: against a real model a hit also saves the model's time.

LiteLLM (``--litellm-python PATH``: the python of a virtual environment of its own where
``litellm[proxy]`` is installed; LiteLLM is not a dependency of this project; bench/README.md
has the install commands). The script writes a config under the data directory with one
model, ``bench-chat`` = ``openai/stub-chat`` at the stub's OpenAI base URL, with a price of
0 (a model missing from LiteLLM's price list makes its cost lookup fail on every call, which
a real model's would not), no retries, a master key (so a request is authenticated, as at
the gateway) and no database, cache, callbacks or spend logs. It starts the ``litellm``
script beside PATH (else ``PATH -m litellm.proxy.proxy_cli``) with ``--config``,
``--port``, ``--num_workers N`` and ``--timeout_worker_healthcheck 120``, in a process group
of its own, with no database or Redis variables, ``LITELLM_LOCAL_MODEL_COST_MAP=True`` (no
fetch of the model price list at start), ``LITELLM_TELEMETRY_DISABLED=true`` and
``LITELLM_LOG`` from ``--log-level`` when given; waits until each worker has said it started
and ``/health/liveliness`` answers; and kills the group at the end, also after a failure or
Ctrl-C. It gets as many workers as the gateway: ``--web-workers`` when given, else the
number of web workers ``up`` started. The health-check timeout matters with several
workers: uvicorn's supervisor kills a worker that does not answer its ping within 5 s, and
on busy cores a worker still importing LiteLLM can miss it, be started again, miss it again,
each time taking a core. The report gives LiteLLM's version, whether its uvicorn has
httptools (the gateway's has; without it uvicorn parses HTTP with the slower h11), and each
target's worker pids if they changed during the run (a worker replaced). LiteLLM with no
database does less per request than the gateway, which looks the key up, meters the call and
holds it to quotas in Redis; that is the configuration its users run without a database.

``--web-workers N`` passes ``--web-workers N`` to ``ministudio up`` (only when given, so the
script also runs against an ``up`` without that flag) and gives LiteLLM as many. The report
says how many web workers each target had.

Fallback hop (``--fallback-requests N``, default 300; 0 skips it), through the gateway only,
at 1 client, non-streaming, after the cache phase. A second stub server (an
``UpstreamServer`` of its own, so the first keeps answering) answers every chat request
with a 503; it is registered as the endpoint ``bench-chat-failing`` (no retries, as the
bench model). Two ``least_busy`` model groups are created and granted to ``demo`` through
the console API: ``bench-group-one`` = [``bench-chat``] and ``bench-group-fallback`` =
[``bench-chat-failing``, ``bench-chat``]. An idle least-busy group tries its members in
order, so every call to the second group goes to the failing member first, gets its 503
(the gateway admits that call, records it as failed and counts the failure against the
member's health in Redis) and falls back to ``bench-chat``. Four paths are measured in
interleaved rounds (one call of each per round, each round starting with the next path, so
load that comes and goes weighs on each alike), ``--warmup`` rounds untimed first: the bench
model by its endpoint name; the one-member group; the two-member group; and, for reference,
the failing stub's 503 called directly from this process. It reports p50 and p99 of each,
the cost of a group lookup (the one-member group minus the endpoint: the members' state read
from Redis, and the call counted in flight there) and of a fallback hop (the two-member
group minus the one-member group). The hop includes the failing stub's time to answer, about
what its direct row shows. Every gateway call must answer 200 with choices, and the script
counts the requests the failing stub received during each call: exactly one for a
two-member-group call, none for the other two; a direct call must get its 503. Anything else
is a failure (counted, the first shown). A member that fails ``failures_to_cool_down`` times
within ``cooldown_seconds`` is skipped for ``cooldown_seconds``, which would turn calls into
ones without a hop: the groups get the API's bounds (1 second, 100 failures) and rounds start
at most 80 times a second, so the failing member never reaches 100 failures in a second; the
report says how many timed rounds that pace held back (waited for). After the rounds it reads
the failing member's health through the console (``GET /console/api/model-groups/{id}``) and
prints its state and the failures counted toward a cool-down; the threshold or more with no
cool-down means the platform did not count them as it should. The requests carry no
temperature, so the response cache, if the cache phase turned it on for ``bench-chat``, does
not answer them.

Why a 503 from a stub rather than a closed loopback port (connection refused, which is also a
fallback case and costs the upstream nothing): the stub's answer is read and classified as an
overloaded upstream's would be, and the stub records each request it gets, so the script can
prove that every timed call went through the failing member; with a closed port it could not
tell a hop from a call that skipped the member. A scripted reply is used once, so the stub's
503s are topped up before each round.

The gateway (plus Postgres, Redis and, unless ``--no-worker``, the Celery worker) and
LiteLLM run on the same cores as this load generator and the stub, so the figures are
pessimistic: on a machine with few cores they include the competition for the CPU.
Variables that would point `up` elsewhere (DATABASE_URL, REDIS_URL, ...) are dropped from
its environment; the temporary data directory is removed at the end, also after a failure
or Ctrl-C.

Run from the repository root, in the project's virtual environment:

    .venv/bin/python bench/gateway.py [--requests N] [--requests-concurrent N] [--clients N]
        [--warmup N] [--memory-requests N] [--cache-requests N] [--fallback-requests N]
        [--web-workers N] [--litellm-python PATH] [--no-worker] [--log-level LEVEL] [--up-log FILE]
        [--litellm-log FILE] [--timeout SECONDS]

The latency phases with the defaults took about two to three minutes on two cores through
the gateway alone; LiteLLM adds its own share, and the memory phase sends twice N more
requests through each proxy, at about the rate of the concurrent phases.
``--log-level WARNING`` silences both servers' access logs to see what they cost.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.platform_process import (  # noqa: E402
    EXCEPTION_LINE,
    Platform,
    free_port,
    kill_leftovers,
)
from tests.upstream import UpstreamServer, error  # noqa: E402

ADMIN_EMAIL = "bench@example.com"
# A throwaway instance, removed at the end.
ADMIN_PASSWORD = "bench-gateway-password-1"  # noqa: S105
MODEL = "bench-chat"
UPSTREAM_MODEL = "stub-chat"
PROMPT = "Please repeat these few words back to me, one at a time."
CACHE_HEADER = "X-Ministudio-Cache"
CACHE_SECONDS = 600
DEMO = {"X-Workspace": "demo"}
# LiteLLM's master key, on loopback for the length of the run.
LITELLM_KEY = "sk-bench-litellm"


# --- the gateway's console ----------------------------------------------------------------------


class Console:
    """A logged-in console session (cookie and CSRF token) of the bench's platform admin."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=f"{base_url}/console/api", timeout=30)
        self.client.get("/auth/csrf").raise_for_status()
        self.call("POST", "/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})

    def call(self, method: str, path: str, payload: dict, **headers: str) -> dict:
        token = self.client.cookies.get("csrftoken", "")
        response = self.client.request(
            method, path, json=payload, headers={"X-CSRFToken": token, **headers}
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def close(self) -> None:
        self.client.close()


def set_up_gateway(console: Console, upstream_base_url: str) -> str:
    """Register the stub as an endpoint, grant it to `demo`, and return a `demo` API key."""
    endpoint = console.call(
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
    console.call("POST", f"/model-endpoints/{endpoint['id']}/grants", {"workspace": "demo"})
    created = console.call("POST", "/api-keys", {"name": "bench-gateway"}, **DEMO)
    return created["key"]


def turn_on_cache(console: Console) -> None:
    """Have `demo` keep the bench model's deterministic answers (the response cache)."""
    model = console.call(
        "PATCH",
        f"/models/{MODEL}/settings",
        {"response_cache_seconds": CACHE_SECONDS},
        **DEMO,
    )
    if model.get("response_cache_seconds") != CACHE_SECONDS:
        raise RuntimeError(f"the response cache was not turned on: {model}")


# --- LiteLLM ------------------------------------------------------------------------------------

# Variables that would give LiteLLM a database, a cache or settings of someone else's.
LITELLM_UNSET = ("DATABASE_URL", "DIRECT_URL", "STORE_MODEL_IN_DB", "PROMETHEUS_MULTIPROC_DIR")
LITELLM_UNSET_PREFIXES = ("LITELLM_", "REDIS_")
HEALTHCHECK_SECONDS = 120
# A worker's startup done: uvicorn's line (log level INFO), LiteLLM's own (printed).
STARTED = ("Application startup complete", "Proxy initialized with Config")
WORKER_DIED = re.compile(r"Child process \[\d+\] died")


class LiteLLMProxy:
    """LiteLLM's proxy in front of the stub, in a process group of its own; its output is
    drained by a thread (to ``log`` too, when given)."""

    def __init__(
        self,
        python: Path,
        directory: Path,
        upstream_base_url: str,
        *,
        workers: int,
        log_level: str | None = None,
        log: Path | None = None,
    ) -> None:
        self.workers = workers
        self.version, self.httptools = self._probe(python)
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "config.yaml"
        # JSON is YAML: no YAML writer needed here.
        config.write_text(json.dumps(self.config(upstream_base_url), indent=2))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        script = python.parent / "litellm"
        launcher = (
            [str(script)] if script.exists() else [str(python), "-m", "litellm.proxy.proxy_cli"]
        )
        command = [
            *launcher,
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--num_workers",
            str(workers),
            # uvicorn's supervisor kills a worker that does not answer its ping within 5 s;
            # a worker importing LiteLLM on busy cores can take longer, and then one is
            # killed and started again and again, each time taking a core for its imports.
            "--timeout_worker_healthcheck",
            str(HEALTHCHECK_SECONDS),
        ]
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in LITELLM_UNSET and not k.startswith(LITELLM_UNSET_PREFIXES)
        }
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        env["LITELLM_TELEMETRY_DISABLED"] = "true"
        env["LITELLM_MODE"] = "PRODUCTION"  # no .env files read
        if log_level:
            env["LITELLM_LOG"] = log_level
        self.lines: deque[str] = deque(maxlen=400)
        #: Workers that said they started (by each of two lines), and that uvicorn found dead
        #: (said at log level INFO only).
        self.started = {marker: 0 for marker in STARTED}
        self.died = 0
        self.log = log.open("w") if log is not None else None
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: stopped as one, workers too
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @staticmethod
    def _probe(python: Path) -> tuple[str, bool]:
        """LiteLLM's version in that environment, and whether uvicorn finds httptools there."""
        probe = (
            "import importlib.metadata, importlib.util; "
            "print(importlib.metadata.version('litellm'), "
            "importlib.util.find_spec('httptools') is not None)"
        )
        done = subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, check=False, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"no LiteLLM in {python}: {done.stderr.strip()[-500:]}")
        version, httptools = done.stdout.split()
        return version, httptools == "True"

    @staticmethod
    def config(upstream_base_url: str) -> dict:
        return {
            "model_list": [
                {
                    "model_name": MODEL,
                    "litellm_params": {
                        "model": f"openai/{UPSTREAM_MODEL}",
                        "api_base": upstream_base_url,
                        "api_key": "sk-bench-upstream",
                    },
                    # A price, as a model in LiteLLM's price list has: for a model without
                    # one, its cost lookup fails on every call, at a cost in CPU.
                    "model_info": {
                        "mode": "chat",
                        "input_cost_per_token": 0.0,
                        "output_cost_per_token": 0.0,
                    },
                }
            ],
            # As the gateway's endpoint: no retries.
            "router_settings": {"num_retries": 0},
            "litellm_settings": {"num_retries": 0, "request_timeout": 60, "cache": False},
            "general_settings": {
                "master_key": LITELLM_KEY,
                "disable_spend_logs": True,
                "disable_error_logs": True,
            },
        }

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if self.log is not None:
                self.log.write(line)
            for marker in STARTED:
                self.started[marker] += marker in line
            if WORKER_DIED.search(line):
                self.died += 1
        if self.log is not None:
            self.log.close()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_ready(self, timeout: float) -> float:
        """Seconds until all its workers have started and /health/liveliness answers."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"LiteLLM exited with {self.process.returncode}:\n{self.output}")
            with contextlib.suppress(httpx.HTTPError):
                if max(self.started.values()) >= self.workers and (
                    httpx.get(f"{self.base_url}/health/liveliness", timeout=2).status_code == 200
                ):
                    return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"LiteLLM was not ready within {timeout:.0f}s:\n{self.output}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM to the whole group, SIGKILL to what is left after ``timeout``."""
        group = self.process.pid  # start_new_session: the group's id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # workers the leader left behind, or the leader
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.reader.join(timeout=5)
        return self.process.returncode


# --- processes ------------------------------------------------------------------------------------


def serving_processes(pid: int | None) -> list[psutil.Process]:
    """The processes that serve HTTP for the uvicorn process ``pid``: the workers it started
    (``multiprocessing`` spawn children) when it runs several, else itself."""
    if pid is None:
        return []
    try:
        server = psutil.Process(pid)
        workers = []
        for child in server.children():
            with contextlib.suppress(psutil.Error):
                if "spawn_main" in " ".join(child.cmdline()):
                    workers.append(child)
    except psutil.Error:
        return []
    return sorted(workers, key=lambda p: p.pid) or [server]


def rss(processes: list[psutil.Process]) -> dict[int, float]:
    """Each process's resident set size in MiB, by pid (NaN for one that is gone)."""
    sizes = {}
    for process in processes:
        try:
            sizes[process.pid] = process.memory_info().rss / 2**20
        except psutil.Error:
            sizes[process.pid] = float("nan")
    return sizes


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    model: str
    headers: dict[str, str] = field(default_factory=dict)
    #: Its uvicorn process (None for the stub, which runs in this process).
    server_pid: int | None = None

    @property
    def workers(self) -> list[psutil.Process]:
        """The processes that serve its HTTP now."""
        return serving_processes(self.server_pid)


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

    def failed(self, exc: Exception) -> None:
        self.errors += 1
        self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"


def body_for(
    model: str, streaming: bool, *, prompt: str = PROMPT, temperature: float | None = None
) -> bytes:
    payload: dict = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    if temperature is not None:
        payload["temperature"] = temperature
    if streaming:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return json.dumps(payload).encode()


async def one_request(
    client: httpx.AsyncClient,
    target: Target,
    body: bytes,
    streaming: bool,
    expect_cache: str | None = None,
) -> tuple[float, float]:
    """(latency, time to first byte) of one call, in seconds; raises when it failed, or
    when ``expect_cache`` is given and the response's cache header says otherwise."""
    headers = {"Content-Type": "application/json", **target.headers}
    started = time.perf_counter()
    async with client.stream("POST", target.url, content=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {(await response.aread())[:300]!r}")
        if expect_cache is not None and (said := response.headers.get(CACHE_HEADER)) != (
            expect_cache
        ):
            raise RuntimeError(f"{CACHE_HEADER} {said!r}, expected {expect_cache!r}")
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
                            phase.failed(exc)
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


async def run_serial(
    target: Target,
    count: int,
    body: Callable[[int], bytes],
    expect_cache: Callable[[int], str | None] = lambda _: None,
    measure_from: int = 0,
) -> Phase:
    """``count`` non-streaming calls one after the other, the i-th with ``body(i)``, checked
    against ``expect_cache(i)``; calls before ``measure_from`` are checked but not timed."""
    phase = Phase()
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
        started = time.perf_counter()
        for i in range(count):
            try:
                latency, ttfb = await one_request(client, target, body(i), False, expect_cache(i))
            except Exception as exc:  # counted, and the first one is shown
                phase.failed(exc)
                continue
            if i >= measure_from:
                phase.latencies.append(latency)
                phase.ttfbs.append(ttfb)
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


def mib(size: float) -> str:
    return "gone" if math.isnan(size) else f"{size:.1f}"


#: How each target is named in the tables.
LABELS = {"direct": "direct", "litellm": "LiteLLM", "ministudio": "ministudio"}


def latency_columns(proxies: list[str]) -> list[tuple[str, str]]:
    columns = [
        ("scenario", "<"),
        ("clients", ">"),
        ("direct p50", ">"),
        ("direct p99", ">"),
        ("direct req/s", ">"),
    ]
    for name in proxies:
        label = LABELS[name]
        columns += [
            (f"{label} req/s", ">"),
            (f"{label} +p50", ">"),
            (f"{label} +p99", ">"),
            (f"{label} +TTFB p50", ">"),
        ]
    columns.append(("errors", ">"))
    return columns


def latency_row(scenario: str, clients: int, phases: dict[str, Phase]) -> list[str]:
    direct = phases["direct"]
    d50, d99 = percentile(direct.latencies, 50), percentile(direct.latencies, 99)
    row = [scenario, str(clients), ms(d50), ms(d99), f"{direct.rate:.0f}"]
    for name, phase in phases.items():
        if name == "direct":
            continue
        ttfb = percentile(phase.ttfbs, 50) - percentile(direct.ttfbs, 50)
        row += [
            f"{phase.rate:.0f}",
            added(percentile(phase.latencies, 50) - d50),
            added(percentile(phase.latencies, 99) - d99),
            added(ttfb),
        ]
    row.append("/".join(str(phase.errors) for phase in phases.values()))
    return row


def print_table(columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    widths = [
        max(len(title), *(len(row[i]) for row in rows)) for i, (title, _) in enumerate(columns)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(cells, columns, widths, strict=True)
        )

    print(line([title for title, _ in columns]))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


# --- phases -------------------------------------------------------------------------------------


def memory_phase(
    targets: list[Target], requests: int, clients: int, failures: list[str]
) -> list[list[str]]:
    """RSS of each target's web workers before, after ``requests`` and after another
    ``requests`` non-streaming calls at ``clients`` clients; one table row per worker."""
    rows = []
    for target in targets:
        workers = target.workers
        readings = [rss(workers)]
        for _ in range(2):
            phase = asyncio.run(
                run_load(target, streaming=False, clients=clients, requests=requests, warmup=0)
            )
            readings.append(rss(workers))
            print(
                f"  memory {clients:>3} clients  {target.name:<10}  {len(phase.latencies)} ok, "
                f"{phase.errors} failed in {phase.seconds:.1f} s",
                flush=True,
            )
            if phase.first_error:
                failures.append(f"memory, {target.name}: {phase.first_error}")
        for process in workers:
            before, first, second = (reading[process.pid] for reading in readings)
            rows.append(
                [
                    LABELS[target.name],
                    str(process.pid),
                    mib(before),
                    mib(first),
                    mib(second),
                    "" if math.isnan(second - first) else f"{second - first:+.1f}",
                ]
            )
    return rows


MEMORY_COLUMNS = [
    ("target", "<"),
    ("worker pid", ">"),
    ("RSS before MiB", ">"),
    ("after N", ">"),
    ("after 2N", ">"),
    ("growth over 2nd N", ">"),
]


def cache_phase(
    console: Console, direct: Target, gateway: Target, requests: int, failures: list[str]
) -> list[list[str]]:
    """The direct call, the gateway's uncached call, a miss and a hit, one client, one
    after the other; one table row per path."""

    def same(target: Target) -> Callable[[int], bytes]:
        body = body_for(target.model, False, temperature=0)
        return lambda _: body

    def new_prompt(i: int) -> bytes:
        return body_for(gateway.model, False, prompt=f"{PROMPT} ({i})", temperature=0)

    paths: list[tuple[str, Phase]] = []

    def measure(label: str, target: Target, *args) -> None:
        phase = asyncio.run(run_serial(target, requests, *args))
        paths.append((label, phase))
        print(
            f"  cache    1 client   {label:<41}  {len(phase.latencies)} timed, "
            f"{phase.errors} failed in {phase.seconds:.1f} s",
            flush=True,
        )
        if phase.first_error:
            failures.append(f"cache, {label}: {phase.first_error}")

    measure("direct (temperature 0)", direct, same(direct))
    measure("ministudio, cache off", gateway, same(gateway))
    turn_on_cache(console)
    measure("ministudio, miss (a new prompt each)", gateway, new_prompt, lambda _: "miss")
    measure(
        "ministudio, hit (the 1st a miss, untimed)",
        gateway,
        same(gateway),
        lambda i: "miss" if i == 0 else "hit",
        1,
    )
    d50, d99 = (percentile(paths[0][1].latencies, q) for q in (50, 99))
    o50, o99 = (percentile(paths[1][1].latencies, q) for q in (50, 99))
    rows = []
    for index, (label, phase) in enumerate(paths):
        p50, p99 = percentile(phase.latencies, 50), percentile(phase.latencies, 99)
        rows.append(
            [
                label,
                str(len(phase.latencies)),
                str(phase.errors),
                ms(p50),
                ms(p99),
                f"{added(p50 - d50)} / {added(p99 - d99)}" if index > 0 else "",
                f"{added(p50 - o50)} / {added(p99 - o99)}" if index > 1 else "",
            ]
        )
    return rows


CACHE_COLUMNS = [
    ("path", "<"),
    ("timed", ">"),
    ("failed", ">"),
    ("p50", ">"),
    ("p99", ">"),
    ("over direct p50 / p99", ">"),
    ("over cache off p50 / p99", ">"),
]


# --- fallback hop ---------------------------------------------------------------------------------

FAILING_ENDPOINT = "bench-chat-failing"
ONE_MEMBER_GROUP = "bench-group-one"
FALLBACK_GROUP = "bench-group-fallback"
#: The bounds of the console API (model_groups_api.GroupCreateIn): the shortest window and
#: the most failures in it, so that the failing member is not cooled down (and skipped).
GROUP_COOLDOWN_SECONDS = 1
GROUP_FAILURES_TO_COOL_DOWN = 100
#: Rounds start at most this often: the failing member fails once a round, so it stays
#: below GROUP_FAILURES_TO_COOL_DOWN failures in any GROUP_COOLDOWN_SECONDS.
FALLBACK_ROUNDS_PER_SECOND = 80
#: What the failing member answers to every request.
FAILURE = error(503, "bench: this member is down")


def set_up_groups(console: Console, failing_base_url: str) -> str:
    """Register the failing stub as an endpoint, and grant `demo` two least-busy groups:
    the bench model alone, and the failing endpoint first, then the bench model; return the
    second group's id."""
    console.call(
        "POST",
        "/model-endpoints",
        {
            "name": FAILING_ENDPOINT,
            "provider": "openai",
            "upstream_model": UPSTREAM_MODEL,
            "capabilities": ["chat"],
            "settings": {"base_url": failing_base_url, "api_key": "x", "max_retries": 0},
        },
    )
    for name, members in ((ONE_MEMBER_GROUP, [MODEL]), (FALLBACK_GROUP, [FAILING_ENDPOINT, MODEL])):
        group = console.call(
            "POST",
            "/model-groups",
            {
                "name": name,
                "balancing": "least_busy",
                "members": [{"endpoint": member, "weight": 1} for member in members],
                "cooldown_seconds": GROUP_COOLDOWN_SECONDS,
                "failures_to_cool_down": GROUP_FAILURES_TO_COOL_DOWN,
            },
        )
        console.call("POST", f"/model-groups/{group['id']}/grants", {"workspace": "demo"})
    return group["id"]


def failing_member_health(console: Console, group_id: str) -> str:
    """The failing member's health as the console shows it, in words."""
    member = console.call("GET", f"/model-groups/{group_id}", {})["members"][0]
    said = (
        f"the failing member after the phase, as the console shows it: {member['state']}, "
        f"{member['recent_failures']} failure(s) counted toward a cool-down "
        f"({GROUP_FAILURES_TO_COOL_DOWN} within {GROUP_COOLDOWN_SECONDS} s)"
    )
    if member["recent_failures"] >= GROUP_FAILURES_TO_COOL_DOWN and member["state"] == "healthy":
        said += (
            "; that many with no cool-down: the platform did not count them as it should "
            "(the hop was still taken on every timed call; see its log, --up-log)"
        )
    return said


async def run_fallback_rounds(
    failing: UpstreamServer, paths: list[tuple[Target, int | None]], rounds: int, warmup: int
) -> tuple[list[Phase], int]:
    """``rounds`` rounds of one call of each path, one call at a time, the first ``warmup``
    untimed; each round starts with the next path, and at most FALLBACK_ROUNDS_PER_SECOND
    rounds start a second. A path is ``(target, hops)``: ``hops`` is how many requests the
    failing stub must get during one of its calls, or None for a call to the failing stub
    itself, which must answer 503. Returns each path's phase and how many rounds the pace
    held back."""
    phases = [Phase() for _ in paths]
    held_back = 0
    reaching = sum(1 if hops is None else hops for _, hops in paths)  # a round's calls there
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:

        async def call(target: Target, hops: int | None) -> float:
            body = body_for(target.model, False)
            if hops is None:
                headers = {"Content-Type": "application/json", **target.headers}
                started = time.perf_counter()
                response = await client.post(target.url, content=body, headers=headers)
                latency = time.perf_counter() - started
                if response.status_code != 503:
                    raise RuntimeError(f"{response.status_code}, expected 503")
                return latency
            before = len(failing.requests_for("chat"))
            latency, _ = await one_request(client, target, body, False)
            got = len(failing.requests_for("chat")) - before
            if got != hops:
                raise RuntimeError(f"the failing member got {got} request(s), expected {hops}")
            return latency

        started = time.perf_counter()
        for round_ in range(rounds):
            began = time.perf_counter()
            if round_ == warmup:
                started = began
            # A scripted reply is used once: keep one for each call that reaches the stub.
            if (short := reaching - failing.pending("chat")) > 0:
                failing.script("chat", *[FAILURE] * short)
            first = round_ % len(paths)
            for index in [*range(first, len(paths)), *range(first)]:
                try:
                    latency = await call(*paths[index])
                except Exception as exc:  # counted, and the first one is shown
                    if round_ >= warmup:
                        phases[index].failed(exc)
                    continue
                if round_ >= warmup:
                    phases[index].latencies.append(latency)
            if (wait := 1 / FALLBACK_ROUNDS_PER_SECOND - (time.perf_counter() - began)) > 0:
                held_back += round_ >= warmup
                await asyncio.sleep(wait)
        for phase in phases:
            phase.seconds = time.perf_counter() - started
    return phases, held_back


def fallback_phase(
    console: Console,
    failing: UpstreamServer,
    gateway: Target,
    requests: int,
    warmup: int,
    failures: list[str],
) -> tuple[list[list[str]], list[str]]:
    """The bench model by its name, the one-member group, the two-member group whose first
    member answers 503, and that 503 from the failing stub directly, in interleaved rounds;
    one table row per path, and the summary's lines."""
    group_id = set_up_groups(console, failing.openai_base_url)
    labels = [
        f"endpoint {MODEL} by its name",
        "one-member group",
        "two-member group (503, then served)",
        "the failing stub's 503, directly",
    ]
    paths: list[tuple[Target, int | None]] = [
        (gateway, 0),
        (replace(gateway, model=ONE_MEMBER_GROUP), 0),
        (replace(gateway, model=FALLBACK_GROUP), 1),
        (Target("failing", f"{failing.openai_base_url}/chat/completions", UPSTREAM_MODEL), None),
    ]
    phases, held_back = asyncio.run(run_fallback_rounds(failing, paths, warmup + requests, warmup))
    health = failing_member_health(console, group_id)
    for label, phase in zip(labels, phases, strict=True):
        print(
            f"  fallback 1 client   {label:<41}  {len(phase.latencies)} timed, "
            f"{phase.errors} failed",
            flush=True,
        )
        if phase.first_error:
            failures.append(f"fallback, {label}: {phase.first_error}")
    p50s = [percentile(phase.latencies, 50) for phase in phases]
    p99s = [percentile(phase.latencies, 99) for phase in phases]
    rows = []
    for index, (label, phase) in enumerate(zip(labels, phases, strict=True)):
        step = index in (1, 2)  # over the row above: a group lookup, then a fallback hop
        rows.append(
            [
                label,
                str(len(phase.latencies)),
                str(phase.errors),
                ms(p50s[index]),
                ms(p99s[index]),
                (
                    f"{added(p50s[index] - p50s[index - 1])} / "
                    f"{added(p99s[index] - p99s[index - 1])}"
                    if step
                    else ""
                ),
            ]
        )
    summary = [
        f"a group lookup (the one-member group minus the endpoint): "
        f"{added(p50s[1] - p50s[0])} ms at p50, {added(p99s[1] - p99s[0])} ms at p99",
        f"a fallback hop (the two-member group minus the one-member group): "
        f"{added(p50s[2] - p50s[1])} ms at p50, {added(p99s[2] - p99s[1])} ms at p99; "
        f"the failing stub's 503 alone, called directly: {ms(p50s[3])} ms at p50",
        f"rounds held back by the pace of {FALLBACK_ROUNDS_PER_SECOND} a second: "
        f"{held_back} of {requests}",
        health,
    ]
    return rows, summary


FALLBACK_COLUMNS = [
    ("path", "<"),
    ("timed", ">"),
    ("failed", ">"),
    ("p50", ">"),
    ("p99", ">"),
    ("over the row above p50 / p99", ">"),
]


# --- the run --------------------------------------------------------------------------------------


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
        "--memory-requests",
        type=int,
        default=10000,
        help="requests before each reading of the web workers' RSS (twice; 0: skip)",
    )
    parser.add_argument(
        "--cache-requests",
        type=int,
        default=300,
        help="requests of each path of the response-cache phase (0: skip)",
    )
    parser.add_argument(
        "--fallback-requests",
        type=int,
        default=300,
        help="requests of each path of the fallback-hop phase (0: skip)",
    )
    parser.add_argument(
        "--web-workers",
        type=int,
        help="`up --web-workers N`, and LiteLLM's --num_workers (default: as many as `up` has)",
    )
    parser.add_argument(
        "--litellm-python",
        type=Path,
        help="the python of a virtualenv with litellm[proxy]: measure LiteLLM's proxy too",
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="start `up` without its Celery worker"
    )
    parser.add_argument(
        "--log-level", help="MINISTUDIO_LOG_LEVEL for `up` and LITELLM_LOG (default: theirs)"
    )
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds to wait for `up` and LiteLLM"
    )
    parser.add_argument("--up-log", type=Path, help="write all of `up`'s output to this file")
    parser.add_argument("--litellm-log", type=Path, help="write all of LiteLLM's output here")
    options = parser.parse_args()
    if options.litellm_python is not None and not options.litellm_python.exists():
        parser.error(f"--litellm-python: {options.litellm_python} does not exist")

    began = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="ms-bench-", dir="/tmp"))
    platform: Platform | None = None
    litellm: LiteLLMProxy | None = None
    console: Console | None = None
    proxies: list[Target] = []
    rows: list[list[str]] = []
    memory_rows: list[list[str]] = []
    cache_rows: list[list[str]] = []
    fallback_rows: list[list[str]] = []
    fallback_summary: list[str] = []
    failures: list[str] = []
    #: Each proxy's web worker pids when the load began and when it ended.
    pids: dict[str, tuple[list[int], list[int]]] = {}
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
                web_workers=options.web_workers,
            )
            ready = platform.wait_until_ready(options.timeout)
            console = Console(platform.base_url)
            key = set_up_gateway(console, stub.openai_base_url)
            direct = Target("direct", f"{stub.openai_base_url}/chat/completions", UPSTREAM_MODEL)
            gateway = Target(
                "ministudio",
                f"{platform.base_url}/compatible-mode/v1/chat/completions",
                MODEL,
                {"Authorization": f"Bearer {key}"},
                platform.web_pid(),
            )
            print(
                f"`up` ready in {ready:.1f} s on port {platform.port} "
                f"(web pid {platform.web_pid()}, {len(gateway.workers)} web worker(s)); "
                f"stub on port {stub.port}",
                flush=True,
            )
            if options.litellm_python is not None:
                litellm = LiteLLMProxy(
                    options.litellm_python,
                    data_dir / "litellm",
                    stub.openai_base_url,
                    workers=options.web_workers or len(gateway.workers) or 1,
                    log_level=options.log_level,
                    log=options.litellm_log,
                )
                ready = litellm.wait_until_ready(options.timeout)
                proxies.append(
                    Target(
                        "litellm",
                        f"{litellm.base_url}/v1/chat/completions",
                        MODEL,
                        {"Authorization": f"Bearer {LITELLM_KEY}"},
                        litellm.process.pid,
                    )
                )
                print(
                    f"LiteLLM {litellm.version} ready in {ready:.1f} s on port {litellm.port} "
                    f"(pid {litellm.process.pid}, {len(proxies[-1].workers)} worker(s))",
                    flush=True,
                )
            proxies.append(gateway)
            first_pids = {target.name: [p.pid for p in target.workers] for target in proxies}
            for streaming in (False, True):
                scenario = "streaming" if streaming else "non-streaming"
                for clients, requests in (
                    (1, options.requests),
                    (options.clients, options.requests_concurrent),
                ):
                    phases = {}
                    for target in (direct, *proxies):
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
                            f"  {scenario:<13} {clients:>3} clients  {target.name:<10}  "
                            f"{len(phase.latencies)} ok, {phase.errors} failed "
                            f"in {phase.seconds:.1f} s",
                            flush=True,
                        )
                        if phase.first_error:
                            failures.append(
                                f"{scenario}, {clients} clients, {target.name}: {phase.first_error}"
                            )
                    rows.append(latency_row(scenario, clients, phases))
            if options.memory_requests > 0:
                memory_rows = memory_phase(
                    proxies, options.memory_requests, options.clients, failures
                )
            if options.cache_requests > 0:
                cache_rows = cache_phase(console, direct, gateway, options.cache_requests, failures)
            if options.fallback_requests > 0:
                with UpstreamServer() as failing:
                    fallback_rows, fallback_summary = fallback_phase(
                        console,
                        failing,
                        gateway,
                        options.fallback_requests,
                        options.warmup,
                        failures,
                    )
                    if failing.crashes:
                        failures.append("the failing stub crashed:\n" + "\n".join(failing.crashes))
            for target in proxies:
                pids[target.name] = (first_pids[target.name], [p.pid for p in target.workers])
            if stub.crashes:
                failures.append("the stub crashed:\n" + "\n".join(stub.crashes))
    finally:
        if console is not None:
            console.close()
        if litellm is not None:
            code = litellm.stop()
            if code not in (0, None, -signal.SIGTERM, -signal.SIGKILL):
                print(f"LiteLLM exited with {code}:\n{litellm.output}", file=sys.stderr)
        if platform is not None:
            code = platform.stop()
            if code not in (0, None):
                print(f"`up` exited with {code}:\n{platform.output}", file=sys.stderr)
        kill_leftovers(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)

    print()

    def workers_of(name: str) -> str:
        first, last = pids[name]
        said = f"{len(last)} web worker(s)"
        return said if first == last else f"{said} (pids {first} at the start, {last} at the end)"

    workers = f"ministudio: {workers_of('ministudio')}"
    if litellm is not None:
        workers += (
            f"; LiteLLM {litellm.version}: {workers_of('litellm')}, uvicorn "
            f"{'with' if litellm.httptools else 'without'} httptools"
            + (f", {litellm.died} worker(s) found dead and started again" if litellm.died else "")
        )
    print(
        f"CPUs: {os.cpu_count()}. {workers}. They, Postgres, Redis"
        + ("" if options.no_worker else ", the Celery worker")
        + " and this process (load generator and stub) share those cores, so the figures are "
        "pessimistic."
    )
    print(
        "Latency in ms until the whole response was read; +p50/+p99 = the proxy's percentile "
        "minus direct's; TTFB = response headers (non-streaming) or first SSE frame "
        "(streaming); errors: " + "/".join(LABELS[t.name] for t in (direct, *proxies)) + "."
    )
    print_table(latency_columns([target.name for target in proxies]), rows)
    if memory_rows:
        print(
            f"\nRSS of each web worker, N = {options.memory_requests} non-streaming requests at "
            f"{options.clients} clients after the latency phases; growth = after 2N minus after N."
        )
        print_table(MEMORY_COLUMNS, memory_rows)
    if cache_rows:
        print(
            f"\nResponse cache: {options.cache_requests} non-streaming temperature-0 requests a "
            "path, 1 client, latency in ms."
        )
        print_table(CACHE_COLUMNS, cache_rows)
    if fallback_rows:
        print(
            f"\nFallback hop: {options.fallback_requests} non-streaming requests a path, 1 client, "
            "in interleaved rounds, latency in ms; the two-member group's first member answers "
            "503 to every call, its second serves it."
        )
        print_table(FALLBACK_COLUMNS, fallback_rows)
        for line in fallback_summary:
            print(line)
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
