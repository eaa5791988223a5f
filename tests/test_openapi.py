"""The served OpenAPI schemas document the errors each operation answers, in its surface's
shape (platform/kernel/openapi.py); tests/fuzz checks real answers against them."""


def _schema(client, path: str) -> dict:
    response = client.get(path)
    assert response.status_code == 200
    return response.json()


def _resolved(schema: dict, response: dict) -> dict:
    ref = response.get("$ref")
    return schema["components"]["responses"][ref.rsplit("/", 1)[1]] if ref else response


def _error_body(schema: dict, operation: dict, status: str) -> str:
    response = _resolved(schema, operation["responses"][status])
    return response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def test_console_operations_document_their_errors(client):
    schema = _schema(client, "/console/api/openapi.json")
    assert schema["components"]["schemas"]["ErrorOut"]["required"] == [
        "code",
        "message",
        "request_id",
    ]
    member = schema["paths"]["/console/api/members/{member_id}"]["patch"]
    assert {"400", "401", "403", "404", "409", "413", "429"} <= set(member["responses"])
    assert _error_body(schema, member, "404") == "ErrorOut"
    assert member["parameters"][0]["schema"]["format"] == "uuid"
    retry = _resolved(schema, member["responses"]["429"])["headers"]
    assert "Retry-After" in retry
    # Unauthenticated operations: only what they can answer.
    health = schema["paths"]["/console/api/health"]["get"]
    assert "401" not in health["responses"]
    login = schema["paths"]["/console/api/auth/login"]["post"]
    assert {"401", "403", "429"} <= set(login["responses"])
    assert "x-ministudio-error-statuses" not in login
    chat = schema["paths"]["/console/api/models/chat"]["post"]["responses"]["200"]["content"]
    assert {"application/json", "text/event-stream"} <= set(chat)


def test_the_openai_surface_documents_openai_errors(client):
    schema = _schema(client, "/compatible-mode/v1/openapi.json")
    operation = schema["paths"]["/compatible-mode/v1/files/{file_id}"]["get"]
    assert _error_body(schema, operation, "404") == "OpenAIErrorOut"
    error = schema["components"]["schemas"]["OpenAIErrorOut"]["properties"]["error"]
    assert error["required"] == ["message", "type", "param", "code"]
    chat = schema["paths"]["/compatible-mode/v1/chat/completions"]["post"]
    assert {"502", "503", "504"} <= set(chat["responses"])
    assert "text/event-stream" in chat["responses"]["200"]["content"]


def test_the_dashscope_surface_documents_its_errors(client):
    schema = _schema(client, "/api/v1/openapi.json")
    completion = schema["paths"]["/api/v1/apps/{app_id}/completion"]["post"]
    assert _error_body(schema, completion, "404") == "ErrorOut"
    assert completion["parameters"][0]["schema"]["format"] == "uuid"
