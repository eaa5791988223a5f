"""A small client for the console API: JSON in and out, caller and workspace made explicit."""

import json as jsonlib
from typing import Any

from django.test import Client

from apps.accounts.models import User

BASE = "/console/api"


class ConsoleClient:
    """Wraps Django's test client. ``as_user``/``with_key`` pick the caller, ``workspace``
    the X-Workspace header; every call returns the response (``.json()`` for the body)."""

    def __init__(self, *, enforce_csrf: bool = False) -> None:
        self.client = Client(enforce_csrf_checks=enforce_csrf)
        self.headers: dict[str, str] = {}

    def as_user(self, user: User, workspace: str | None = None) -> "ConsoleClient":
        self.client.force_login(user)
        self.headers.pop("Authorization", None)
        return self.workspace(workspace)

    def with_key(self, key: str, workspace: str | None = None) -> "ConsoleClient":
        self.client.logout()
        self.headers["Authorization"] = f"Bearer {key}"
        return self.workspace(workspace)

    def workspace(self, slug: str | None) -> "ConsoleClient":
        if slug is None:
            self.headers.pop("X-Workspace", None)
        else:
            self.headers["X-Workspace"] = slug
        return self

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        body = raw if raw is not None else (jsonlib.dumps(json) if json is not None else "")
        return self.client.generic(
            method.upper(),
            BASE + path,
            data=body,
            content_type="application/json",
            headers={**self.headers, **(headers or {})},
        )

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs):
        return self.request("POST", path, json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs):
        return self.request("PUT", path, json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs):
        return self.request("PATCH", path, json, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def upload(self, path: str, files: dict[str, bytes], **fields: str):
        """POST ``files`` (name → content) as repeated multipart ``files`` fields."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        data: dict[str, Any] = {
            "files": [SimpleUploadedFile(name, content) for name, content in files.items()],
            **fields,
        }
        return self.client.post(BASE + path, data=data, headers=self.headers)
