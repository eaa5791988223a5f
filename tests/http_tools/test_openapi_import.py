"""Importing an OpenAPI 3 document: one tool per operation, all or nothing."""

import json

import pytest

from apps.http_tools.models import HttpTool
from apps.http_tools.services import import_openapi
from kernel.encryption import decrypt_json
from kernel.errors import Conflict
from tests.http_tools.conftest import create_tool

pytestmark = pytest.mark.django_db


def petstore() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "1"},
        "servers": [
            {
                "url": "https://{region}.pets.example.com/v1",
                "variables": {"region": {"default": "eu"}},
            }
        ],
        "paths": {
            "/pets": {
                "get": {
                    "operationId": "listPets",
                    "summary": "List pets",
                    "description": "Newest first.",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "description": "How many",
                            "schema": {"type": "integer"},
                        },
                        {
                            "name": "status",
                            "in": "query",
                            "required": True,
                            "schema": {"$ref": "#/components/schemas/Status"},
                        },
                        {"name": "X-Trace-Id", "in": "header", "schema": {"type": "string"}},
                        {"name": "Accept", "in": "header", "schema": {"type": "string"}},
                    ],
                },
                "post": {
                    "operationId": "pets.create",
                    "summary": "Add a pet",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}
                        },
                    },
                },
            },
            "/pets/{petId}": {
                "parameters": [
                    {"$ref": "#/components/parameters/PetId"},
                ],
                "get": {"summary": "One pet"},
            },
        },
        "components": {
            "parameters": {
                "PetId": {
                    "name": "petId",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                }
            },
            "schemas": {
                "Status": {"type": "string", "enum": ["available", "sold"]},
                "Owner": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                },
                "NewPet": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "id": {"type": "integer", "readOnly": True},
                        "name": {"type": "string"},
                        "tag": {"type": "string"},
                        "owner": {"$ref": "#/components/schemas/Owner"},
                    },
                },
            },
        },
    }


def test_import_creates_one_tool_per_operation(acme_console):
    response = acme_console.post(
        "/http-tools/import-openapi",
        {
            "document": petstore(),
            "auth": {"type": "api_key", "name": "X-Key", "secret": "pk-SECRET-77"},
        },
    )
    assert response.status_code == 201, response.content
    assert b"pk-SECRET-77" not in response.content
    tools = {tool["name"]: tool for tool in response.json()}
    assert list(tools) == ["listPets", "pets_create", "get_pets_petId"]

    listing = tools["listPets"]
    assert listing["method"] == "GET"
    assert listing["url"] == "https://eu.pets.example.com/v1/pets"
    assert listing["description"] == "List pets\n\nNewest first."
    assert listing["source"] == "openapi"
    assert listing["openapi_operation_id"] == "listPets"
    assert listing["parameters"] == {
        "type": "object",
        "properties": {
            "limit": {"type": "integer", "description": "How many"},
            "status": {"type": "string", "enum": ["available", "sold"]},
            "X-Trace-Id": {"type": "string"},
        },
        "required": ["status"],
    }
    assert listing["parameter_locations"] == {
        "limit": "query",
        "status": "query",
        "X-Trace-Id": "header",
    }
    assert listing["auth"] == {
        "type": "api_key",
        "location": "header",
        "name": "X-Key",
        "has_secret": True,
    }

    create = tools["pets_create"]
    assert create["method"] == "POST"
    assert create["openapi_operation_id"] == "pets.create"
    assert create["parameters"] == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tag": {"type": "string"},
            "owner": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
        },
        "required": ["name"],
    }
    assert create["parameter_locations"] == {"name": "body", "tag": "body", "owner": "body"}

    one = tools["get_pets_petId"]
    assert one["url"] == "https://eu.pets.example.com/v1/pets/{petId}"
    assert one["description"] == "One pet"
    assert one["openapi_operation_id"] == ""
    assert one["parameters"] == {
        "type": "object",
        "properties": {"petId": {"type": "integer"}},
        "required": ["petId"],
    }
    assert one["parameter_locations"] == {"petId": "path"}
    for tool in HttpTool.objects.all():
        assert decrypt_json(tool.encrypted_secret) == {"token": "pk-SECRET-77"}


def test_a_name_clash_imports_nothing(acme_console):
    create_tool(acme_console, name="listPets")
    create_tool(acme_console, name="get_pets_petId")
    response = acme_console.post("/http-tools/import-openapi", {"document": petstore()})
    assert response.status_code == 409
    assert response.json()["code"] == "Conflict"
    assert "get_pets_petId, listPets" in response.json()["message"]
    assert HttpTool.objects.count() == 2
    assert not HttpTool.objects.filter(source="openapi").exists()


def test_the_service_raises_the_conflict_too(acme):
    import_openapi(acme, petstore())
    with pytest.raises(Conflict):
        import_openapi(acme, petstore())
    assert HttpTool.objects.count() == 3


def test_json_and_yaml_text_and_a_server_url(acme_console):
    yaml_text = """
openapi: 3.1.0
info: {title: T, version: "1"}
paths:
  /search:
    get:
      operationId: search
      parameters:
        - {name: q, in: query, required: true, schema: {type: [string, "null"]}}
"""
    response = acme_console.post(
        "/http-tools/import-openapi",
        {"document": yaml_text, "server_url": "https://search.example.com/api/"},
    )
    assert response.status_code == 201, response.content
    (tool,) = response.json()
    assert tool["url"] == "https://search.example.com/api/search"
    assert tool["parameters"]["properties"]["q"] == {"type": ["string", "null"]}

    response = acme_console.post(
        "/http-tools/import-openapi",
        {"document": json.dumps(petstore()), "operations": ["pets.create", "GET /pets/{petId}"]},
    )
    assert response.status_code == 201, response.content
    assert [tool["name"] for tool in response.json()] == ["pets_create", "get_pets_petId"]


def test_recursive_schemas_are_cut_not_followed_forever(acme):
    document = petstore()
    document["components"]["schemas"]["Owner"]["properties"]["friend"] = {
        "$ref": "#/components/schemas/Owner"
    }
    tools = import_openapi(acme, document)
    owner = tools[1].parameters["properties"]["owner"]
    assert owner["properties"]["friend"]["type"] == "object"


def _broken(change) -> dict:
    document = petstore()
    change(document)
    return document


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json: [", "neither valid JSON nor valid YAML"),
        ("just a string", "must be an OpenAPI object"),
        ({"swagger": "2.0", "paths": {}}, "Swagger 2.0"),
        ({"info": {}}, "not an OpenAPI 3 document"),
        (_broken(lambda d: d.update(paths={})), "no operations"),
        (_broken(lambda d: d.pop("servers")), "pass server_url"),
        (_broken(lambda d: d.update(servers=[{"url": "/v1"}])), "not an absolute http(s) URL"),
        (
            _broken(lambda d: d["components"]["schemas"].pop("NewPet")),
            "$ref #/components/schemas/NewPet points to nothing",
        ),
        (
            _broken(
                lambda d: d["components"]["schemas"]["NewPet"]["properties"].update(
                    x={"$ref": "https://evil.example.com/schema.json"}
                )
            ),
            "only local $refs",
        ),
        (
            _broken(
                lambda d: d["paths"]["/pets"]["post"]["requestBody"].update(
                    content={"multipart/form-data": {"schema": {"type": "object"}}}
                )
            ),
            "only JSON request bodies",
        ),
        (
            _broken(
                lambda d: d["paths"]["/pets"]["post"]["requestBody"]["content"][
                    "application/json"
                ].update(schema={"type": "object", "properties": {"limit": {"type": "strng"}}})
            ),
            "operation POST /pets: parameters",
        ),
    ],
)
def test_an_invalid_document_is_refused(acme_console, document, problem):
    response = acme_console.post("/http-tools/import-openapi", {"document": document})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "InvalidParameter"
    assert problem in response.json()["message"]
    assert not HttpTool.objects.exists()


def test_unknown_operations_are_named(acme_console):
    response = acme_console.post(
        "/http-tools/import-openapi", {"document": petstore(), "operations": ["nope", "listPets"]}
    )
    assert response.status_code == 400
    assert "not in the document: nope" in response.json()["message"]


def test_an_imported_tool_calls_the_api(acme_console, upstream_api):
    response = acme_console.post(
        "/http-tools/import-openapi",
        {
            "document": petstore(),
            "server_url": upstream_api.base_url + "/v1",
            "auth": {"type": "bearer", "secret": "tok-IMPORT-1"},
            "operations": ["pets.create"],
        },
    )
    (tool,) = response.json()
    result = acme_console.post(
        f"/http-tools/{tool['id']}/invoke",
        {"arguments": {"name": "Rex", "owner": {"name": "Ann"}}},
    ).json()
    assert result["is_error"] is False, result
    received = upstream_api.last
    assert (received.method, received.path) == ("POST", "/v1/pets")
    assert received.json() == {"name": "Rex", "owner": {"name": "Ann"}}
    assert received.headers["authorization"] == "Bearer tok-IMPORT-1"
