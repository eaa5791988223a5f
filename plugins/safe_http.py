"""An HTTP client for tools that cannot be turned against the platform's own network (SSRF).

A model chooses the URLs an agent fetches, and a prompt can choose for the model, so every
connection is checked where it is made: a custom ``httpcore`` network backend resolves the
host itself, refuses the connection if *any* of the resolved addresses is internal
(loopback, private, link-local, cloud metadata, carrier-grade NAT, multicast, reserved,
unspecified, or an IPv6 form embedding one of those), and connects to the address it checked.
Because the check runs on every connection, a redirect to an internal address and a DNS
name that re-resolves to one (DNS rebinding) are refused just like a direct request. TLS
still verifies the certificate and sends SNI for the original host name.

Redirects are followed here, one hop at a time (at most ``max_redirects``); bodies are read
as a stream and abandoned once past ``max_bytes``; ``timeout`` bounds the whole call.

Operators only: ``MINISTUDIO_TOOLS_ALLOWED_NETWORKS`` (comma-separated CIDRs, read on each
call) allows specific internal networks, e.g. ``10.1.2.0/24`` for an intranet API. Cloud
metadata endpoints, unspecified and multicast addresses stay blocked whatever it says.

This module imports nothing from Django or the platform.
"""

from __future__ import annotations

import codecs
import ipaddress
import json as jsonlib
import os
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpcore
import httpx

__all__ = [
    "ALLOWED_NETWORKS_ENV",
    "BlockedAddress",
    "RequestFailed",
    "ResponseTooLarge",
    "SafeHttpError",
    "SafeResponse",
    "async_client",
    "check_destination",
    "request",
]

ALLOWED_NETWORKS_ENV = "MINISTUDIO_TOOLS_ALLOWED_NETWORKS"
USER_AGENT = "ministudio-tools/1.0"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services hand out cloud credentials: never reachable, even when an
# operator allows the network around them.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
# Names that reach a metadata service without going through public DNS.
_BLOCKED_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
_CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Reasons an operator's allow-list cannot override.
_ALWAYS_BLOCKED = frozenset({"metadata", "unspecified", "multicast"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class SafeHttpError(Exception):
    """A request was refused or failed; ``str(exc)`` says why, for a person or a model."""


class BlockedAddress(SafeHttpError):
    """The host is, or resolves to, an address tools may not reach."""

    def __init__(self, host: str, reason: str, address: str | None = None) -> None:
        self.host = host
        self.reason = reason
        self.address = address
        where = f"'{host}'" if address in (None, host) else f"'{host}' ({address})"
        super().__init__(
            f"Refused to connect to {where}: it is {reason}. Tools may only reach public "
            "internet addresses."
        )


class ResponseTooLarge(SafeHttpError):
    """The response body is larger than ``max_bytes``."""


class RequestFailed(SafeHttpError):
    """No usable answer: time-out, connection refused, bad URL or scheme, too many
    redirects, a broken response."""


@dataclass(frozen=True)
class SafeResponse:
    """A complete response. ``url`` is the final URL, after redirects; ``headers`` has
    lower-case names, repeated headers joined with ", "."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    def text(self) -> str:
        """The body decoded with the charset the response declared, else UTF-8; bytes that
        do not decode are replaced, never raised."""
        return self.body.decode(_charset(self.headers.get("content-type", "")), errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return jsonlib.loads(self.body)


def request(
    method: str,
    url: str,
    *,
    params: dict | None = None,
    json: Any = None,
    content: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    max_bytes: int = 1_000_000,
    max_redirects: int = 3,
    check_host: Callable[[str], None] | None = None,
) -> SafeResponse:
    """Send one HTTP request to a public address and return the whole response.

    ``params`` are added to the URL's query; ``json`` is sent as a JSON body, ``content`` as
    a body of its own (give its ``Content-Type`` in ``headers``). ``timeout``
    (seconds) bounds the whole call, redirects and body included (name resolution excepted:
    it uses the system resolver's own time-out). ``check_host``, when given, is called with
    each hop's host name before it is contacted and raises a ``SafeHttpError`` to refuse it
    (a tool's domain allow-list). Raises ``BlockedAddress``, ``ResponseTooLarge`` or
    ``RequestFailed``, all ``SafeHttpError``s.
    """
    allowed = _allowed_networks()
    deadline = time.monotonic() + timeout
    transport = _GuardedTransport(allowed)
    # trust_env=False: an HTTP(S)_PROXY from the environment would make the proxy, not this
    # process, resolve and connect, which bypasses the check.
    client = httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        max_redirects=max_redirects,
        # identity: a compressed body could inflate a thousandfold before it is counted.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
    )
    with client:
        try:
            # Parsed and checked first: the client would read a URL without a host (such as
            # "file:///etc/passwd") as a path relative to its (empty) base URL.
            target = httpx.URL(url)
            _check_url(target, url)
            outgoing = client.build_request(
                method, target, params=params, json=json, content=content, headers=headers
            )
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise RequestFailed(f"'{url}' is not a usable URL: {_plain(exc)}.") from None
        redirects = 0
        while True:
            host = _check_url(outgoing.url)
            if check_host is not None:
                check_host(host)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RequestFailed(f"No complete answer within {timeout:g} seconds.")
            outgoing.extensions["timeout"] = httpx.Timeout(remaining).as_dict()
            response = _send(client, outgoing, host, timeout)
            try:
                if response.next_request is not None:
                    redirects += 1
                    if redirects > max_redirects:
                        raise RequestFailed(
                            f"Too many redirects: more than {max_redirects} "
                            f"(the last one from {outgoing.url} to {response.next_request.url})."
                        )
                    outgoing = response.next_request
                    continue
                body = _read_limited(response, host, max_bytes, deadline, timeout)
                return SafeResponse(
                    status=response.status_code,
                    headers=dict(response.headers.items()),
                    body=body,
                    url=str(outgoing.url),
                )
            finally:
                response.close()


def check_destination(url: str) -> str:
    """Check, before connecting, that ``url`` is an http(s) URL whose host resolves only to
    addresses tools may reach; its host name. Raises ``BlockedAddress`` or
    ``RequestFailed``. A client made by ``async_client`` checks every connection again
    (redirects, DNS rebinding); this gives a clear error before a protocol library starts."""
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise RequestFailed(f"'{url}' is not a usable URL: {_plain(exc)}.") from None
    host = _check_url(target, url)
    _resolve(host, target.port or (443 if target.scheme == "https" else 80), _allowed_networks())
    return host


def async_client(
    *,
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout | float | None = None,
    auth: httpx.Auth | None = None,
    max_bytes: int = 4_000_000,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every connection goes through the same check as
    ``request`` (resolved, refused if any address is internal, connected to the checked
    address), for protocol libraries that take a client (the ``mcp`` SDK's transports).

    Redirects are not followed by the client; each response body is cut off with
    ``ResponseTooLarge`` once past ``max_bytes`` (a long-lived event stream included).
    The signature fits the ``mcp`` SDK's ``httpx_client_factory`` (with ``max_bytes``
    bound by ``functools.partial``).
    """
    return httpx.AsyncClient(
        transport=_GuardedAsyncTransport(_allowed_networks(), max_bytes),
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})},
        timeout=timeout if timeout is not None else httpx.Timeout(30.0),
        auth=auth,
    )


def _allowed_networks() -> list[IPNetwork]:
    """The networks an operator allowed in ``MINISTUDIO_TOOLS_ALLOWED_NETWORKS``.

    A malformed entry raises ``SafeHttpError`` naming it, so a typo fails closed and loudly
    instead of silently allowing or blocking something else.
    """
    networks = []
    for entry in os.environ.get(ALLOWED_NETWORKS_ENV, "").split(","):
        if entry := entry.strip():
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise SafeHttpError(
                    f"{ALLOWED_NETWORKS_ENV} has an invalid entry '{entry}'; it must be a "
                    "comma-separated list of networks such as 10.1.2.0/24."
                ) from None
    return networks


def _classify(address: IPAddress) -> str | None:
    """The kind of internal address ``address`` is (a key of ``_DESCRIPTIONS``), or None."""
    if address in _METADATA_ADDRESSES:
        return "metadata"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address in _CARRIER_GRADE_NAT:
        return "cgnat"
    if address.is_reserved:  # before private: Python counts 240.0.0.0/4 as both
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-global"
    return None


_DESCRIPTIONS = {
    "metadata": "a cloud metadata endpoint",
    "unspecified": "an unspecified address",
    "loopback": "a loopback address",
    "link-local": "a link-local address",
    "multicast": "a multicast address",
    "cgnat": "a carrier-grade NAT address (100.64.0.0/10)",
    "private": "a private address",
    "reserved": "a reserved address",
    "non-global": "not a globally routable address",
}


def _check_address(host: str, address: IPAddress, allowed: Iterable[IPNetwork] = ()) -> None:
    """Raise ``BlockedAddress`` unless ``address`` (one of ``host``'s) may be reached."""
    kind = _classify(address)
    description = _DESCRIPTIONS.get(kind or "")
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        embedded_kind = None if embedded is None else _classify(embedded)
        if embedded_kind is not None:
            kind = embedded_kind
            description = f"{_DESCRIPTIONS[kind]} ({embedded}) written as an IPv6 address"
    if kind is None:
        return
    # The allow-list matches the address as written: an operator who allows 10.1.2.0/24
    # allows 10.1.2.3, not ::ffff:10.1.2.3.
    if kind not in _ALWAYS_BLOCKED and any(
        address.version == network.version and address in network for network in allowed
    ):
        return
    raise BlockedAddress(host, description or "internal", str(address))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), 6to4, Teredo and NAT64
    # addresses all reach an IPv4 host: judge them by that host.
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _normalise_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _check_url(url: httpx.URL, original: str | None = None) -> str:
    shown = original if original is not None else str(url)
    if not url.scheme:
        raise RequestFailed(f"'{shown}' is not an absolute URL; write it as https://host/path.")
    if url.scheme not in ("http", "https"):
        raise RequestFailed(
            f"Only http and https URLs can be fetched, not {url.scheme}: ({shown})."
        )
    if not url.host:
        raise RequestFailed(f"'{shown}' has no host name.")
    # The ASCII (IDNA) form: what DNS sees, and what domain allow-lists are written in.
    host = _normalise_host(url.raw_host.decode("ascii"))
    if host in _BLOCKED_NAMES:
        raise BlockedAddress(host, "a cloud metadata endpoint")
    return host


def _resolve(host: str, port: int, allowed: list[IPNetwork]) -> list[str]:
    """Every address ``host`` resolves to, after checking each one."""
    name = _normalise_host(host)
    if name in _BLOCKED_NAMES:
        raise BlockedAddress(name, "a cloud metadata endpoint")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise RequestFailed(f"The host name '{name}' could not be resolved ({exc}).") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        # Drop an IPv6 zone ("fe80::1%eth0"); the address alone decides.
        text = str(sockaddr[0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        # All of them, not just the first: the one connected to may be any of them, and a
        # name resolving to a public and a private address is an attack, not a mistake.
        _check_address(name, address, allowed)
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise RequestFailed(f"The host name '{name}' resolved to no address.")
    return addresses


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves and checks the host on each connection, then connects to a checked address.

    httpcore starts TLS on the returned stream with the origin's host name, so SNI and
    certificate checks still use the name, not the address.
    """

    def __init__(self, allowed: list[IPNetwork]) -> None:
        self._allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in _resolve(host, port, self._allowed):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # _resolve returns at least one address
        raise last_error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise RequestFailed("Unix sockets cannot be reached from tools.")


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool rebuilt on the guarded backend (httpx
    takes no network backend argument; httpcore's pool does)."""

    def __init__(self, allowed: list[IPNetwork]) -> None:
        super().__init__(trust_env=False)
        ssl_context = httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=_GuardedBackend(allowed),
        )


def _send(
    client: httpx.Client, outgoing: httpx.Request, host: str, timeout: float
) -> httpx.Response:
    try:
        return client.send(outgoing, stream=True)
    except httpx.TimeoutException:
        raise RequestFailed(f"'{host}' did not answer within {timeout:g} seconds.") from None
    except httpx.ConnectError as exc:
        raise RequestFailed(f"Could not connect to '{host}': {_plain(exc)}.") from None
    except httpx.UnsupportedProtocol as exc:
        raise RequestFailed(f"Unsupported URL '{outgoing.url}': {_plain(exc)}.") from None
    except httpx.RemoteProtocolError as exc:
        # Also what a redirect with an unusable Location header raises.
        raise RequestFailed(f"'{host}' answered with a broken response: {_plain(exc)}.") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise RequestFailed(f"The request to '{host}' failed: {_plain(exc)}.") from None


def _read_limited(
    response: httpx.Response, host: str, max_bytes: int, deadline: float, timeout: float
) -> bytes:
    too_large = ResponseTooLarge(
        f"The response from '{host}' is larger than the limit of {max_bytes:,} bytes."
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            # The read time-out is per read: a server dripping a byte a second would
            # otherwise never time out.
            if time.monotonic() > deadline:
                raise RequestFailed(
                    f"'{host}' did not send its whole answer within {timeout:g} seconds."
                )
            chunks.append(chunk)
    except httpx.TimeoutException:
        raise RequestFailed(
            f"'{host}' did not send its whole answer within {timeout:g} seconds."
        ) from None
    except httpx.HTTPError as exc:
        raise RequestFailed(f"Reading the answer from '{host}' failed: {_plain(exc)}.") from None
    return b"".join(chunks)


def _plain(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__).rstrip(".")


_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


def _charset(content_type: str) -> str:
    match = _CHARSET.search(content_type)
    if match:
        try:
            return codecs.lookup(match.group(1)).name
        except LookupError:
            pass
    return "utf-8"


class _GuardedAsyncBackend(httpcore.AnyIOBackend):
    """``_GuardedBackend`` for asynchronous clients. Name resolution runs in a worker thread
    (``getaddrinfo`` blocks)."""

    def __init__(self, allowed: list[IPNetwork]) -> None:
        self._allowed = allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await anyio.to_thread.run_sync(_resolve, host, port, self._allowed)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await super().connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # _resolve returns at least one address
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RequestFailed("Unix sockets cannot be reached from tools.")


class _LimitedStream(httpx.AsyncByteStream):
    """A response body that raises ``ResponseTooLarge`` once past ``max_bytes``."""

    def __init__(self, stream: httpx.AsyncByteStream, host: str, max_bytes: int) -> None:
        self._stream = stream
        self._host = host
        self._max_bytes = max_bytes

    async def __aiter__(self):
        size = 0
        async for chunk in self._stream:
            size += len(chunk)
            if size > self._max_bytes:
                raise ResponseTooLarge(
                    f"The response from '{self._host}' is larger than the limit of "
                    f"{self._max_bytes:,} bytes."
                )
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class _GuardedAsyncTransport(httpx.AsyncHTTPTransport):
    """``_GuardedTransport`` for asynchronous clients, with bodies capped at ``max_bytes``."""

    def __init__(self, allowed: list[IPNetwork], max_bytes: int) -> None:
        super().__init__(trust_env=False)
        self._max_bytes = max_bytes
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=_GuardedAsyncBackend(allowed),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = _check_url(request.url)
        response = await super().handle_async_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            await response.aclose()
            raise ResponseTooLarge(
                f"The response from '{host}' is larger than the limit of {self._max_bytes:,} bytes."
            )
        response.stream = _LimitedStream(response.stream, host, self._max_bytes)  # type: ignore[arg-type]
        return response
