"""How the console API recognises a caller: a session cookie (with CSRF) or an API key."""

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from ninja.security.base import AuthBase
from ninja.utils import check_csrf

from apps.accounts import throttling
from apps.accounts.models import ApiKey, User
from apps.accounts.services import aauthenticate_api_key, authenticate_api_key
from kernel.errors import AccessDenied, InvalidApiKey


def require_csrf(request: HttpRequest, how: str) -> None:
    """Refuse an unsafe request whose CSRF token does not match (``how`` says what to send)."""
    if check_csrf(request):
        raise AccessDenied(f"CSRF check failed: {how}", code="CSRFFailed")


#: What a session caller that has not signed in yet does first (sign-in, sign-up).
CSRF_BEFORE_SIGN_IN = "GET /console/api/auth/csrf first, then send X-CSRFToken."


class ApiKeyBearer(AuthBase):
    """``Authorization: Bearer sk-...``. A presented but bad key is refused outright.

    Refused keys are counted per client address; once an address is locked out, every key it
    presents, valid or not, gets a 429 with ``Retry-After`` until the lock-out ends (see
    ``apps.accounts.throttling``). A malformed header (no ``Bearer``) is not counted.
    """

    openapi_type = "http"
    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> ApiKey | None:
        header = request.headers.get("Authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidApiKey("The Authorization header must be 'Bearer sk-...'.")
        throttling.check_api_key_allowed(request)
        try:
            return authenticate_api_key(token)
        except InvalidApiKey:
            throttling.record_api_key_failure(request)
            raise


class AsyncApiKeyBearer(ApiKeyBearer):
    """``ApiKeyBearer`` for async views (the SDK surfaces' hot paths): the same checks
    without a thread. A warm key costs two Redis round trips on the loop (the address's
    lock-out and the configuration version) and no database query."""

    async def __call__(self, request: HttpRequest) -> ApiKey | None:  # type: ignore[override]
        header = request.headers.get("Authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidApiKey("The Authorization header must be 'Bearer sk-...'.")
        await throttling.acheck_api_key_allowed(request)
        try:
            return await aauthenticate_api_key(token)
        except InvalidApiKey:
            await sync_to_async(throttling.record_api_key_failure)(request)
            raise


class SessionCookie(AuthBase):
    """Django's session, with CSRF enforced on unsafe methods once signed in."""

    openapi_type = "apiKey"
    openapi_in = "cookie"
    openapi_name = "sessionid"

    def __call__(self, request: HttpRequest) -> User | None:
        if not request.user.is_authenticated:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False):
            require_csrf(request, "send the csrftoken cookie's value as the X-CSRFToken header.")
        return request.user


console_auth = [ApiKeyBearer(), SessionCookie()]
