"""A NUL character anywhere in a request's text answers 400 naming the field (Postgres
cannot store it, and every one of these answered 500), checked once at the API edge; and
out-of-range paging answers 400 from one bounded paging schema."""

import json

import pytest

from tests.applications.conftest import make_app
from tests.knowledge.conftest import upload

pytestmark = pytest.mark.django_db

NUL = "\x00"


def _field(response) -> str:
    body = response.json()
    message = body["error"]["message"] if "error" in body else body["message"]
    assert "NUL" in message, message
    return message.split(":")[0]


def test_nul_in_console_bodies_answers_400_naming_the_field(acme_console, handbook):
    cases = [
        ("POST", "/knowledge-bases", {"name": f"Hand{NUL}book"}, "name"),
        ("POST", "/apps", {"name": f"Help{NUL}er"}, "name"),
        (
            "POST",
            "/http-tools",
            {"name": "weather", "url": "https://example.com", "description": f"a{NUL}"},
            "description",
        ),
        (
            "POST",
            "/batches",
            {"input_file_id": f"file-{NUL}", "endpoint": "/v1/chat/completions"},
            "input_file_id",
        ),
        ("POST", f"/knowledge-bases/{handbook['id']}/hit-test", {"query": f"x{NUL}"}, "query"),
        (
            "POST",
            f"/knowledge-bases/{handbook['id']}/hit-test",
            {"query": "x", "metadata": {f"ke{NUL}y": "v"}},
            "metadata (a key)",
        ),
        (
            "POST",
            "/knowledge-bases",
            {"name": "ok", "chunking": {"separators": ["a", f"b{NUL}"]}},
            "chunking.separators[1]",
        ),
    ]
    for method, path, body, field in cases:
        response = acme_console.request(method, path, body)
        assert response.status_code == 400, (path, response.content)
        assert response.json()["code"] == "InvalidParameter"
        assert _field(response) == field, (path, response.content)


def test_nul_in_an_uploads_form_fields(acme_console, handbook):
    path = f"/knowledge-bases/{handbook['id']}/documents"
    meta = acme_console.upload(path, {"a.txt": b"hi"}, metadata=json.dumps({"team": f"x{NUL}"}))
    assert (meta.status_code, _field(meta)) == (400, "metadata.team")
    tags = acme_console.upload(path, {"a.txt": b"hi"}, tags=f"hr,{NUL}")
    assert (tags.status_code, _field(tags)) == (400, "tags")
    # File content is bytes, not text: a NUL inside a file is the loader's business.
    upload(acme_console, handbook["id"], {"binary.txt": b"ok\x00ok"})


def test_nul_in_query_parameters_and_paths(acme_console, keyed):
    after = acme_console.get("/batch-files?after=%00")
    assert (after.status_code, _field(after)) == (400, "after")
    in_path = keyed("GET", "/compatible-mode/v1/batches/batch_%00")
    assert in_path.status_code == 400
    assert in_path.json()["error"]["code"] == "invalid_value"
    console_path = acme_console.get("/knowledge-bases/%00")
    assert (console_path.status_code, console_path.json()["code"]) == (400, "InvalidParameter")


def test_nul_on_the_gateway_surfaces(keyed):
    chat = keyed(
        "POST",
        "/compatible-mode/v1/chat/completions",
        json.dumps({"model": "m", "messages": [{"role": "user", "content": NUL}]}),
    )
    assert chat.status_code == 400
    assert chat.json()["error"]["param"] == "messages[0].content"
    generation = keyed(
        "POST",
        "/api/v1/services/aigc/text-generation/generation",
        json.dumps({"model": "m", "input": {"prompt": f"hi{NUL}"}}),
    )
    assert (generation.status_code, _field(generation)) == (400, "input.prompt")


def test_a_literal_backslash_u0000_in_text_is_just_text(acme_console):
    created = acme_console.post("/knowledge-bases", {"name": "escape \\u0000 shown"})
    assert created.status_code == 201, created.content


@pytest.mark.parametrize(
    "query",
    ["offset=18313118278585071616", "offset=-1", "limit=0", "limit=1001", "limit=x"],
)
def test_paging_out_of_bounds_answers_400(acme_console, handbook, query):
    document = upload(acme_console, handbook["id"], {"a.txt": b"hello"})["documents"][0]["document"]
    app = make_app(acme_console)
    kb = f"/knowledge-bases/{handbook['id']}"
    for path in (
        f"{kb}/documents",
        f"{kb}/documents/{document['id']}/chunks",
        f"/apps/{app['id']}/runs",
    ):
        response = acme_console.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query, response.content)
        assert response.json()["code"] == "InvalidParameter"


def test_paging_in_bounds_still_pages(acme_console, handbook):
    upload(acme_console, handbook["id"], {"a.txt": b"one", "b.txt": b"two"})
    page = acme_console.get(f"/knowledge-bases/{handbook['id']}/documents?limit=1&offset=1")
    assert page.status_code == 200
    assert len(page.json()["items"]) == 1
    far = acme_console.get(f"/knowledge-bases/{handbook['id']}/documents?offset=1000000000")
    assert (far.status_code, far.json()["items"]) == (200, [])
