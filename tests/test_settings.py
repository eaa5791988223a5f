"""Configuration from the environment, production safety, and the source layout."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from studio.config import celery_url, default_database_url, env_bool

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "x7Qm2pLw9" * 7
MANAGE = "import sys; from django.core.management import execute_from_command_line; " + (
    "execute_from_command_line(sys.argv)"
)


def run_django(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run Python with the real settings module and only the given environment."""
    base = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "studio.settings",
    }
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_platform_is_a_source_root_not_a_package():
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_the_standard_library_platform_module_still_wins():
    """Inside the Django process (this one: pytest-django has set Django up)."""
    import platform

    from django.conf import settings

    assert settings.configured
    assert Path(platform.__file__).parent == Path(sysconfig.get_paths()["stdlib"])
    assert platform.system() == os.uname().sysname


def test_the_standard_library_platform_module_wins_in_manage_py(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "import platform; print(platform.system())"],
        env={**os.environ, "DEBUG": "1", "MINISTUDIO_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == os.uname().sysname


def test_production_mode_refuses_the_development_secret_key(tmp_path):
    result = run_django("import django; django.setup()", {"MINISTUDIO_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "Refusing to start in production mode" in result.stderr


def test_an_insecure_looking_key_is_refused_too(tmp_path):
    env = {"MINISTUDIO_DATA_DIR": str(tmp_path), "SECRET_KEY": "django-insecure-abc"}
    result = run_django("import django; django.setup()", env)
    assert "Refusing to start in production mode" in result.stderr


def test_debug_mode_runs_with_the_development_key(tmp_path):
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    result = run_django(code, {"MINISTUDIO_DATA_DIR": str(tmp_path), "DEBUG": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_the_key_file_written_by_up_is_used(tmp_path):
    (tmp_path / "secret_key").write_text(STRONG_KEY)
    code = (
        "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY)"
    )
    result = run_django(code, {"MINISTUDIO_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == STRONG_KEY


def test_check_deploy_is_clean_with_the_production_variables(tmp_path):
    env = {
        "MINISTUDIO_DATA_DIR": str(tmp_path),
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "studio.example.com",
        "MINISTUDIO_HTTPS": "1",
        "DATABASE_URL": "postgres://u:p@db.example.com/ministudio",
        "REDIS_URL": "redis://cache.example.com:6379/0",
    }
    result = run_django(MANAGE, env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_a_plain_http_setup(tmp_path):
    env = {"MINISTUDIO_DATA_DIR": str(tmp_path), "SECRET_KEY": STRONG_KEY}
    result = run_django(MANAGE, env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stderr + result.stdout


def test_a_malformed_boolean_is_an_error_not_a_guess(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ValueError, match="DEBUG must be one of"):
        env_bool("DEBUG", default=False)


@pytest.mark.parametrize(
    ("redis_url", "expected"),
    [
        ("redis://127.0.0.1:6379/3", "redis://127.0.0.1:6379/3"),
        (
            "unix:///srv/var/redis/redis.sock",
            "redis+socket:///srv/var/redis/redis.sock?virtual_host=0",
        ),
        ("unix:///r.sock?db=2", "redis+socket:///r.sock?virtual_host=2"),
    ],
)
def test_redis_urls_are_translated_for_celery(redis_url, expected):
    assert celery_url(redis_url) == expected


def test_the_default_database_is_the_embedded_socket():
    url = default_database_url(Path("/srv/ministudio/var"))
    assert url == "postgres://postgres@%2Fsrv%2Fministudio%2Fvar%2Fpostgres/ministudio"
