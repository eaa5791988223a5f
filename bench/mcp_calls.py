"""What calling an MCP server's tool costs: one session per call (connect, initialize,
``tools/call``, close), as ``apps.mcp_servers.connection`` makes it for every call an app's
run makes.

A FastMCP server (the tests' ``good_server``: ``add(a, b)``) runs in this process on
loopback over streamable HTTP and over the older HTTP+SSE transport; the stdio server is the
tests' ``stdio_server.py``, started afresh for each call as ministudio starts it (a Python
process importing the ``mcp`` SDK). For each transport: ``--warmup`` calls unmeasured, then
``--runs`` rounds in which the transports are called once each, in turn (so load that comes
and goes weighs on each alike). Also, per transport, listing the tools (what registering and
refreshing a server costs). Prints p50 and p95 in milliseconds. No database is needed; the
SSRF guard runs as in production, with loopback allowed for the run.

    .venv/bin/python bench/mcp_calls.py [--runs 30] [--warmup 3]
"""

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("MINISTUDIO_LOG_LEVEL", "WARNING")
os.environ["MINISTUDIO_TOOLS_ALLOWED_NETWORKS"] = "127.0.0.1/32"

import django  # noqa: E402

django.setup()

from apps.mcp_servers.connection import Endpoint, call_tool, list_tools  # noqa: E402
from apps.mcp_servers.stdio import StdioCommand  # noqa: E402
from tests.mcp_servers.servers import good_server, serve  # noqa: E402

STDIO_SERVER = ROOT / "tests" / "mcp_servers" / "stdio_server.py"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(action) -> float:
    began = time.perf_counter()
    action()
    return (time.perf_counter() - began) * 1000


def main() -> None:
    # The test server logs its side of each closed session; only the figures matter here.
    logging.getLogger("mcp").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    options = parser.parse_args()
    http = serve(good_server().streamable_http_app(), "/mcp")
    sse = serve(good_server().sse_app(), "/sse")
    stdio = StdioCommand("local", (sys.executable, str(STDIO_SERVER)))
    endpoints = {
        "streamable HTTP": Endpoint("calc", "streamable_http", 30, url=http.url),
        "HTTP + SSE": Endpoint("calc", "sse", 30, url=sse.url),
        "stdio": Endpoint("local", "stdio", 30, command=stdio),
    }
    calls = {
        "streamable HTTP": ("add", {"a": 2, "b": 3}),
        "HTTP + SSE": ("add", {"a": 2, "b": 3}),
        "stdio": ("greet", {"name": "Ada"}),
    }
    try:
        figures: dict[str, dict[str, list[float]]] = {
            name: {"call": [], "list": []} for name in endpoints
        }
        for round_number in range(options.warmup + options.runs):
            for name, endpoint in endpoints.items():
                tool, arguments = calls[name]
                call = timed(lambda e=endpoint, t=tool, a=arguments: call_tool(e, t, a))
                listing = timed(lambda e=endpoint: list_tools(e))
                if round_number >= options.warmup:
                    figures[name]["call"].append(call)
                    figures[name]["list"].append(listing)
    finally:
        http.stop()
        sse.stop()
    print(f"MCP tool calls, one session each ({options.runs} runs; ms)")
    print(f"{'transport':<18}{'call p50':>10}{'call p95':>10}{'list p50':>10}{'list p95':>10}")
    for name, values in figures.items():
        print(
            f"{name:<18}"
            f"{statistics.median(values['call']):>10.1f}{percentile(values['call'], 0.95):>10.1f}"
            f"{statistics.median(values['list']):>10.1f}{percentile(values['list'], 0.95):>10.1f}"
        )


if __name__ == "__main__":
    main()
