"""The guarded HTTP client reaches public addresses and nothing else, whatever the route.

A real server runs on 127.0.0.1, which the tests allow with MINISTUDIO_TOOLS_ALLOWED_NETWORKS
exactly as an operator would allow an intranet; everything else internal must stay closed.
Decoy servers on 127.0.0.2 and ::1 prove refused requests never arrive. Only
``socket.getaddrinfo`` is replaced, to make host names resolve where a test needs them.
"""

from __future__ import annotations

import datetime
import json
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from plugins import safe_http
from plugins.safe_http import (
    BlockedAddress,
    RequestFailed,
    ResponseTooLarge,
    SafeHttpError,
    SafeResponse,
)

ALLOW_LOCAL = "127.0.0.1/32"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._route()

    def do_POST(self):
        self._route()

    def _route(self):
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, dict(self.headers.items()), body))
        route = url.path.strip("/") or "json"
        if route == "json":
            self._send(200, {"hello": "world", "path": url.path, "query": query})
        elif route == "echo":
            self._send(
                200,
                {
                    "method": self.command,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8"),
                },
            )
        elif route == "status":
            self._send(int(query["code"]), {"error": "as asked"})
        elif route == "big":
            self._raw(200, b"x" * int(query["n"]), "text/plain")
        elif route == "stream":
            # No Content-Length: the body ends when the connection closes (HTTP/1.0).
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(int(query["chunks"])):
                self.wfile.write(b"y" * 1024)
        elif route == "slow":
            time.sleep(float(query["s"]))
            self._send(200, {"slept": query["s"]})
        elif route == "drip":
            # Headers at once, then a byte every 0.2 s: each read is quick, the whole is not.
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(100):
                try:
                    self.wfile.write(b".")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)
        elif route == "redirect":
            self.send_response(int(query.get("status", 302)))
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif route == "loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif route == "gbk":
            self._raw(200, "你好，世界".encode("gbk"), "text/plain; charset=gbk")
        elif route == "html":
            self._raw(200, b"<html><title>Hi</title></html>", "text/html; charset=utf-8")
        elif route == "notjson":
            self._raw(200, b"{not json", "application/json")
        elif route == "png":
            self._raw(200, PNG, "image/png")
        elif route == "untyped":
            self._raw(200, b"plain words, no type", None)
        else:
            self._send(404, {"error": "no such route"})

    def _send(self, status, payload):
        self._raw(status, json.dumps(payload).encode(), "application/json")

    def _raw(self, status, body, content_type):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, family=socket.AF_INET):
        self.address_family = family
        self.seen: list[tuple[str, str, dict, bytes]] = []
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        # A client that gave up (time-out, size limit) makes the handler's writes fail;
        # that is the test working, not an error to print.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalServer:
    """A real HTTP server on a free port of ``host``, in a thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.httpd = _Server((host, 0), family)
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def seen(self) -> list[tuple[str, str, dict, bytes]]:
        return self.httpd.seen

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server():
    running = LocalServer()
    yield running
    running.close()


@pytest.fixture(scope="module")
def decoy():
    """A server on 127.0.0.2 (loopback, not allowed): it must never see a request."""
    running = LocalServer("127.0.0.2")
    yield running
    running.close()


@pytest.fixture(autouse=True)
def allow_local(monkeypatch):
    monkeypatch.setenv(safe_http.ALLOWED_NETWORKS_ENV, ALLOW_LOCAL)


def resolve_as(monkeypatch, table: dict[str, list[str]]) -> list[str]:
    """Make the names in ``table`` resolve to its addresses; other names resolve normally.
    Returns the list of names looked up, in order."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def fake(host, port, *args, **kwargs):
        looked_up.append(host)
        if host in table:
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                    "",
                    (address, port, 0, 0) if ":" in address else (address, port),
                )
                for address in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return looked_up


# --- what works -------------------------------------------------------------------------------


def test_get_json_with_params(server):
    response = safe_http.request("GET", server.url("/json"), params={"q": "tea", "n": 2})
    assert isinstance(response, SafeResponse)
    assert response.status == 200
    assert response.json() == {"hello": "world", "path": "/json", "query": {"q": "tea", "n": "2"}}
    assert response.headers["content-type"] == "application/json"
    assert response.url == server.url("/json?q=tea&n=2")


def test_post_sends_json_and_headers(server):
    response = safe_http.request(
        "POST", server.url("/echo"), json={"a": [1, "二"]}, headers={"X-Trace": "abc"}
    )
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert json.loads(echoed["body"]) == {"a": [1, "二"]}
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["headers"]["x-trace"] == "abc"
    # Asked for uncompressed bodies, so the size limit counts what is kept.
    assert echoed["headers"]["accept-encoding"] == "identity"


def test_error_statuses_are_responses_not_exceptions(server):
    response = safe_http.request("GET", server.url("/status?code=503"))
    assert (response.status, response.json()) == (503, {"error": "as asked"})


def test_text_uses_the_declared_charset(server):
    assert safe_http.request("GET", server.url("/gbk")).text() == "你好，世界"
    untyped = safe_http.request("GET", server.url("/untyped"))
    assert untyped.text() == "plain words, no type"


def test_json_of_a_non_json_body_raises_value_error(server):
    response = safe_http.request("GET", server.url("/notjson"))
    with pytest.raises(ValueError):
        response.json()


def test_redirects_are_followed_and_the_final_url_reported(server):
    response = safe_http.request("GET", server.url("/redirect?to=/json%3Fafter%3D1"))
    assert response.status == 200
    assert response.json()["query"] == {"after": "1"}
    assert response.url == server.url("/json?after=1")


def test_a_303_after_post_becomes_a_get(server):
    response = safe_http.request(
        "POST", server.url("/redirect?status=303&to=/echo"), json={"dropped": True}
    )
    assert response.json()["method"] == "GET"
    assert response.json()["body"] == ""


def test_too_many_redirects(server):
    before = len(server.seen)
    with pytest.raises(RequestFailed, match="Too many redirects: more than 3"):
        safe_http.request("GET", server.url("/loop"), max_redirects=3)
    assert len(server.seen) - before == 4  # the request and three redirects, then it stopped


def test_no_redirects_allowed(server):
    with pytest.raises(RequestFailed, match="more than 0"):
        safe_http.request("GET", server.url("/redirect?to=/json"), max_redirects=0)


# --- the SSRF guard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.2", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback address (127.0.0.1) written as an IPv6 address"),
        ("[::ffff:169.254.169.254]", "cloud metadata"),
        ("[2002:7f00:1::1]", "loopback"),  # 6to4
        ("[64:ff9b::a00:1]", "private"),  # NAT64 of 10.0.0.1
        ("169.254.169.254", "cloud metadata endpoint"),
        ("100.100.100.200", "cloud metadata endpoint"),
        ("169.254.1.1", "link-local"),
        ("[fe80::1]", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address to refuse, not to bind)
        ("[::]", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("[fc00::1]", "private"),
        ("[fd12:3456::1]", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("240.0.0.1", "reserved"),
        ("metadata.google.internal", "cloud metadata endpoint"),
        ("metadata", "cloud metadata endpoint"),
        ("2130706434", "loopback"),  # 127.0.0.2 as one decimal number
    ],
)
def test_internal_addresses_are_refused(server, host, reason):
    with pytest.raises(BlockedAddress, match=re.escape(reason)) as refused:
        safe_http.request("GET", f"http://{host}:{server.port}/json")
    assert isinstance(refused.value, SafeHttpError)
    assert refused.value.reason in str(refused.value)


def test_a_refused_request_never_reaches_the_server(decoy):
    with pytest.raises(BlockedAddress, match=re.escape("'127.0.0.2': it is a loopback address")):
        safe_http.request("GET", decoy.url("/json"))
    assert decoy.seen == []


def test_redirect_from_an_allowed_server_to_a_blocked_address(server, decoy):
    for target in (decoy.url("/json"), "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(BlockedAddress):
            safe_http.request("GET", server.url("/redirect"), params={"to": target})
    assert decoy.seen == []


def test_localhost_resolving_to_ipv6_loopback_is_refused(monkeypatch, server):
    ipv6 = LocalServer("::1")
    try:
        resolve_as(monkeypatch, {"localhost": ["::1"]})
        with pytest.raises(BlockedAddress, match=r"'localhost' \(::1\): it is a loopback"):
            safe_http.request("GET", f"http://localhost:{ipv6.port}/json")
        # Every address counts: the allowed 127.0.0.1 does not excuse ::1 next to it.
        resolve_as(monkeypatch, {"localhost": ["127.0.0.1", "::1"]})
        with pytest.raises(BlockedAddress, match="::1"):
            safe_http.request("GET", f"http://localhost:{server.port}/json")
        assert ipv6.seen == []
    finally:
        ipv6.close()


def test_a_host_name_resolving_to_a_blocked_address(monkeypatch, server):
    resolve_as(
        monkeypatch,
        {
            "intranet.example.test": ["10.0.0.5"],
            "metadata.example.test": ["169.254.169.254"],
            "mixed.example.test": ["93.184.215.14", "127.0.0.2"],
        },
    )
    with pytest.raises(BlockedAddress, match=r"'intranet.example.test' \(10.0.0.5\).*private"):
        safe_http.request("GET", "http://intranet.example.test/")
    with pytest.raises(BlockedAddress, match="cloud metadata"):
        safe_http.request("GET", "http://metadata.example.test/latest/meta-data/")
    with pytest.raises(BlockedAddress, match=re.escape("127.0.0.2")):
        safe_http.request("GET", "http://mixed.example.test/")


def test_each_connection_resolves_again_so_rebinding_is_caught(monkeypatch, server):
    # The name first resolves to the allowed server, then (the attacker's DNS changed its
    # answer) to the metadata address: the redirect's new connection must see the change.
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    before = len(server.seen)
    with pytest.raises(BlockedAddress, match="cloud metadata"):
        safe_http.request(
            "GET",
            f"http://rebind.example.test:{server.port}/redirect",
            params={"to": "http://rebind.example.test/latest/meta-data/"},
        )
    assert len(server.seen) == before + 1  # the first hop reached the allowed server


def test_without_the_operator_setting_loopback_is_refused(monkeypatch, server):
    monkeypatch.delenv(safe_http.ALLOWED_NETWORKS_ENV)
    with pytest.raises(BlockedAddress, match="loopback"):
        safe_http.request("GET", server.url("/json"))
    # Read on each call: allowing it again takes effect at once.
    monkeypatch.setenv(safe_http.ALLOWED_NETWORKS_ENV, " 10.1.2.0/24 , 127.0.0.0/30")
    assert safe_http.request("GET", server.url("/json")).status == 200


def test_the_operator_cannot_open_metadata_unspecified_or_multicast(monkeypatch, server):
    monkeypatch.setenv(safe_http.ALLOWED_NETWORKS_ENV, "0.0.0.0/0,::/0")
    for host in ("169.254.169.254", "0.0.0.0", "224.0.0.1", "[fd00:ec2::254]"):  # noqa: S104
        with pytest.raises(BlockedAddress):
            safe_http.request("GET", f"http://{host}:{server.port}/")
    assert safe_http.request("GET", server.url("/json", host="127.0.0.1")).status == 200


def test_an_invalid_operator_setting_fails_closed(monkeypatch, server):
    monkeypatch.setenv(safe_http.ALLOWED_NETWORKS_ENV, "127.0.0.1/32,intranet")
    with pytest.raises(SafeHttpError, match="invalid entry 'intranet'"):
        safe_http.request("GET", server.url("/json"))


def test_proxy_environment_variables_are_ignored(monkeypatch, server, decoy):
    # A proxy would resolve and connect on our behalf, past the check.
    monkeypatch.setenv("HTTP_PROXY", decoy.url("/"))
    monkeypatch.setenv("ALL_PROXY", decoy.url("/"))
    assert safe_http.request("GET", server.url("/json")).status == 200
    assert decoy.seen == []


def _self_signed(tmp_path, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_tls_uses_the_host_name_for_sni_and_verification(monkeypatch, tmp_path):
    cert_file, key_file = _self_signed(tmp_path, "tls.example.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept_one():
        connection, _ = listener.accept()
        try:
            context.wrap_socket(connection, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass  # the client rejects the self-signed certificate
        finally:
            connection.close()

    thread = threading.Thread(target=accept_one, daemon=True)
    thread.start()
    resolve_as(monkeypatch, {"tls.example.test": ["127.0.0.1"]})
    try:
        with pytest.raises(RequestFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            safe_http.request("GET", f"https://tls.example.test:{port}/")
    finally:
        thread.join(5)
        listener.close()
    # Connected to the checked address, but TLS spoke to the name.
    assert names == ["tls.example.test"]


# --- limits and failures ----------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused(server):
    assert len(safe_http.request("GET", server.url("/big?n=1000"), max_bytes=1000).body) == 1000
    with pytest.raises(ResponseTooLarge, match="larger than the limit of 1,000 bytes"):
        safe_http.request("GET", server.url("/big?n=1001"), max_bytes=1000)


def test_a_body_without_length_is_cut_while_streaming(server):
    with pytest.raises(ResponseTooLarge, match="5,000 bytes"):
        safe_http.request("GET", server.url("/stream?chunks=200"), max_bytes=5000)
    assert len(safe_http.request("GET", server.url("/stream?chunks=3")).body) == 3 * 1024


def test_a_slow_server_times_out(server):
    started = time.monotonic()
    with pytest.raises(RequestFailed, match=re.escape("did not answer within 0.5 seconds")):
        safe_http.request("GET", server.url("/slow?s=3"), timeout=0.5)
    assert time.monotonic() - started < 2


def test_the_timeout_bounds_the_whole_body(server):
    # Each byte arrives well within the timeout; the whole never would.
    started = time.monotonic()
    with pytest.raises(RequestFailed, match="whole answer within 1 seconds"):
        safe_http.request("GET", server.url("/drip"), timeout=1)
    assert time.monotonic() - started < 3


def test_connection_refused():
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(RequestFailed, match=r"Could not connect to '127\.0\.0\.1'.*refused"):
        safe_http.request("GET", f"http://127.0.0.1:{port}/")


def test_an_unknown_host(monkeypatch):
    real = socket.getaddrinfo

    def nxdomain(host, *args, **kwargs):
        if host == "nowhere.example.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    with pytest.raises(
        RequestFailed, match=re.escape("'nowhere.example.test' could not be resolved")
    ):
        safe_http.request("GET", "https://nowhere.example.test/")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/file", "Only http and https URLs can be fetched, not ftp:"),
        ("file:///etc/passwd", "not file:"),
        ("gopher://example.com/", "not gopher:"),
        ("example.com/path", "not an absolute URL"),
        ("/relative/path", "not an absolute URL"),
        ("http://", "has no host name"),
        ("https:///path", "has no host name"),
        ("http://[::1/", "not a usable URL"),
    ],
)
def test_bad_urls_and_schemes(url, reason):
    with pytest.raises(RequestFailed, match=reason):
        safe_http.request("GET", url)


def test_a_redirect_to_another_scheme_is_refused(server):
    with pytest.raises(RequestFailed, match="not file:"):
        safe_http.request("GET", server.url("/redirect"), params={"to": "file:///etc/passwd"})


def test_a_binary_body_is_kept_as_bytes(server):
    response = safe_http.request("GET", server.url("/png"))
    assert response.body == PNG
    assert response.headers["content-type"] == "image/png"
