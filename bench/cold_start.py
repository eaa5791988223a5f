"""How long `ministudio up` takes to serve, cold and warm.

Measures, for each run, the wall time from starting the `ministudio up` process to the first
200 answer of GET /console/api/openapi.json, and the time from SIGTERM to its exit:

- cold: a fresh, empty data directory (initdb of the embedded Postgres, all migrations,
  the admin and the demo workspace);
- warm: the same data directory again (servers restart on existing data, nothing to
  migrate), ``--warm`` times (default 2).

The data directory is a temporary one under /tmp (Unix socket paths must stay short) and is
removed at the end. Variables that would point `up` elsewhere (DATABASE_URL, REDIS_URL,
SECRET_KEY, ...) are dropped from its environment.

Run from the repository root, in the project's virtual environment:

    python bench/cold_start.py [--warm N] [--timeout SECONDS]
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.platform_process import (  # noqa: E402
    READY_LINE,
    UNSET,
    free_port,
    kill_leftovers,
    leftovers,
)


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["MINISTUDIO_DATA_DIR"] = str(data_dir)
    paths = [str(ROOT / "platform"), str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


class Run:
    """One `ministudio up`, timed from spawn to first 200 and from SIGTERM to exit."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.lines: list[str] = []
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "studio.cli", "up", "--port", str(self.port)],
            env=environment(data_dir),
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def time_to_first_200(self, timeout: float) -> float:
        url = f"http://127.0.0.1:{self.port}/console/api/openapi.json"
        with httpx.Client(timeout=2) as client:
            while time.monotonic() - self.started < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"`up` exited with {self.process.returncode}:\n{self.output}"
                    )
                try:
                    if client.get(url).status_code == 200:
                        return time.monotonic() - self.started
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"`up` did not serve {url} within {timeout:.0f}s:\n{self.output}")

    def reported_ready(self, wait: float = 5.0) -> float | None:
        """The supervisor's own "ready in N s" (it checks /health), once it has printed it."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if match := READY_LINE.search(self.output):
                return float(match.group(1))
            time.sleep(0.05)
        return None

    def stop(self, timeout: float = 60.0) -> tuple[float, int]:
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        seconds = time.monotonic() - began
        self.reader.join(timeout=5)
        return seconds, code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=2, help="warm runs after the cold one")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait per run")
    options = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="ms-bench-", dir="/tmp"))
    results: dict[str, list[float]] = {"cold": [], "warm": []}
    print(f"data directory: {data_dir}")
    try:
        for index in range(1 + options.warm):
            label = "cold" if index == 0 else "warm"
            run = Run(data_dir)
            try:
                serving = run.time_to_first_200(options.timeout)
                reported = run.reported_ready()
                stopping, code = run.stop()
            finally:
                run.kill()
            results[label].append(serving)
            said = f" (up says ready in {reported:.1f} s)" if reported is not None else ""
            print(
                f"{label}  start -> first 200: {serving:.2f} s{said}; "
                f"SIGTERM -> exit: {stopping:.2f} s (exit code {code})",
                flush=True,
            )
            if code != 0 or "ministudio: stopped" not in run.output:
                print(f"`up` did not stop cleanly:\n{run.output}", file=sys.stderr)
                return 1
            if left := leftovers(data_dir):
                print(f"still running after exit: {[p.pid for p in left]}", file=sys.stderr)
                return 1
    finally:
        kill_leftovers(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)

    warm = results["warm"]
    summary = f"summary: cold {results['cold'][0]:.2f} s"
    if warm:
        summary += (
            f", warm mean {statistics.mean(warm):.2f} s "
            f"(min {min(warm):.2f}, max {max(warm):.2f}, n={len(warm)})"
        )
        summary += f"; cold costs {results['cold'][0] - statistics.mean(warm):+.2f} s over warm"
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
