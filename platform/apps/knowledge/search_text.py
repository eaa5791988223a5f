"""Text as full-text search sees it: Chinese segmented into words with jieba (Postgres
cannot segment it), everything else left to Postgres' ``english`` configuration, which
lower-cases and stems. The same function prepares indexed text and queries, so they
always agree.
"""

import re
import threading

#: The Postgres text search configuration for chunk text and queries.
CONFIG = "english"

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_jieba_lock = threading.Lock()
_tokenizer = None


def _jieba():
    global _tokenizer
    if _tokenizer is None:
        with _jieba_lock:
            if _tokenizer is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()  # loads the dictionary now (about a second), once
                _tokenizer = tokenizer
    return _tokenizer


def segmented(text: str) -> str:
    """``text`` with each run of Chinese characters replaced by its words, space-separated
    (search mode: long words also give their shorter parts)."""
    if not _CJK.search(text):
        return text
    tokenizer = _jieba()

    def words(match: re.Match[str]) -> str:
        return " " + " ".join(w for w in tokenizer.cut_for_search(match.group()) if w.strip()) + " "

    return _CJK.sub(words, text)
