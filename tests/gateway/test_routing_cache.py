"""Routing reads its configuration from a per-process cache (kernel.config_cache) that
every committed change invalidates, in this process at once and in others through the
version counter in Redis."""

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import ApiKey
from apps.gateway.routing import ModelNotFound, route
from apps.model_endpoints import services as endpoints
from apps.model_endpoints.models import EndpointCapability, ModelEndpoint
from apps.usage.models import Quota
from apps.usage.quotas import QuotaExceeded
from kernel import config_cache
from kernel.redis_connection import redis_client

pytestmark = pytest.mark.django_db(transaction=True)  # invalidation happens on commit

CHAT = EndpointCapability.CHAT


@pytest.fixture
def acme_key(granted) -> ApiKey:
    return ApiKey.objects.select_related("workspace").get(workspace__slug="acme")


def route_chat(key: ApiKey):
    return route(key.workspace, "qwen-plus", CHAT, surface="openai", api_key=key)


def queries_of(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def test_a_second_call_reads_nothing_from_the_database(acme_key):
    route_chat(acme_key).meter.admit(10)
    assert queries_of(lambda: route_chat(acme_key).meter.admit(10)) == 0


def test_a_revoked_grant_binds_the_next_call(acme_key):
    found = route_chat(acme_key)
    endpoints.revoke_grant(found.endpoint, acme_key.workspace)
    with pytest.raises(ModelNotFound):
        route_chat(acme_key)


def test_a_disabled_endpoint_binds_the_next_call(acme_key):
    route_chat(acme_key)
    endpoint = ModelEndpoint.objects.get(name="qwen-plus")
    endpoints.update_endpoint(endpoint, enabled=False)
    with pytest.raises(ModelNotFound):
        route_chat(acme_key)


def test_a_new_quota_binds_the_next_call(acme_key):
    route_chat(acme_key).meter.admit(10)
    Quota.objects.create(workspace=acme_key.workspace, requests_per_minute=1)
    route_chat(acme_key).meter.admit(10)
    with pytest.raises(QuotaExceeded):
        route_chat(acme_key).meter.admit(10)


def test_another_processs_change_is_seen_through_the_version(acme_key):
    route_chat(acme_key)
    # A change this process sent no signal for, as if another process had made it:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM endpoints_endpointgrant WHERE workspace_id = %s",
            [acme_key.workspace_id],
        )
    assert route_chat(acme_key).endpoint.name == "qwen-plus"  # still served from the cache
    redis_client().incr(config_cache.VERSION_KEY)  # what that process's commit does
    with pytest.raises(ModelNotFound):
        route_chat(acme_key)


def test_without_redis_nothing_is_cached(acme_key, monkeypatch):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(config_cache, "redis_client", lambda: dead)
    route_chat(acme_key)
    assert queries_of(lambda: route_chat(acme_key)) > 0
    assert config_cache.current_version() is None
