"""Settings for the test suite: the real settings, pointed at test services.

Postgres: the embedded server, started once per test session by ``conftest.py`` (or the
server named by DATABASE_URL). Redis: the real server at MINISTUDIO_TEST_REDIS_URL
(default ``redis://127.0.0.1:6379/15``; the suite clears that database).
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-" + "k" * 60)
os.environ.setdefault("MINISTUDIO_LOG_LEVEL", "WARNING")
EMBEDDED_TEST_DATABASE = not os.environ.get("DATABASE_URL")

from studio.config import celery_url  # noqa: E402
from studio.settings import *  # noqa: E402, F403
from studio.settings import ALLOWED_HOSTS, CACHES  # noqa: E402

TEST_REDIS_URL = os.environ.get("MINISTUDIO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REDIS_URL = TEST_REDIS_URL
CACHES["default"]["LOCATION"] = TEST_REDIS_URL
CELERY_BROKER_URL = celery_url(TEST_REDIS_URL)
CELERY_RESULT_BACKEND = celery_url(TEST_REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, tests only
STATIC_ROOT = None  # admin assets come from the finders; nothing is collected in tests
# The suite tests the start page a checkout without a console build shows; the console's
# serving is tested against a small build of its own (tests/test_pages.py).
FRONTEND_DIST = None
WHITENOISE_ROOT = None
