"""End to end: the web console in a real browser against a real `ministudio up`.

Starts the suite's scripted model server (``tests/upstream.py``, the one fake), starts
``ministudio up`` on a free port with a temporary data directory and a known platform
admin, registers the scripted server as a chat model and grants it to the ``demo``
workspace (setup, through the console API), then runs the browser journey
(``frontend/e2e/journey.mjs``: ``playwright-core`` driving Debian's ``chromium``, headless):
sign in, create a knowledge base, upload a generated document, wait until it is ready, hit
test it, create an app on it, see the playground's answer stream in with a citation,
publish, draw a workflow app on the canvas (a condition and two answers, connected by
dragging handles), run it in the playground (its nodes light up) and publish it, create an
API key, look at the plugins, add an MCP server (a real one, built with the ``mcp`` SDK's
``FastMCP`` and served on loopback by this script: ``calc``, streamable HTTP, one tool
``add``), see its tool listed, test-run ``add`` with 2 and 3 (``5``), give a new agent app
that tool under "MCP · calc" and see its playground answer "What is 19 + 23?" through it
(the scripted model calls ``calc__add``, reads ``42`` and answers). Then it runs, as a
tenant program would, the ready-to-run ``dashscope`` snippets the console showed with that
key, and checks their answers. ``ministudio up`` runs with
``MINISTUDIO_TOOLS_ALLOWED_NETWORKS=127.0.0.1/32``, so that tools may reach loopback.

Screenshots of every main page go to ``var/e2e-screenshots/`` (``--screenshots``), and a
``failure.png`` when a step fails. Exits non-zero with the step that failed; every wait is
bounded, and the platform, the scripted server and the MCP server are always stopped.
Without a Chromium to drive it says ``SKIPPED`` loudly and exits 0 (``.ci/run`` installs one
first).

    .venv/bin/python acceptance/console_e2e.py [--screenshots DIR] [--keep-data]

``--serve`` starts the same platform, model server and MCP server and waits (Ctrl-C stops them),
printing the variables with which ``node frontend/e2e/journey.mjs`` runs against it: the
quick loop while writing the journey.
"""

import argparse
import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dashscope
import httpx
import uvicorn
from mcp.server.fastmcp import FastMCP

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.platform_process import Platform, free_port, kill_leftovers  # noqa: E402
from tests.upstream import (  # noqa: E402
    RecordedRequest,
    UpstreamServer,
    stream,
    text,
    tool_call,
)

FRONTEND = ROOT / "frontend"
JOURNEY = FRONTEND / "e2e" / "journey.mjs"
ADMIN_EMAIL = "e2e-admin@example.com"
ADMIN_PASSWORD = "e2e-console-journey-1"  # noqa: S105 - a throwaway instance
CHAT_MODEL = "e2e-chat"
#: What the generated document says, and what the scripted model answers from it.
FACT = "480 yuan"
ANSWER_FROM_SOURCES = [
    "Hotels in tier-one cities ",
    "are reimbursed up to ",
    f"{FACT} a night",
    "<ref>[1]</ref>.",
]
PLAIN_ANSWER = "Hello from the e2e model."
#: The MCP step: the server's name and tool, the function name models call it by, what the
#: playground asks, the call the scripted model makes, what the tool answers and the answer.
MCP_SERVER = "calc"
MCP_FUNCTION = "calc__add"
MCP_QUESTION = "What is 19 + 23?"
MCP_ARGUMENTS = {"a": 19, "b": 23}
MCP_RESULT = "42"
MCP_ANSWER = "19 + 23 = 42."
#: `up` may reach the journey's MCP server on loopback (refused by default).
PLATFORM_ENV = {"MINISTUDIO_TOOLS_ALLOWED_NETWORKS": "127.0.0.1/32"}
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
#: Seconds: `up` (it may build the console first), the browser journey, each snippet.
READY_TIMEOUT = 420
JOURNEY_TIMEOUT = 300
SNIPPET_TIMEOUT = 60


def say(message: str) -> None:
    print(f"e2e: {message}", flush=True)


def find_chromium() -> str | None:
    """The browser to drive: E2E_CHROMIUM (which must exist), else the first on PATH."""
    given = os.environ.get("E2E_CHROMIUM")
    if given:
        if not Path(given).is_file():
            raise SystemExit(f"e2e: FAILED: E2E_CHROMIUM={given} does not exist")
        return given
    for name in CHROMIUM_CANDIDATES:
        if found := shutil.which(name):
            return found
    return None


def content_text(message: dict) -> str:
    """A chat message's text (a string, or a list of parts)."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
    return str(content or "")


def mcp_reply(body: dict):
    """The MCP app's turns, when the request offers calc's `add`: the question asks for a
    call of it; its result, the answer (or, if the tool said something else, what it said)."""
    offered = {(t.get("function") or {}).get("name") for t in body.get("tools") or []}
    messages = body.get("messages") or [{}]
    last = messages[-1]
    if MCP_FUNCTION not in offered:
        return None
    if last.get("role") == "tool":
        said = content_text(last).strip()
        return text(MCP_ANSWER if said == MCP_RESULT else f"The tool answered {said!r}.")
    if last.get("role") == "user" and MCP_QUESTION in content_text(last):
        return tool_call(MCP_FUNCTION, MCP_ARGUMENTS)
    return None


def model_reply(request: RecordedRequest):
    """The scripted chat model: offered calc's `add` (the MCP app), a call of it and then
    the answer from its result; with numbered sources in the system prompt (an app run), a
    streamed answer citing source 1, only if that source holds the fact; else a plain line."""
    body = request.body if isinstance(request.body, dict) else {}
    if reply := mcp_reply(body):
        return reply
    system = "\n".join(
        str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == "system"
    )
    if "<ref>[n]</ref>" in system:
        first = system.split("\n[1] ", 1)[1] if "\n[1] " in system else ""
        first = first.split("\n[2] ", 1)[0]
        # Pieces 0.3 s apart: far enough that the playground shows one before the next.
        if FACT in first:
            return stream(ANSWER_FROM_SOURCES, delay=0.3)
        return stream(["The sources ", "do not say."], delay=0.3)
    return text(PLAIN_ANSWER)


def calc_server() -> FastMCP:
    """The journey's MCP server (as tests/mcp_servers/servers.py's good one): `add`."""
    server = FastMCP(
        MCP_SERVER, instructions="Arithmetic for the browser journey.", log_level="WARNING"
    )

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    return server


@contextlib.contextmanager
def mcp_server() -> Iterator[str]:
    """Serve `calc_server()` over streamable HTTP on 127.0.0.1 (a thread): its URL."""
    # The SDK logs a traceback each time a client closes its event stream (the platform
    # opens a session per call): not a failure; what the journey checks is the calls.
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.CRITICAL)
    port = free_port()
    config = uvicorn.Config(
        calc_server().streamable_http_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="mcp-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the MCP server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(10)


def mcp_tool_used(upstream: UpstreamServer) -> bool:
    """Whether a model call was given calc__add's result, 42, after calling it."""
    for request in upstream.requests_for("chat"):
        messages = request.body.get("messages", []) if isinstance(request.body, dict) else []
        called = any(
            (call.get("function") or {}).get("name") == MCP_FUNCTION
            for m in messages
            for call in m.get("tool_calls") or []
        )
        answered = any(
            m.get("role") == "tool" and content_text(m).strip() == MCP_RESULT for m in messages
        )
        if called and answered:
            return True
    return False


class Console:
    """The console API as the platform admin (setup only; the journey is the browser's)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/console/api", timeout=60)
        self.http.get("/auth/csrf").raise_for_status()
        self.call("POST", "/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"X-CSRFToken": self.http.cookies.get("csrftoken", ""), "X-Workspace": "demo"}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response


def register_chat_model(console: Console, upstream: UpstreamServer) -> None:
    endpoint = console.call(
        "POST",
        "/model-endpoints",
        json={
            "name": CHAT_MODEL,
            "provider": "openai",
            "upstream_model": "scripted",
            "capabilities": ["chat", "tool_calls"],
            "settings": {"base_url": upstream.openai_base_url, "api_key": "sk-up"},
            "context_window": 32768,
        },
    ).json()
    console.call("POST", f"/model-endpoints/{endpoint['id']}/grants", json={"workspace": "demo"})
    # A quota far above what the run uses, so that the usage and admin pages have one to show.
    console.call(
        "POST",
        "/quotas",
        json={"workspace": "demo", "requests_per_minute": 600, "tokens_per_day": 5_000_000},
    )


def run_journey(node: str, env: dict[str, str]) -> str | None:
    """Run journey.mjs (in its own process group, so that a time-out also ends the browser)."""
    journey = subprocess.Popen(  # noqa: S603 - node on our own script
        [node, str(JOURNEY)], env=env, cwd=FRONTEND, start_new_session=True
    )
    try:
        code = journey.wait(JOURNEY_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(journey.pid, signal.SIGKILL)
        journey.wait()
    if code is None:
        return f"it did not finish within {JOURNEY_TIMEOUT}s"
    return f"exit {code}" if code else None


def run_snippet(name: str, code: str, expect: str) -> str | None:
    """Run a snippet the console showed, as it is, with the venv's Python: what went wrong."""
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter on the console's snippet
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=SNIPPET_TIMEOUT,
            cwd=tempfile.gettempdir(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"the {name} snippet did not finish within {SNIPPET_TIMEOUT}s"
    output = done.stdout.strip()
    if done.returncode != 0 or expect not in output:
        return (
            f"the {name} snippet exited {done.returncode}, printed {output[-300:]!r}, "
            f"stderr {done.stderr.strip()[-600:]!r} (expected {expect!r})\n--- snippet ---\n{code}"
        )
    say(f"the {name} snippet printed {output[-120:]!r}")
    return None


def check_app_call(base_url: str, result: dict) -> list[str]:
    """Call the published app with the key the console showed, as docs/apps.md does."""
    problems = []
    dashscope.base_http_api_url = f"{base_url}/api/v1"
    answer = dashscope.Application.call(
        app_id=result["app_id"], api_key=result["api_key"], prompt=result["question"]
    )
    if answer.status_code != 200:
        return [f"Application.call answered {answer.status_code} {answer.code} {answer.message}"]
    if answer.output.text != "".join(ANSWER_FROM_SOURCES):
        problems.append(f"Application.call answered {answer.output.text!r}")
    names = [r.doc_name for r in answer.output.doc_references or []]
    if not names or names[0] != result["document"]:
        problems.append(f"doc_references name {names}, not {result['document']!r} first")
    say(f"Application.call answered {answer.output.text!r} citing {names[:1]}")
    return problems


def check_snippets(base_url: str, result: dict) -> list[str]:
    problems = []
    snippets = result.get("snippets", {})
    if code := snippets.get("api_keys_dashscope"):
        if problem := run_snippet("API keys page's DashScope", code, PLAIN_ANSWER):
            problems.append(problem)
    else:
        problems.append("the journey brought back no snippet from the API keys page")
    if result.get("app_id"):
        if code := snippets.get("app_dashscope"):
            # The app's page does not know the key: its snippets say "sk-..." for it.
            code = code.replace('"sk-..."', json.dumps(result["api_key"]))
            # It asks "你好": whatever the model says, the sources must be our document.
            if problem := run_snippet("app's DashScope", code, result["document"]):
                problems.append(problem)
        problems += check_app_call(base_url, result)
    return problems


def journey_env(
    base_url: str, chromium: str, screenshots: Path, result: Path, mcp_url: str
) -> dict[str, str]:
    return {
        "E2E_BASE_URL": base_url,
        "E2E_EMAIL": ADMIN_EMAIL,
        "E2E_PASSWORD": ADMIN_PASSWORD,
        "E2E_CHROMIUM": chromium,
        "E2E_SCREENSHOTS": str(screenshots),
        "E2E_RESULT": str(result),
        "E2E_CHAT_MODEL": CHAT_MODEL,
        "E2E_FACT": FACT,
        "E2E_PLAIN_ANSWER": PLAIN_ANSWER,
        "E2E_MCP_URL": mcp_url,
        "E2E_MCP_QUESTION": MCP_QUESTION,
        "E2E_MCP_ANSWER": MCP_ANSWER,
    }


def serve(screenshots: Path) -> int:
    """The platform and the model server, up until Ctrl-C, for running the journey by hand."""
    data_dir = Path(tempfile.mkdtemp(prefix="ms-e2e-", dir="/tmp"))
    with UpstreamServer() as upstream, mcp_server() as mcp_url:
        upstream.script("chat", *[model_reply] * 10000)
        platform = Platform(
            data_dir,
            admin_email=ADMIN_EMAIL,
            admin_password=ADMIN_PASSWORD,
            log=data_dir / "up.log",
            extra_env=PLATFORM_ENV,
        )
        try:
            say(f"`up` ready in {platform.wait_until_ready(READY_TIMEOUT):.1f}s")
            register_chat_model(Console(platform.base_url), upstream)
            env = journey_env(
                platform.base_url,
                find_chromium() or "",
                screenshots,
                data_dir / "result.json",
                mcp_url,
            )
            assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
            print(f"{assignments} node frontend/e2e/journey.mjs")
            print(f"(the platform's log: {data_dir / 'up.log'}; the MCP server: {mcp_url})")
            print("(Ctrl-C stops)", flush=True)
            while platform.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            platform.stop()
            kill_leftovers(data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def run(screenshots: Path, keep_data: bool) -> int:
    chromium = find_chromium()
    if chromium is None:
        say(
            "SKIPPED: no Chromium to drive (install Debian's `chromium`, or set E2E_CHROMIUM); "
            "THE BROWSER JOURNEY DID NOT RUN"
        )
        return 0
    node = shutil.which("node")
    if node is None:
        say("FAILED: node is not installed (Node.js 20.19+ is needed for the console)")
        return 1
    if not (FRONTEND / "node_modules" / "playwright-core").is_dir():
        say("FAILED: frontend/node_modules/playwright-core is missing: run `npm ci` in frontend/")
        return 1
    shutil.rmtree(screenshots, ignore_errors=True)
    screenshots.mkdir(parents=True)
    data_dir = Path(tempfile.mkdtemp(prefix="ms-e2e-", dir="/tmp"))
    result_file = data_dir / "journey-result.json"
    started = time.monotonic()
    problems: list[str] = []
    platform = None
    with UpstreamServer() as upstream, mcp_server() as mcp_url:
        # Every chat call takes the next scripted reply: enough for the whole run.
        upstream.script("chat", *[model_reply] * 200)
        say(f"MCP server `{MCP_SERVER}` at {mcp_url}")
        try:
            platform = Platform(
                data_dir,
                admin_email=ADMIN_EMAIL,
                admin_password=ADMIN_PASSWORD,
                log=data_dir / "up.log",
                extra_env=PLATFORM_ENV,
            )
            say(f"`up` ready in {platform.wait_until_ready(READY_TIMEOUT):.1f}s")
            register_chat_model(Console(platform.base_url), upstream)
            env = {
                **os.environ,
                **journey_env(platform.base_url, chromium, screenshots, result_file, mcp_url),
            }
            say("browser journey: " + " ".join([node, str(JOURNEY.relative_to(ROOT))]))
            if code := run_journey(node, env):
                problems.append(f"the browser journey failed ({code})")
            if not problems:
                result = json.loads(result_file.read_text())
                problems += check_snippets(platform.base_url, result)
                if result.get("app_id"):
                    sent = [r for r in upstream.requests_for("chat") if FACT in json.dumps(r.body)]
                    if not sent:
                        problems.append("no model call was given the document's passage")
                if result.get("mcp_app_id") and not mcp_tool_used(upstream):
                    problems.append(f"no model call was given {MCP_FUNCTION}'s result")
            if platform.process.poll() is not None:
                problems.append(f"`up` died (exit {platform.process.returncode})")
            if upstream.crashes:
                problems.append("the scripted model server crashed:\n" + upstream.crashes[0])
            for block in platform.errors:
                say("the platform logged an error:\n" + "".join(block[:15]))
        except Exception as exc:  # setup went wrong: say what, then clean up
            problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            if platform is not None:
                platform.stop()
            kill_leftovers(data_dir)
            if problems and (data_dir / "up.log").is_file():
                shutil.copy(data_dir / "up.log", screenshots / "up.log")
            if keep_data:
                say(f"data kept in {data_dir}")
            else:
                shutil.rmtree(data_dir, ignore_errors=True)
    took = time.monotonic() - started
    shots = sorted(p.name for p in screenshots.glob("*.png"))
    say(f"{len(shots)} screenshots in {screenshots}")
    for problem in problems:
        say(f"FAILED: {problem}")
    if problems:
        say(f"FAILED after {took:.0f}s (screenshots and up.log in {screenshots})")
        return 1
    say(f"PASSED in {took:.0f}s")
    return 0


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the `finally`s stop the platform and the model server


def main() -> int:
    # A background job ignores SIGINT, and CI may stop us with SIGTERM: stop cleanly on both.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=ROOT / "var" / "e2e-screenshots",
        help="where the screenshots go (emptied first; default var/e2e-screenshots)",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the temp data dir")
    parser.add_argument(
        "--serve", action="store_true", help="start the platform and wait, for journey.mjs"
    )
    options = parser.parse_args()
    if options.serve:
        return serve(options.screenshots.resolve())
    return run(options.screenshots.resolve(), options.keep_data)


if __name__ == "__main__":
    sys.exit(main())
