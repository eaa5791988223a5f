"""The test harness: real Postgres (embedded, once per session), real Redis, and the cast.

The cast, as in healthchecks.io's tests: alice is admin of workspace "acme", charlie a
developer there and vera a viewer; bob is admin of workspace "globex"; root is a platform
admin who belongs to nothing.
"""

import pytest
from django.conf import settings
from django.core.cache import cache

from apps.accounts.models import Membership, Role, User, Workspace
from kernel import config_cache
from studio.cli.embedded import start_postgres
from tests.console import ConsoleClient

PASSWORD = "correct horse battery staple"

# The scripted upstream model server (the suite's one fake): the `upstream` fixture.
# The platform on a live ASGI server, with models granted to acme: `platform_url`, `granted`.
pytest_plugins = ["tests.upstream", "tests.gateway_fixtures", "tests.mcp_servers.fixtures"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    if not settings.EMBEDDED_TEST_DATABASE:
        yield
        return
    postgres = start_postgres(tmp_path_factory.mktemp("embedded"), database="")
    settings.DATABASES["default"].update(
        HOST=str(postgres.socket_dir), PORT="", USER="postgres", PASSWORD="", NAME="ministudio"
    )
    yield
    postgres.stop()


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty test Redis database, and no configuration cached
    from an earlier test's rows."""
    cache.clear()
    config_cache.clear()


def make_user(email: str, *, staff: bool = False) -> User:
    name = email.split("@")[0].capitalize()
    if staff:
        return User.objects.create_superuser(email, PASSWORD, name=name)
    return User.objects.create_user(email, PASSWORD, name=name)


def make_member(user: User, workspace: Workspace, role: Role) -> Membership:
    return Membership.objects.create(user=user, workspace=workspace, role=role)


@pytest.fixture
def acme(db) -> Workspace:
    return Workspace.objects.create(name="Acme", slug="acme")


@pytest.fixture
def globex(db) -> Workspace:
    return Workspace.objects.create(name="Globex", slug="globex")


@pytest.fixture
def alice(acme) -> User:
    user = make_user("alice@example.com")
    make_member(user, acme, Role.ADMIN)
    return user


@pytest.fixture
def charlie(acme) -> User:
    user = make_user("charlie@example.com")
    make_member(user, acme, Role.DEVELOPER)
    return user


@pytest.fixture
def vera(acme) -> User:
    user = make_user("vera@example.com")
    make_member(user, acme, Role.VIEWER)
    return user


@pytest.fixture
def bob(globex) -> User:
    user = make_user("bob@example.com")
    make_member(user, globex, Role.ADMIN)
    return user


@pytest.fixture
def root(db) -> User:
    return make_user("root@example.com", staff=True)


@pytest.fixture
def console() -> ConsoleClient:
    return ConsoleClient()
