"""Acceptance: real-world documents through `ministudio up`, as a user would send them.

Starts `ministudio up` on a temporary data directory (embedded Postgres and Redis, the web
server and a real Celery worker), signs in as its admin, creates a knowledge base in the
demo workspace, uploads every file of ``../shared/fixtures/realdocs/`` through the console
API, waits until each document is ``ready`` or ``failed``, and checks each outcome against
what ``SOURCES.md`` there says a good pipeline does (the checks are in ``EXPECTED`` below).
Then the same for ``../shared/fixtures/understanding/`` (scans, images, slides, a PDF with a
garbage text layer: OCR and slides; ``UNDERSTANDING`` below) in a second knowledge base,
and prints OCR's seconds per page. The knowledge bases use the fast local model (use-m3),
not the demo's default: this checks parsing and the pipeline. Prints a table (file,
status, chunks, check, reason) per folder and exits non-zero on a crash, a hang (a document
still in progress after ``--timeout``) or a wrong outcome.

Then it builds a RAG agent app on that knowledge base and calls it exactly as a tenant
program would, with the official ``dashscope`` SDK (``Application.call``: a plain call, a
session continued, a stream). CI has no real chat model, so a platform admin registers the
suite's scripted model server (``tests/upstream.py``, the one fake) as the app's model;
everything else — retrieval over the realdocs, citations, sessions, SSE — is the platform's.

The realdocs are test data, read by path, never copied into the project. Run from the
repository root (``.ci/run`` runs it after the tests):

    .venv/bin/python acceptance/realdocs.py [--realdocs DIR] [--timeout SECONDS]
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dashscope
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.platform_process import Platform, kill_leftovers  # noqa: E402
from tests.upstream import UpstreamServer, text  # noqa: E402

ADMIN_EMAIL = "acceptance@example.com"
ADMIN_PASSWORD = "acceptance-realdocs-1"  # noqa: S105 - a throwaway instance
#: Where the project's shared folder may be: beside the checkout (this machine's layout),
#: inside it, or where MINISTUDIO_SHARED_DIR says.
SHARED_CANDIDATES = [Path(p) for p in (os.environ.get("MINISTUDIO_SHARED_DIR"),) if p] + [
    ROOT.parent / "shared",
    ROOT / "shared",
    Path("/work/shared"),
]
TERMINAL = {"ready", "failed"}

HANGUL = re.compile(r"[\uac00-\ud7af]")
CJK = re.compile(r"[\u4e00-\u9fff]")
MOJIBAKE = re.compile(r"â€|Ã©|Ã¨|Â")


@dataclass
class Outcome:
    document: dict
    chunks: list[dict]

    @property
    def text(self) -> str:
        return "\n".join(chunk["text"] for chunk in self.chunks)

    def metadata_has(self, key: str) -> bool:
        return any(chunk["metadata"].get(key) not in (None, "") for chunk in self.chunks)


Check = Callable[[Outcome], str | None]  # None when fine, else what is wrong


def ready(*more: Check) -> Check:
    def check(outcome: Outcome) -> str | None:
        if outcome.document["status"] != "ready":
            return f"expected ready, got {outcome.document['status']}: {outcome.document['error']}"
        if not outcome.chunks:
            return "ready but no chunks"
        for extra in more:
            if problem := extra(outcome):
                return problem
        return None

    return check


def failed(*words: str) -> Check:
    def check(outcome: Outcome) -> str | None:
        document = outcome.document
        if document["status"] != "failed":
            return f"expected failed, got {document['status']}"
        if not any(word in document["error"].lower() for word in words):
            return f"the reason does not say {' or '.join(words)}: {document['error']!r}"
        return None

    return check


def ready_or_clear_failure(outcome: Outcome) -> str | None:
    document = outcome.document
    if document["status"] == "failed":
        return None if len(document["error"]) > 10 else "failed without a clear reason"
    return ready()(outcome)


def contains(pattern: re.Pattern[str], what: str) -> Check:
    return lambda o: None if pattern.search(o.text) else f"no {what} in the chunks"


def lacks(pattern: re.Pattern[str], what: str) -> Check:
    return lambda o: f"{what} in the chunks" if pattern.search(o.text) else None


def has_metadata(key: str) -> Check:
    return lambda o: None if o.metadata_has(key) else f"no chunk has {key} metadata"


def has_text(*needles: str) -> Check:
    def check(outcome: Outcome) -> str | None:
        missing = [n for n in needles if n not in outcome.text]
        return f"missing {missing}" if missing else None

    return check


def has_text_in_any_case(*needles: str) -> Check:
    def check(outcome: Outcome) -> str | None:
        text = " ".join(outcome.text.split()).casefold()  # a phrase may wrap across lines
        missing = [needle for needle in needles if needle.casefold() not in text]
        return f"missing {missing}" if missing else None

    return check


def recognised(outcome: Outcome) -> str | None:
    """Every chunk says it was read by OCR, with a confidence."""
    if all(
        c["metadata"].get("ocr") is True and c["metadata"].get("ocr_confidence")
        for c in outcome.chunks
    ):
        return None
    return "chunks without ocr: true and ocr_confidence"


def on_page(number: int) -> Check:
    def check(outcome: Outcome) -> str | None:
        pages = {chunk["metadata"].get("page") for chunk in outcome.chunks}
        return None if pages == {number} else f"pages {pages}, expected {{{number}}}"

    return check


TABLE_ROW = re.compile(r"\S \| \S|: .+; ")
SCRIPT = re.compile(r"function\s*\(|<script|{\s*display\s*:", re.I)

EXPECTED: dict[str, Check] = {
    "example-10k-1p.html": ready(contains(TABLE_ROW, "table row"), lacks(SCRIPT, "script/style")),
    "fake-html-cp1252.html": ready(lacks(MOJIBAKE, "mojibake")),
    "fake-text-utf-16-le.txt": ready(lacks(re.compile("\x00"), "NUL characters")),
    "empty.txt": failed("no text", "empty"),
    "csv-with-escaped-commas.csv": ready(has_metadata("row")),
    "docx-tables.docx": ready(contains(TABLE_ROW, "table row")),
    "handbook-1p.docx": ready(has_metadata("section")),
    "codeblock.md": ready(has_metadata("section")),
    "eng_spa_mult.md": ready(),  # it has no headings
    "layout-parser-paper-with-table.pdf": ready(has_metadata("page")),
    "multi-column-2p.pdf": ready(has_metadata("page")),
    "korean-text-with-tables.pdf": ready(contains(HANGUL, "Hangul")),
    "copy-protected.pdf": ready(has_metadata("page")),
    "password.pdf": failed("encrypted", "password"),
    "password_protected.xlsx": failed("encrypted", "password"),
    "invalid-pdf-structure-pdfminer-one-page.pdf": ready_or_clear_failure,
    "multilang.pdf": ready(contains(CJK, "Chinese")),
    "chinese-tables.pdf": ready(contains(CJK, "Chinese"), contains(TABLE_ROW, "table row")),
    "langchain.pdf": ready(has_metadata("page")),
    "langchain-ChatGLM_open.csv": ready(has_metadata("row"), contains(TABLE_ROW, "header: value")),
    "langchain-ChatGLM_closed.xlsx": ready(has_metadata("row")),
    # "Malformed" for readers that sort shapes by position: its date placeholder has none.
    # Read, it gives the slide's title and that placeholder's text, with the slide number.
    "fake-power-point-malformed.pptx": ready(
        has_text("Test Slide", "Problem Date Placeholder"), has_metadata("slide")
    ),
}
#: ../shared/fixtures/understanding/, as its SOURCES.md says. The OCR model reads Chinese
#: and English, not Hangul: english-and-korean.png is checked for its English only.
UNDERSTANDING: dict[str, Check] = {
    "scanned-chinese-tables.pdf": ready(
        recognised,
        on_page(1),
        has_text("盐城高新区投资集团有限公司", "主体信用"),
        contains(re.compile(r"2023\W+AA\+"), "a rating row kept together"),
    ),
    "chi_sim_image.jpeg": ready(recognised, has_text("甘草黄酮", "肌肤")),
    "english-and-korean.png": ready(
        recognised,
        has_text_in_any_case(
            "RULES AND INSTRUCTIONS", "TREASURE HARUTO", "Harutonations@gmail.com"
        ),
    ),
    "table-multi-row-column-cells.png": ready(
        recognised,
        contains(re.compile(r"Blind\W+5\W+1\W+4\W+34\.5%"), "the Blind row"),
        contains(re.compile(r"Low Vision\W+5\W+2\W+3\W+98\.3%"), "the Low Vision row"),
        contains(re.compile(r"Dexterity\W+5\W+4\W+1\W+98\.3%"), "the Dexterity row"),
        contains(re.compile(r"Mobility\W+3\W+3\W+0\W+95\.4%"), "the Mobility row"),
    ),
    "layout-parser-paper-fast.jpg": ready(
        recognised,
        has_text("LayoutParser", "Abstract"),
        contains(re.compile(r"Abstract[\s\S]+open-source"), "the abstract in reading order"),
    ),
    "fake-power-point.pptx": ready(
        has_metadata("slide"), has_text("Adding a Bullet Slide", "Find the bullet slide layout")
    ),
    "fake-power-point-table.pptx": ready(
        has_metadata("slide"),
        has_text("Column 1: Red; Column 2: Green; Column 3: Blue"),
        has_text("Column 1: Tangerine; Column 2: Pink; Column 3: Aqua"),
    ),
    "science-exploration-1p.pptx": ready(
        has_metadata("slide"),
        has_text("Sciences and Exploration Directorate", "Code 610: Earth Sciences Division"),
    ),
    "pdf-with-ocr-text.pdf": ready(
        recognised, has_text_in_any_case("SUGAR RESEARCH FOUNDATION", "membership")
    ),
}

#: Files the upload itself must refuse (unsupported or malformed type), with the code.
REFUSED: dict[str, str] = {}
#: Any other Markdown file (the Chinese ones): split on headings.
OTHER_MARKDOWN = ready(has_metadata("section"), contains(CJK, "Chinese"))


class Console:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/console/api", timeout=120)
        self.http.get("/auth/csrf").raise_for_status()
        self.call("POST", "/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})

    def call(self, method: str, path: str, *, ok=(200, 201, 202), **kwargs) -> httpx.Response:
        headers = {"X-CSRFToken": self.http.cookies.get("csrftoken", ""), "X-Workspace": "demo"}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if ok and response.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response

    def all_items(self, path: str, page_size: int = 1000) -> list[dict]:
        """Every item of a paged list (``limit`` is at most 1,000 a page)."""
        items: list[dict] = []
        while True:
            page = self.call("GET", path, params={"limit": page_size, "offset": len(items)})
            body = page.json()
            items.extend(body["items"])
            if len(items) >= body["count"] or not body["items"]:
                return items


@dataclass
class Ingested:
    kb_id: str
    rows: list[tuple[str, ...]]
    problems: int
    took: float
    documents: list[dict]


def ingest(
    console: Console, name: str, files: list[Path], expected: dict[str, Check], timeout: float
) -> Ingested:
    """Upload ``files`` into a new knowledge base ``name``, wait until each is ready or
    failed (or ``timeout``), and check each against ``expected``."""
    # The fast local model: this checks parsing and the pipeline, not retrieval quality.
    kb = console.call(
        "POST", "/knowledge-bases", json={"name": name, "embedding_model": "use-m3"}
    ).json()
    path = f"/knowledge-bases/{kb['id']}/documents"
    rows: list[tuple[str, ...]] = []
    problems = 0
    accepted = []
    for file in files:
        if file.name not in REFUSED:
            accepted.append(file)
            continue
        answer = console.call(
            "POST", path, ok=None, files=[("files", (file.name, file.read_bytes()))]
        )
        code = answer.json().get("code") if answer.status_code == 400 else None
        fine = code == REFUSED[file.name]
        problems += not fine
        reason = answer.json().get("message", "") if answer.status_code < 500 else ""
        rows.append(
            (
                file.name,
                f"refused {answer.status_code}",
                "-",
                "ok" if fine else "WRONG",
                reason[:70],
            )
        )
    started = time.monotonic()
    console.call("POST", path, files=[("files", (f.name, f.read_bytes())) for f in accepted])
    while True:
        documents = console.all_items(path)
        if all(d["status"] in TERMINAL for d in documents) or (
            time.monotonic() - started > timeout
        ):
            break
        time.sleep(1)
    took = time.monotonic() - started
    for document in sorted(documents, key=lambda d: d["name"]):
        file_name = document["name"]
        if document["status"] not in TERMINAL:
            problems += 1
            rows.append((file_name, document["status"], "-", "HUNG", f"after {timeout:.0f}s"))
            continue
        chunks = console.all_items(f"{path}/{document['id']}/chunks")
        check = expected.get(file_name) or (
            OTHER_MARKDOWN if file_name.endswith(".md") else ready()
        )
        problem = check(Outcome(document, chunks))
        problems += problem is not None
        reason = problem or document["error"] or "; ".join(document["warnings"])
        rows.append(
            (
                file_name,
                document["status"],
                str(len(chunks)),
                "WRONG" if problem else "ok",
                reason.replace("\n", " ")[:70],
            )
        )
    return Ingested(kb["id"], rows, problems, took, documents)


def print_ocr_speed(documents: list[dict]) -> None:
    """Seconds per page of the documents whose chunks were read by OCR (their parse time
    over their pages: rendering and recognition)."""
    for document in sorted(documents, key=lambda d: d["name"]):
        pages = max(document["pages_total"], 1)
        parse_s = document["timings"].get("parse_ms", 0) / 1000
        if document["status"] == "ready" and document["loader"] in ("image", "pdf"):
            print(f"  {document['name']}: {pages} page(s), parsed in {parse_s:.1f}s")


def run(realdocs: Path, timeout: float) -> int:
    files = sorted(p for p in realdocs.iterdir() if p.is_file() and p.name != "SOURCES.md")
    understanding = realdocs.parent / "understanding"
    data_dir = Path(tempfile.mkdtemp(prefix="ms-acceptance-", dir="/tmp"))
    platform = Platform(data_dir, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    try:
        print(f"`up` ready in {platform.wait_until_ready(180):.1f}s", flush=True)
        console = Console(platform.base_url)
        real = ingest(console, "realdocs", files, EXPECTED, timeout)
        print_table(real.rows)
        print(f"{len(files)} files; ingestion took {real.took:.1f}s; {real.problems} problem(s)")
        problems = real.problems
        if understanding.is_dir():
            scans = sorted(p for p in understanding.iterdir() if p.suffix != ".md")
            read = ingest(console, "understanding", scans, UNDERSTANDING, timeout)
            print_table(read.rows)
            print(
                f"understanding: {len(scans)} files; ingestion took {read.took:.1f}s; "
                f"{read.problems} problem(s)"
            )
            print_ocr_speed(read.documents)
            problems += read.problems
        else:
            print(f"SKIPPED: no {understanding} beside the realdocs")
        app_problems = check_app(platform.base_url, console, real.kb_id)
        for problem in app_problems:
            print(f"app: WRONG: {problem}")
        print(f"RAG app over the realdocs: {len(app_problems)} problem(s)")
        problems += len(app_problems)
        if platform.process.poll() is not None:
            print(f"`up` died (exit {platform.process.returncode})", file=sys.stderr)
            return 1
        errors = ["".join(block[:12]) for block in platform.errors]
        if errors:
            print("The platform logged errors:\n" + "\n".join(errors), file=sys.stderr)
    finally:
        platform.stop()
        kill_leftovers(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 1 if problems else 0


#: A question some realdocs answer, and a file that answers it.
APP_QUESTION = "分布式训练中的数据并行是什么？"
APP_SOURCE = "分布式训练技术原理.md"


def check_app(base_url: str, console: Console, kb_id: str) -> list[str]:
    """A RAG app on the realdocs knowledge base, called with ``dashscope.Application``;
    what went wrong, if anything."""
    problems: list[str] = []
    with UpstreamServer() as upstream:
        console.call(
            "POST",
            "/model-endpoints",
            json={
                "name": "acceptance-chat",
                "provider": "openai",
                "upstream_model": "scripted",
                "capabilities": ["chat", "tool_calls"],
                "settings": {"base_url": upstream.openai_base_url, "api_key": "sk-up"},
            },
        )
        endpoints = console.call("GET", "/model-endpoints").json()
        endpoint = next(e for e in endpoints if e["name"] == "acceptance-chat")
        console.call(
            "POST", f"/model-endpoints/{endpoint['id']}/grants", json={"workspace": "demo"}
        )
        key = console.call("POST", "/api-keys", json={"name": "acceptance"}).json()["key"]
        app = console.call(
            "POST",
            "/apps",
            json={
                "name": "Realdocs assistant",
                "draft": {
                    "model": "acceptance-chat",
                    "system_prompt": "Answer from the documents.",
                    "knowledge": {"knowledge_base_ids": [kb_id], "top_k": 5},
                    "tools": [{"type": "plugin", "id": "calculator"}],
                },
            },
        ).json()
        console.call("POST", f"/apps/{app['id']}/publish", json={"notes": "acceptance"})

        dashscope.base_http_api_url = f"{base_url}/api/v1"
        upstream.script("chat", text("数据并行把数据切分到多个设备上。<ref>[1]</ref>"))
        answer = dashscope.Application.call(app_id=app["id"], api_key=key, prompt=APP_QUESTION)
        if answer.status_code != 200:
            return [f"Application.call answered {answer.status_code} {answer.message}"]
        references = answer.output.doc_references or []
        if "<ref>[1]</ref>" not in answer.output.text:
            problems.append(f"the answer lost its citation: {answer.output.text!r}")
        if not references or references[0].index_id != "1":
            problems.append("no doc_references, or not numbered from 1")
        elif APP_SOURCE not in {r.doc_name for r in references}:
            found = sorted({r.doc_name for r in references})
            problems.append(f"{APP_SOURCE} is not among the sources found: {found}")
        if not answer.usage.models or answer.usage.models[0].model_id != "acceptance-chat":
            problems.append(f"usage.models is {answer.usage.models!r}")
        sent = upstream.requests_for("chat")[-1].body["messages"][0]["content"]
        if "[1]" not in sent:
            problems.append("the model was not given numbered sources")

        again = dashscope.Application.call(
            app_id=app["id"], api_key=key, prompt="再说一遍", session_id=answer.output.session_id
        )
        if again.output.session_id != answer.output.session_id:
            problems.append("the session was not continued")
        history = [m["content"] for m in upstream.requests_for("chat")[-1].body["messages"]]
        if APP_QUESTION not in history:
            problems.append("the continued session did not carry the first question")

        pieces = [
            frame.output.text
            for frame in dashscope.Application.call(
                app_id=app["id"],
                api_key=key,
                prompt=APP_QUESTION,
                stream=True,
                incremental_output=True,
            )
            if frame.status_code == 200 and frame.output.text
        ]
        if "".join(pieces) != "echo: " + APP_QUESTION:
            problems.append(f"the stream was {pieces!r}")
    print(f"app {app['id']}: {len(references)} sources found for the question")
    return problems


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("file", "status", "chunks", "check", "reason")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realdocs", type=Path, help="default: fixtures/realdocs of shared/")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for ingestion")
    options = parser.parse_args()
    if options.realdocs is not None:
        if not options.realdocs.is_dir():
            print(f"no realdocs at {options.realdocs}", file=sys.stderr)
            return 2
        return run(options.realdocs, options.timeout)
    for shared in SHARED_CANDIDATES:
        if (shared / "fixtures" / "realdocs").is_dir():
            return run(shared / "fixtures" / "realdocs", options.timeout)
    # The realdocs are the shared test data, not part of the project: a checkout without
    # them has nothing to check. Said loudly, so that it is never mistaken for a pass.
    looked = ", ".join(str(p) for p in SHARED_CANDIDATES)
    print(f"SKIPPED: no fixtures/realdocs in a shared folder (looked in {looked})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
