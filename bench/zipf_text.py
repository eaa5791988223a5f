"""Generated chunk text for the knowledge-base benchmarks (``app_api.py``,
``retrieval_latency.py``): words drawn from a Zipf(-Mandelbrot) distribution over ~50
English stop words (the most frequent ranks) and ``VOCABULARY`` generated words of two to
four syllables, so that full text sees a realistic spread of common and rare terms.

``make_corpus(chunks, rng)`` draws the vocabulary and then every chunk's words at once, as
indexes into the vocabulary (``Corpus.tokens``); ``Corpus.text(row)`` is one chunk's text.
The same ``rng`` state gives the same corpus.
"""

from dataclasses import dataclass

import numpy as np

WORDS_PER_CHUNK = 200
VOCABULARY = 20_000
#: English function words, the most frequent ranks (Postgres' english configuration drops
#: them from the full-text index).
STOP_WORDS = (  # noqa: SIM905  (one line of words reads better than a column)
    "the of and to a in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been all we their has would when if "
    "will can more no out"
).split()
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


@dataclass
class Corpus:
    words: list[str]  # the vocabulary, most frequent first
    tokens: np.ndarray  # (chunks, words per chunk) indexes into words

    def text(self, row: int) -> str:
        words = self.words
        return " ".join(words[i] for i in self.tokens[row])


def make_corpus(
    chunks: int, rng: np.random.Generator, words_per_chunk: int = WORDS_PER_CHUNK
) -> Corpus:
    generated: dict[str, None] = {}
    while len(generated) < VOCABULARY:
        word = "".join(rng.choice(SYLLABLES, int(rng.integers(2, 5))))
        if word not in STOP_WORDS:
            generated[word] = None
    words = [*STOP_WORDS, *generated]
    ranks = np.arange(len(words), dtype=np.float64)
    weights = 1.0 / (ranks + 2.7)  # Zipf-Mandelbrot, as word frequencies go
    weights /= weights.sum()
    tokens = rng.choice(len(words), size=(chunks, words_per_chunk), p=weights).astype(np.int32)
    return Corpus(words=words, tokens=tokens)
