"""Which PDF pages "auto" reads by OCR (plugins.loaders._pdf_ocr)."""

import pytest

from plugins.loaders._pdf_ocr import prefer_ocr, reads_poorly, text_quality

ORDINARY = (
    "Dense passage retrieval (DPR) outperforms BM25 by 9%-19% on top-20 accuracy; see "
    "https://github.com/facebookresearch/DPR or write to scott@fb.com. 表7-1：发行人历史评级情况 "
    "State-of-the-art models, e.g. GPT-3, cost $4.6M (2020)."
)
# As a poor OCR engine left it in a scanned letter's text layer.
GARBAGE = (
    "«POAH «3E*»CM tanntxim. inc. /^. ^ \\ toi n»Bfl. iseorty s*r;tiiR» FRG&t OSZ "
    "3s«»teership A&s-oeiete© H^uid £ug»r Calif&rr-.la. contra-eta."
)


def test_ordinary_text_in_several_scripts_reads_as_text():
    assert text_quality(ORDINARY) == 1.0
    assert text_quality("สวัสดีชาวโลก 안녕하세요 세계 Grüße, naïve café") == 1.0


def test_a_garbage_text_layer_scores_low():
    assert text_quality(GARBAGE) < 0.6


def test_a_short_or_garbled_text_layer_reads_poorly():
    assert reads_poorly(GARBAGE)
    assert reads_poorly("")  # a scan without a text layer
    assert reads_poorly("Page 3")  # too little text for a page
    assert not reads_poorly(ORDINARY)


@pytest.mark.parametrize(
    ("layer", "recognised", "replaced"),
    [
        ("", "Minutes of the meeting", True),
        ("", "", False),
        (GARBAGE, ORDINARY, True),
        # Recognised text that reads no better (a script the OCR model lacks) keeps the layer.
        (ORDINARY + " ^x^", ORDINARY + " ^y^", False),
    ],
)
def test_recognised_text_replaces_the_layer_only_when_it_reads_better(layer, recognised, replaced):
    assert prefer_ocr(layer, recognised) is replaced
