"""What the two SDK surfaces' views share: their API object, built alike, and the route of
a call made with an API key. The wire formats themselves are ``apps.gateway.wire``."""

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import NinjaAPI

from apps.accounts.auth import ApiKeyBearer, AsyncApiKeyBearer
from apps.gateway import routing
from apps.model_endpoints.models import EndpointCapability
from kernel.edge import EdgeParser
from kernel.errors import ApiError, install_error_handlers


def sdk_api(*, title: str, namespace: str, not_authenticated: ApiError) -> NinjaAPI:
    """An API that SDKs call with a workspace API key; its errors render in the surface's
    shape (``kernel.errors.error_response``), ``not_authenticated`` worded its own way."""
    api = NinjaAPI(
        parser=EdgeParser(),
        title=title,
        version="1",
        urls_namespace=namespace,
        auth=[ApiKeyBearer()],
        docs_url=None,
    )
    install_error_handlers(api, not_authenticated=not_authenticated)
    return api


#: The API-key check of the async views (the hot paths): the same checks, on the loop.
async_key_auth = [AsyncApiKeyBearer()]


def route_call(
    request: HttpRequest, model: str, capability: EndpointCapability, *, surface: str
) -> routing.Route:
    """The route of ``model`` for the calling key's workspace, metered as ``surface``."""
    return routing.route(
        request.auth.workspace, model, capability, surface=surface, api_key=request.auth
    )


async def aroute_call(
    request: HttpRequest, model: str, capability: EndpointCapability, *, surface: str
) -> routing.Route:
    """``route_call`` for async views."""
    return await routing.aroute(
        request.auth.workspace, model, capability, surface=surface, api_key=request.auth
    )


#: The response header that says whether the response cache answered: ``hit`` or ``miss``
#: (absent when the call could not be cached: cache off for the model, or not deterministic).
CACHE_HEADER = "X-Ministudio-Cache"


def mark_cache(response: HttpResponse | StreamingHttpResponse, target: routing.Route) -> None:
    """Say in ``response``'s headers what the response cache did for the call."""
    if target.meter.cache:
        response[CACHE_HEADER] = target.meter.cache
