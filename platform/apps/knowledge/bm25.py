"""BM25, the formula full-text retrieval ranks by, in one place for the statistics that
store it (``term_statistics``) and the retrieval that reads it (``fulltext``).

A chunk's score for a query is the sum over the query's terms of
``idf(term) * (K1 + 1) * impact``, where ``impact = tf / (tf + K1 * (1 - B + B * length /
average_length))``: the term's frequency in the chunk, saturated and normalised by the
chunk's length in words against the average.
"""

import math

#: BM25's parameters: Anserini's defaults, those of the published BEIR BM25 baselines.
K1 = 0.9
B = 0.4


def idf(chunks_with_term: int, chunks: int) -> float:
    """The inverse document frequency of a term found in ``chunks_with_term`` of ``chunks``."""
    return math.log(1 + (chunks - chunks_with_term + 0.5) / (chunks_with_term + 0.5))


def most_per_term(term_idf: float) -> float:
    """The most one term can add to a score (impact tends to 1 as tf grows)."""
    return term_idf * (K1 + 1)
