"""Replicas on one machine: two web processes (``ministudio web``) and two workers
(``ministudio worker``) on one Postgres + Redis, the web processes behind a round-robin
proxy on loopback, as a deployment runs them. Through the proxy:

- a quota of L requests a minute admits exactly L across both replicas under concurrent load;
- a streaming app call streams;
- 50 uploaded documents are ingested by both workers, each once, none lost;
- an app session, and a console sign-in, continue from one replica on the other.
"""

import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from apps.accounts.models import ApiKey
from apps.accounts.services import revoke_api_key
from apps.knowledge.models import Chunk, Document, DocumentStatus
from apps.usage.models import Quota
from tests.applications.conftest import make_app, publish
from tests.round_robin import RoundRobinProxy
from tests.upstream import stream
from tests.worker_process import free_port, start_web, start_worker, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A worker's log line for each document ingestion makes ready.
INGESTED = re.compile(r"Document ([0-9a-f-]{36}) ready")


@dataclass
class Deployment:
    proxy: RoundRobinProxy
    worker_logs: list[Path]

    @property
    def url(self) -> str:
        return self.proxy.url

    def backend_of(self, call) -> tuple[str, int]:
        """Which web process served ``call()`` (one new connection through the proxy)."""
        before = Counter(self.proxy.connections)
        call()
        [backend] = (Counter(self.proxy.connections) - before).keys()
        return backend


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def deployment(tmp_path, chat) -> Deployment:
    ports = [free_port(), free_port()]
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("web1", "web2", "w1", "w2")}
    processes = [
        start_web(ports[0], log=logs["web1"]),
        start_web(ports[1], log=logs["web2"]),
        start_worker("ingest,default", log=logs["w1"]),
        start_worker("ingest,default", log=logs["w2"]),
    ]
    try:
        for port in ports:
            wait_for(lambda port=port: healthy(port), 60, f"the web process on {port}")
        with RoundRobinProxy([("127.0.0.1", port) for port in ports]) as proxy:
            yield Deployment(proxy, [tmp_path / "w1.log", tmp_path / "w2.log"])
    finally:
        for process in processes:
            stop(process)
        for log in logs.values():
            log.close()


def fresh_connection(**kwargs) -> httpx.Client:
    """A client that opens a new connection per request, so the proxy spreads them."""
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30, **kwargs)


def test_a_quota_admits_exactly_its_limit_across_both_replicas(deployment, globex, globex_key):
    limit = 24
    Quota.objects.create(workspace=globex, requests_per_minute=limit)

    def call(_: int) -> int:
        with fresh_connection() as client:
            return client.post(
                f"{deployment.url}/compatible-mode/v1/chat/completions",
                json={"model": "agent-chat", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {globex_key}"},
            ).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = Counter(pool.map(call, range(3 * limit)))
    assert statuses == {200: limit, 429: 2 * limit}
    per_backend = list(deployment.proxy.connections.values())
    assert len(per_backend) == 2 and min(per_backend) >= limit  # both replicas took their share


def test_a_revoked_key_is_refused_by_every_replica_at_once(deployment, globex, globex_key):
    """Each replica keeps the key it has seen in its process (no database query per call);
    revoking it binds the very next call in both."""
    body = {"model": "agent-chat", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {globex_key}"}

    def statuses() -> list[int]:
        return [
            httpx.post(
                f"http://{host}:{port}/compatible-mode/v1/chat/completions",
                json=body,
                headers=headers,
                timeout=30,
            ).status_code
            for host, port in deployment.proxy.backends
        ]

    assert statuses() == [200, 200]
    assert statuses() == [200, 200]  # now from each process's cache
    revoke_api_key(ApiKey.objects.get(workspace=globex))
    assert statuses() == [401, 401]


def test_a_streaming_app_call_streams_through_the_proxy(
    deployment, acme_console, acme_key, upstream
):
    app = make_app(acme_console, system_prompt="Be brief.")
    publish(acme_console, app["id"])
    upstream.script("chat", stream(["The ", "answer ", "is 42."], delay=0.3))
    started, arrivals, pieces = time.monotonic(), [], []
    with httpx.stream(
        "POST",
        f"{deployment.url}/api/v1/apps/{app['id']}/completion",
        json={"input": {"prompt": "6*7?"}, "parameters": {"incremental_output": True}},
        headers={"Authorization": f"Bearer {acme_key}", "X-DashScope-SSE": "enable"},
        timeout=30,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                text = json.loads(line[len("data:") :])["output"]["text"]
                if text:
                    arrivals.append(time.monotonic() - started)
                    pieces.append(text)
    assert "".join(pieces) == "The answer is 42."
    assert arrivals[-1] - arrivals[0] >= 0.4  # each piece as it came, not all at the end


def test_fifty_documents_are_ingested_by_both_workers_each_once(deployment, acme_key):
    auth = {"Authorization": f"Bearer {acme_key}", "X-Workspace": "acme"}
    with fresh_connection(headers=auth) as client:
        created = client.post(
            f"{deployment.url}/console/api/knowledge-bases",
            json={
                "name": "Handbook",
                "chunking": {"mode": "length", "chunk_size": 64, "chunk_overlap": 0},
            },
        )
        assert created.status_code == 201, created.text
        kb = created.json()["id"]
        for i in range(50):
            text = "\n\n".join(f"Document {i}, paragraph {p}: topic {i * 7 + p}." for p in range(4))
            uploaded = client.post(
                f"{deployment.url}/console/api/knowledge-bases/{kb}/documents",
                files={"files": (f"doc-{i}.txt", text.encode(), "text/plain")},
            )
            assert uploaded.status_code == 202, uploaded.text
    assert len(deployment.proxy.connections) == 2  # uploads reached both web processes

    documents = Document.objects.filter(knowledge_base_id=kb)
    wait_for(
        lambda: (
            documents.filter(status=DocumentStatus.READY).count() == 50
            or documents.filter(status=DocumentStatus.FAILED).exists()
        ),
        180,
        "50 documents to be ready",
    )
    assert documents.filter(status=DocumentStatus.READY).count() == 50
    for document in documents:
        ordinals = list(Chunk.objects.filter(document=document).values_list("ordinal", flat=True))
        assert document.chunk_count > 0
        assert sorted(ordinals) == list(range(document.chunk_count))  # stored once, none lost

    ingested_by = [
        INGESTED.findall(log.read_text()) for log in deployment.worker_logs
    ]  # document ids, per worker
    assert all(ingested_by), "both workers should have ingested documents"
    every = [document_id for ids in ingested_by for document_id in ids]
    assert sorted(every) == sorted(str(pk) for pk in documents.values_list("pk", flat=True))


def test_an_app_session_continues_on_the_other_replica(
    deployment, acme_console, acme_key, upstream
):
    app = make_app(acme_console, system_prompt="Remember names.")
    publish(acme_console, app["id"])
    answers = []

    def call(prompt: str, session_id: str | None = None):
        body = {"input": {"prompt": prompt, **({"session_id": session_id} if session_id else {})}}
        with fresh_connection() as client:
            response = client.post(
                f"{deployment.url}/api/v1/apps/{app['id']}/completion",
                json=body,
                headers={"Authorization": f"Bearer {acme_key}"},
            )
        assert response.status_code == 200, response.text
        answers.append(response.json())

    first = deployment.backend_of(lambda: call("My name is Ada."))
    session_id = answers[0]["output"]["session_id"]
    second = deployment.backend_of(lambda: call("Who am I?", session_id))
    assert first != second
    assert answers[1]["output"]["session_id"] == session_id
    sent = upstream.requests_for("chat")[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == [
        "My name is Ada.",
        "echo: My name is Ada.",
        "Who am I?",
    ]


def test_a_console_sign_in_holds_on_every_replica(deployment, alice):
    # The web processes run the production settings: a hash of theirs, not the tests' MD5.
    hasher = PBKDF2PasswordHasher()
    alice.password = hasher.encode("correct horse battery staple", hasher.salt(), iterations=1000)
    alice.save()
    with fresh_connection(base_url=f"{deployment.url}/console/api") as client:
        client.get("/auth/csrf")
        signed_in = client.post(
            "/auth/login",
            json={"email": alice.email, "password": "correct horse battery staple"},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        assert signed_in.status_code == 200, signed_in.text
        answers = []
        backends = {
            deployment.backend_of(lambda: answers.append(client.get("/auth/me"))) for _ in range(4)
        }
    assert [(me.status_code, me.json()["user"]["email"]) for me in answers] == [
        (200, alice.email)
    ] * 4
    assert len(backends) == 2
