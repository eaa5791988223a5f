"""The vLLM engine backend of batches, without vLLM: the conversions both ways, and
``run_chunk`` over a fake ``LLM`` that records what it was asked and answers with objects
shaped like vLLM's ``RequestOutput``. No database, no model."""

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from apps.batch.lines import BatchLine
from apps.batch.vllm_engine import (
    EngineConfig,
    UnsupportedRequest,
    VllmEngine,
    completion_body,
    engine_request,
)

MODEL = "smollm2-135m-instruct"


def chat_line(number: int = 1, **body: Any) -> BatchLine:
    body.setdefault("messages", [{"role": "user", "content": f"question {number}"}])
    body.setdefault("model", MODEL)
    return BatchLine(line=number, custom_id=f"request-{number}", body=body)


@dataclass
class FakeCompletion:
    text: str
    token_ids: list[int]
    finish_reason: str | None = "stop"


@dataclass
class FakeOutput:
    request_id: str
    prompt_token_ids: list[int]
    outputs: list[FakeCompletion]


@dataclass
class FakeLLM:
    """Answers each conversation with "answer to <last message>": a prompt of as many
    tokens as the conversation has words, a completion of one token per word."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    reject: str | None = None  # a conversation containing this text makes chat() raise

    def chat(self, conversations, *, sampling_params, use_tqdm):
        self.calls.append(
            {"conversations": conversations, "params": sampling_params, "use_tqdm": use_tqdm}
        )
        if self.reject and any(self.reject in str(c) for c in conversations):
            raise ValueError("The decoder prompt (length 9000) is longer than the maximum")
        outputs = []
        for number, conversation in enumerate(conversations):
            words = " ".join(m["content"] for m in conversation).split()
            text = f"answer to {conversation[-1]['content']}"
            outputs.append(
                FakeOutput(
                    request_id=str(number),
                    prompt_token_ids=list(range(len(words))),
                    outputs=[FakeCompletion(text=text, token_ids=list(range(len(text.split()))))],
                )
            )
        return outputs


def engine(llm: FakeLLM | None = None) -> VllmEngine:
    # SamplingParams stands in as a plain dict of its keyword arguments.
    return VllmEngine(
        EngineConfig(model_path="/models/x"), llm=llm or FakeLLM(), sampling_params_factory=dict
    )


# --- request → engine --------------------------------------------------------------------------


def test_sampling_parameters_are_taken_from_the_body():
    _, sampling = engine_request(
        chat_line(
            temperature=0,
            top_p=0.9,
            max_tokens=64,
            seed=7,
            presence_penalty=0.5,
            frequency_penalty=-0.25,
            stop="\n\n",
        )
    )
    assert sampling == {
        "n": 1,
        "temperature": 0.0,
        "top_p": 0.9,
        "max_tokens": 64,
        "seed": 7,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
        "stop": ["\n\n"],
    }


def test_max_completion_tokens_wins_and_no_limit_means_up_to_the_context():
    _, sampling = engine_request(chat_line(max_completion_tokens=10, max_tokens=99))
    assert sampling["max_tokens"] == 10
    _, sampling = engine_request(chat_line())
    # Explicitly None: SamplingParams' own default would cut every answer at 16 tokens.
    assert "max_tokens" in sampling
    assert sampling["max_tokens"] is None
    assert "temperature" not in sampling
    assert "stop" not in sampling


def test_a_stop_list_is_kept_as_given():
    _, sampling = engine_request(chat_line(stop=["END", "###"], n=1))
    assert sampling["stop"] == ["END", "###"]
    assert sampling["n"] == 1


def test_text_parts_are_joined_and_developer_becomes_system():
    messages, _ = engine_request(
        chat_line(
            messages=[
                {"role": "developer", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "first part"},
                        {"type": "text", "text": "second part"},
                    ],
                    "name": "alice",
                },
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "go on"},
            ]
        )
    )
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first part\nsecond part"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "go on"},
    ]


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"stream": True}, "stream", "stream"),
        (
            {"tools": [{"type": "function", "function": {"name": "f"}}]},
            "tools",
            "tool-call parser",
        ),
        ({"functions": [{"name": "f"}]}, "functions", "HTTP path"),
        ({"tool_choice": "required"}, "tool_choice", "tool_choice"),
        ({"n": 2}, "n", "n must be 1"),
        ({"n": True}, "n", "n must be 1"),
        ({"logprobs": True}, "logprobs", "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format", "response_format"),
        ({"messages": []}, "messages", "non-empty"),
        ({"messages": None}, "messages", "non-empty"),
        ({"messages": "hello"}, "messages", "non-empty"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "what is this?"},
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}},
                        ],
                    }
                ]
            },
            "messages[0].content[1]",
            "'image_url' part",
        ),
        (
            {"messages": [{"role": "user", "content": None}]},
            "messages[0].content",
            "string or a list",
        ),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role", "role"),
        (
            {"messages": [{"role": "tool", "tool_call_id": "c1", "content": "42"}]},
            "messages[0]",
            "tool calls",
        ),
        ({"temperature": 3}, "temperature", "between 0 and 2"),
        ({"temperature": "hot"}, "temperature", "a number"),
        ({"top_p": 0}, "top_p", "greater than 0"),
        ({"max_tokens": 0}, "max_tokens", "at least 1"),
        ({"max_completion_tokens": 2.5}, "max_completion_tokens", "integer"),
        ({"seed": "x"}, "seed", "integer"),
        ({"stop": ["a", 1]}, "stop", "list of strings"),
    ],
)
def test_what_the_engine_path_cannot_do_is_refused(body, param, says):
    with pytest.raises(UnsupportedRequest, match=says) as caught:
        engine_request(chat_line(**body))
    assert caught.value.param == param


def test_harmless_keys_are_ignored():
    messages, sampling = engine_request(
        chat_line(user="u-1", metadata={"k": "v"}, store=False, tool_choice="none", n=None)
    )
    assert messages == [{"role": "user", "content": "question 1"}]
    assert sampling == {"n": 1, "max_tokens": None}


# --- engine → OpenAI ---------------------------------------------------------------------------


def test_a_request_output_becomes_a_whole_chat_completion():
    output = FakeOutput(
        request_id="3",
        prompt_token_ids=[1, 2, 3, 4, 5, 6, 7],
        outputs=[FakeCompletion(text="Paris.", token_ids=[11, 12, 13], finish_reason="length")],
    )
    body, input_tokens, output_tokens = completion_body(output, model=MODEL)
    assert (input_tokens, output_tokens) == (7, 3)
    assert body["id"].startswith("chatcmpl-")
    assert len(body["id"]) > len("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["created"] > 1_600_000_000
    assert body["model"] == MODEL
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None},
            "finish_reason": "length",
            "logprobs": None,
        }
    ]
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def test_a_finished_output_without_a_reason_is_a_stop_and_ids_differ():
    output = FakeOutput("0", [1], [FakeCompletion(text="", token_ids=[], finish_reason=None)])
    first, _, out = completion_body(output, model=MODEL)
    second, _, _ = completion_body(output, model=MODEL)
    assert first["choices"][0]["finish_reason"] == "stop"
    assert out == 0
    assert first["usage"]["total_tokens"] == 1
    assert first["id"] != second["id"]


# --- run_chunk ---------------------------------------------------------------------------------


def test_a_chunk_mixing_good_and_bad_lines_keeps_order_and_counts():
    llm = FakeLLM()
    lines = [
        chat_line(1, temperature=0, max_tokens=5),
        chat_line(2, stream=True),
        chat_line(
            3,
            messages=[
                {"role": "developer", "content": "a b"},
                {"role": "user", "content": "c d e"},
            ],
        ),
        chat_line(4, n=3),
        chat_line(5, tools=[{"type": "function", "function": {"name": "f"}}]),
        chat_line(6, stop="x"),
    ]
    outcomes = engine(llm).run_chunk(lines, model=MODEL)

    assert [o.line for o in outcomes] == [1, 2, 3, 4, 5, 6]
    assert [o.custom_id for o in outcomes] == [f"request-{n}" for n in range(1, 7)]
    assert [o.status_code for o in outcomes] == [200, 400, 200, 400, 400, 200]
    # One engine call, for the good lines only, in their order, without a progress bar.
    assert len(llm.calls) == 1
    call = llm.calls[0]
    assert call["use_tqdm"] is False
    assert call["conversations"] == [
        [{"role": "user", "content": "question 1"}],
        [{"role": "system", "content": "a b"}, {"role": "user", "content": "c d e"}],
        [{"role": "user", "content": "question 6"}],
    ]
    assert call["params"] == [
        {"n": 1, "temperature": 0.0, "max_tokens": 5},
        {"n": 1, "max_tokens": None},
        {"n": 1, "max_tokens": None, "stop": ["x"]},
    ]
    first, _, third, _, _, sixth = outcomes
    assert first.body["choices"][0]["message"]["content"] == "answer to question 1"
    assert (first.input_tokens, first.output_tokens) == (2, 4)
    assert (third.input_tokens, third.output_tokens) == (5, 5)
    assert third.body["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    assert sixth.body["model"] == MODEL
    assert first.request_id == first.body["id"]
    assert first.request_id != sixth.request_id
    assert outcomes[1].error == {
        "code": "invalid_request",
        "message": "stream is not supported in a batch.",
    }
    assert outcomes[1].body["error"]["param"] == "stream"
    assert outcomes[3].body["error"]["param"] == "n"
    assert "tool-call parser" in outcomes[4].body["error"]["message"]
    assert outcomes[4].input_tokens == 0


def test_unset_fields_take_the_model_generation_defaults_as_on_vllm_server():
    class ModelConfig:
        def get_diff_sampling_param(self):
            return {"temperature": 0.2, "top_p": 0.9, "repetition_penalty": 1.1}

    llm = FakeLLM()
    llm.model_config = ModelConfig()
    engine(llm).run_chunk(
        [chat_line(1, temperature=0.7, max_tokens=8), chat_line(2, temperature=None)], model=MODEL
    )
    assert llm.calls[0]["params"] == [
        {"n": 1, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1, "max_tokens": 8},
        {"n": 1, "temperature": 0.2, "top_p": 0.9, "repetition_penalty": 1.1, "max_tokens": None},
    ]


def test_the_model_max_tokens_default_applies_when_the_body_sets_none():
    class ModelConfig:
        def get_diff_sampling_param(self):
            return {"max_tokens": 100}

    llm = FakeLLM()
    llm.model_config = ModelConfig()
    engine(llm).run_chunk([chat_line(1), chat_line(2, max_completion_tokens=3)], model=MODEL)
    assert [p["max_tokens"] for p in llm.calls[0]["params"]] == [100, 3]


def test_a_chunk_of_only_bad_lines_never_calls_the_engine():
    llm = FakeLLM()
    outcomes = engine(llm).run_chunk(
        [chat_line(1, stream=True), chat_line(2, messages=[])], model=MODEL
    )
    assert [o.status_code for o in outcomes] == [400, 400]
    assert llm.calls == []


def test_a_line_the_engine_rejects_is_found_and_failed_alone():
    llm = FakeLLM(reject="too long")
    lines = [chat_line(n) for n in range(1, 6)]
    lines[3] = chat_line(4, messages=[{"role": "user", "content": "too long " * 3}])
    outcomes = engine(llm).run_chunk(lines, model=MODEL)
    assert [o.status_code for o in outcomes] == [200, 200, 200, 400, 200]
    assert "longer than the maximum" in outcomes[3].body["error"]["message"]
    assert outcomes[3].body["error"]["code"] == "invalid_request"
    assert outcomes[4].body["choices"][0]["message"]["content"] == "answer to question 5"
    # The whole chunk first, then halves until the bad line stood alone.
    assert len(llm.calls[0]["conversations"]) == 5
    assert [len(c["conversations"]) for c in llm.calls if "too long" in str(c)][-1] == 1


def test_an_engine_failure_fails_the_chunk():
    class Broken(FakeLLM):
        def chat(self, conversations, *, sampling_params, use_tqdm):
            raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        engine(Broken()).run_chunk([chat_line(1), chat_line(2)], model=MODEL)


def test_an_aborted_output_is_a_server_error_for_its_line():
    class Aborting(FakeLLM):
        def chat(self, conversations, *, sampling_params, use_tqdm):
            outputs = super().chat(
                conversations, sampling_params=sampling_params, use_tqdm=use_tqdm
            )
            outputs[0].outputs[0].finish_reason = "abort"
            return outputs

    outcomes = engine(Aborting()).run_chunk([chat_line(1), chat_line(2)], model=MODEL)
    assert [o.status_code for o in outcomes] == [500, 200]
    assert outcomes[0].error["code"] == "engine_error"


def test_sampling_params_validation_errors_are_line_errors():
    def strict(**arguments):
        if arguments.get("temperature") == 1.5:
            raise ValueError("temperature too high for this model")
        return arguments

    llm = FakeLLM()
    runner = VllmEngine(EngineConfig(model_path="/m"), llm=llm, sampling_params_factory=strict)
    outcomes = runner.run_chunk([chat_line(1, temperature=1.5), chat_line(2)], model=MODEL)
    assert [o.status_code for o in outcomes] == [400, 200]
    assert outcomes[0].error["message"] == "temperature too high for this model"
    assert len(llm.calls[0]["conversations"]) == 1


# --- loading ------------------------------------------------------------------------------------


def test_the_module_imports_without_vllm_or_django():
    # In a fresh interpreter: this one has Django loaded by pytest-django.
    platform = Path(__file__).resolve().parents[2] / "platform"
    script = (
        "import sys; import apps.batch.vllm_engine; "
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'django', 'vllm', 'torch'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=platform,
        env={**os.environ, "PYTHONPATH": str(platform)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]"


def test_shared_loads_one_engine_per_config_even_from_many_threads(monkeypatch):
    loads: list[EngineConfig] = []
    gate = threading.Event()

    def load(config):
        gate.wait(5)
        loads.append(config)
        return FakeLLM()

    monkeypatch.setattr(VllmEngine, "_shared", {})
    monkeypatch.setattr(VllmEngine, "_load", staticmethod(load))
    monkeypatch.setattr(VllmEngine, "_sampling_params_class", staticmethod(lambda: dict))
    config = EngineConfig(model_path="/models/a", max_model_len=2048, chunk_size=8)
    got: list[VllmEngine] = []

    def get():
        got.append(VllmEngine.shared(config))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(5)
    other = VllmEngine.shared(EngineConfig(model_path="/models/b"))

    assert loads == [config, EngineConfig(model_path="/models/b")]
    assert len(got) == 8
    assert all(engine is got[0] for engine in got)
    assert (
        VllmEngine.shared(EngineConfig(model_path="/models/a", max_model_len=2048, chunk_size=8))
        is got[0]
    )
    assert other is not got[0]


def test_the_llm_arguments_come_from_the_config():
    config = EngineConfig(
        model_path="/models/a",
        tensor_parallel_size=2,
        gpu_memory_utilization=0.5,
        max_model_len=4096,
        engine_args=(("enforce_eager", True),),
    )
    assert config.llm_arguments() == {
        "model": "/models/a",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.5,
        "max_model_len": 4096,
        "dtype": "auto",
        "enforce_eager": True,
    }
    assert EngineConfig(model_path="m").chunk_size == 256
    with pytest.raises(ValueError, match="chunk_size"):
        EngineConfig(model_path="m", chunk_size=0)
