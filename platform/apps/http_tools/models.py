"""Custom HTTP tools (Bailian's 自定义插件): an HTTP API a workspace describes so that its
agent apps can call it as a function.

The tool's ``parameters`` are the JSON Schema the model sees; ``parameter_locations`` says
where each argument goes in the request. The credential is stored encrypted
(``kernel.encryption``) and is decrypted only to send a request.
"""

import uuid

from django.db import models

from apps.accounts.models import Workspace
from apps.accounts.tenancy import Audited, WorkspaceOwned

MAX_TIMEOUT_SECONDS = 30


class HttpMethod(models.TextChoices):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


class AuthType(models.TextChoices):
    NONE = "none", "No authentication"
    BEARER = "bearer", "Bearer token"
    BASIC = "basic", "HTTP basic"
    API_KEY = "api_key", "API key"


class AuthLocation(models.TextChoices):
    HEADER = "header"
    QUERY = "query"


class ParameterLocation(models.TextChoices):
    PATH = "path"
    QUERY = "query"
    HEADER = "header"
    BODY = "body", "JSON body property"


class ToolSource(models.TextChoices):
    MANUAL = "manual"
    OPENAPI = "openapi"


class HttpTool(WorkspaceOwned, Audited):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="http_tools")
    name = models.CharField(max_length=64, help_text="The function name a model sees.")
    description = models.TextField(blank=True)
    method = models.CharField(max_length=8, choices=HttpMethod.choices, default=HttpMethod.GET)
    url = models.CharField(
        max_length=2000, help_text="http(s) URL; its path may hold {parameter} placeholders."
    )
    parameters = models.JSONField(default=dict, help_text="JSON Schema of the arguments.")
    #: Argument name → path / query / header / body. Arguments not named here follow the
    #: default: URL placeholders go to the path, the rest to the query (GET, DELETE) or the
    #: JSON body (POST, PUT, PATCH).
    parameter_locations = models.JSONField(default=dict, blank=True)
    auth_type = models.CharField(max_length=16, choices=AuthType.choices, default=AuthType.NONE)
    auth_location = models.CharField(max_length=8, choices=AuthLocation.choices, blank=True)
    auth_name = models.CharField(
        max_length=128, blank=True, help_text="Header or query parameter name of an API key."
    )
    #: kernel.encryption token of {"token": ...} or {"username": ..., "password": ...}.
    encrypted_secret = models.TextField(blank=True, editable=False)
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    source = models.CharField(max_length=8, choices=ToolSource.choices, default=ToolSource.MANUAL)
    openapi_operation_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="http_tool_name"),
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__gte=1)
                & models.Q(timeout_seconds__lte=MAX_TIMEOUT_SECONDS),
                name="http_tool_timeout_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name
