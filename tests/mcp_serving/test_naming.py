"""Tool names: slugs that fit MCP clients, unique in a workspace, settled by age."""

import uuid

from apps.mcp_serving import naming


def _candidate(base: str, n: int) -> naming.Candidate:
    return naming.Candidate(base, uuid.UUID(int=n << 96 | n), (n,))


def test_slugs_are_ascii_and_search_names_fit_64_characters():
    assert naming.slug("Reise-Richtlinien Ünd Café 2025") == "reise_richtlinien_und_cafe_2025"
    assert naming.search_base("产品手册") == ""
    assert naming.search_base("Handbook") == "search_handbook"
    assert len(naming.search_base("x" * 200)) == naming.MAX_NAME


def test_clashes_and_empty_names_get_the_id_and_the_oldest_keeps_its_name():
    older, younger, nameless = _candidate("helper", 1), _candidate("helper", 2), _candidate("", 3)
    names = naming.assign([(younger, "app_"), (nameless, "search_"), (older, "app_")])
    assert names[older.id] == "helper"
    assert names[younger.id] == f"helper_{younger.id.hex[:8]}"
    assert names[nameless.id] == f"search_{nameless.id.hex[:8]}"
    long = [_candidate("y" * 64, n) for n in (4, 5)]
    assigned = naming.assign([(c, "app_") for c in long])
    assert len(set(assigned.values())) == 2
    assert all(len(name) <= naming.MAX_NAME for name in assigned.values())


def test_a_name_that_looks_like_a_suffixed_one_still_gets_a_name_of_its_own():
    first, second = _candidate("helper", 1), _candidate("helper", 2)
    lookalike = _candidate(f"helper_{second.id.hex[:8]}", 0)
    names = naming.assign([(c, "app_") for c in (first, second, lookalike)])
    assert len(set(names.values())) == 3
    assert names[lookalike.id] == f"helper_{second.id.hex[:8]}"
    assert names[second.id] == f"helper_{second.id.hex[:8]}_1"


def test_document_uris_round_trip_and_nothing_else_parses():
    kb, doc = uuid.uuid4(), uuid.uuid4()
    assert naming.parse_document_uri(naming.document_uri(kb, doc)) == (str(kb), str(doc))
    assert naming.parse_document_uri("ministudio://knowledge-bases/x/documents/y") is None
    assert naming.parse_document_uri("file:///etc/passwd") is None
