"""Platform admins can manage endpoints in the Django admin, with the same validation."""

import pytest

from apps.model_endpoints.models import ModelEndpoint
from apps.plugins.services import sync_plugins

pytestmark = pytest.mark.django_db
KEY = "sk-admin-form-secret-1234"


def form(upstream, **overrides) -> dict:
    return {
        "name": "gpt-local",
        "display_name": "",
        "provider": "openai",
        "upstream_model": "m",
        "capabilities": ["chat"],
        "provider_settings": f'{{"base_url": "{upstream.openai_base_url}", "api_key": "{KEY}", '
        '"max_retries": 0}',
        "default_parameters": "{}",
        "price_input_per_1k": "0",
        "price_output_per_1k": "0",
        "enabled": "on",
        "grants-TOTAL_FORMS": "0",
        "grants-INITIAL_FORMS": "0",
        **overrides,
    }


def test_adding_an_endpoint_in_the_admin_encrypts_its_key(client, root, upstream):
    sync_plugins()
    client.force_login(root)
    response = client.post("/admin/endpoints/modelendpoint/add/", form(upstream))
    assert response.status_code == 302, response.content.decode()[:3000]
    endpoint = ModelEndpoint.objects.get()
    assert KEY not in endpoint.encrypted_secrets and KEY not in str(endpoint.settings)

    page = client.get(f"/admin/endpoints/modelendpoint/{endpoint.pk}/change/").content.decode()
    assert KEY not in page and "***" in page

    tested = client.post(
        "/admin/endpoints/modelendpoint/",
        {"action": "test_connection", "_selected_action": [str(endpoint.pk)]},
        follow=True,
    )
    assert "chat answered" in tested.content.decode()


def test_the_admin_form_refuses_what_the_provider_refuses(client, root, upstream):
    sync_plugins()
    client.force_login(root)
    response = client.post(
        "/admin/endpoints/modelendpoint/add/",
        # The local provider embeds and chats; it has no reranker.
        form(upstream, provider="local", provider_settings="{}", capabilities=["rerank"]),
    )
    assert response.status_code == 200
    assert "provider does not support rerank" in response.content.decode()
    assert not ModelEndpoint.objects.exists()
