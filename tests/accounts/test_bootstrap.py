"""First-run data: the platform admin and the demo workspace, created once."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import Membership, Role, User, Workspace

pytestmark = pytest.mark.django_db


def bootstrap(monkeypatch, **env) -> str:
    monkeypatch.delenv("MINISTUDIO_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("MINISTUDIO_ADMIN_EMAIL", raising=False)
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
