"""ministudio settings, read from the environment.

Every variable is listed in the README's configuration table. Defaults are safe for
production (DEBUG off); local development either sets ``DEBUG=1`` or runs ``ministudio up``,
which keeps a generated secret key under the data directory.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from studio import frontend
from studio.config import (
    DEVELOPMENT_SECRET_KEY,
    celery_url,
    data_dir,
    default_database_url,
    default_redis_url,
    env_bool,
    env_int,
    env_list,
    env_stdio_commands,
    env_str,
    read_secret_key_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = data_dir()

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY") or read_secret_key_file(DATA_DIR) or DEVELOPMENT_SECRET_KEY
if not DEBUG and (SECRET_KEY == DEVELOPMENT_SECRET_KEY or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "Refusing to start in production mode (DEBUG off) with the development secret key. "
        "Set SECRET_KEY to a long random value, set DEBUG=1 for local development, "
        "or run `ministudio up`, which generates one under MINISTUDIO_DATA_DIR."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "ninja",
    # The project itself, for its management commands (bootstrap, export_openapi).
    "studio",
    "apps.accounts",
    "apps.plugins",
    "apps.model_endpoints",
    "apps.usage",
    "apps.knowledge",
    "apps.http_tools",
    "apps.mcp_servers",
    "apps.applications",
    "apps.mcp_serving",
    "apps.batch",
    "apps.gateway",
]

MIDDLEWARE = [
    # Probes first: no Host check, no HTTPS redirect, no session (studio/probes.py).
    "studio.probes.ProbeMiddleware",
    "kernel.request_id.RequestIdMiddleware",
    "kernel.errors.ApiErrorShapeMiddleware",
    "kernel.edge.NulPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "studio.static_files.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"
WSGI_APPLICATION = "studio.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],  # studio/templates is found as the studio app's
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or default_database_url(DATA_DIR), conn_health_checks=True
    )
}
# A connection pool per process: under ASGI every request may run in a new thread, and
# persistent per-thread connections would pile up until Postgres refuses more. The pool
# bounds them and spares each request a new connection (Django closes nothing itself).
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["OPTIONS"] = {
    "pool": {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", default=16),
        "timeout": 10,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL") or default_redis_url(DATA_DIR)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "ministudio",
    }
}

AUTH_USER_MODEL = "accounts.User"
# The first refuses sign-ins while locked out (apps/accounts/throttling.py); the second
# checks the password.
AUTHENTICATION_BACKENDS = [
    "apps.accounts.throttling.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE") or "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Serve app static files (the admin's) straight from their packages, so `ministudio up`
# needs no collectstatic step; `collectstatic` still works for a CDN or a proxy.
WHITENOISE_USE_FINDERS = True

# The web console (frontend/, React): its production build is served at `/`, its hashed
# assets cached for a year, index.html never (studio/frontend.py). Without a build `/` is
# the server-rendered start page; `ministudio up` builds it when it is missing or stale. An
# installed wheel has no frontend/: MINISTUDIO_CONSOLE_DIR names the build (the image's).
FRONTEND_DIST = Path(env_str("MINISTUDIO_CONSOLE_DIR") or BASE_DIR / "frontend" / "dist")
WHITENOISE_ROOT = FRONTEND_DIST if (FRONTEND_DIST / "index.html").is_file() else None
WHITENOISE_IMMUTABLE_FILE_TEST = frontend.immutable_file
WHITENOISE_ADD_HEADERS_FUNCTION = frontend.add_headers

# Uploaded documents of knowledge bases, behind Django's storage interface (a cloud storage
# backend can replace it here). Files are kept under the data directory by default.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "documents": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "documents")},
    },
    # Batch input, output and error files (apps.batch).
    "batch_files": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "batch-files")},
    },
}
# --- knowledge bases
KNOWLEDGE_UPLOAD_MAX_BYTES = env_int("MINISTUDIO_UPLOAD_MAX_MB", default=100) * 1024 * 1024
# Texts sent to the embedding endpoint in one call while ingesting.
KNOWLEDGE_EMBEDDING_BATCH = env_int("MINISTUDIO_EMBEDDING_BATCH", default=32)
# How long an ingestion run may go without a sign of life before another worker takes over.
KNOWLEDGE_INGEST_LEASE_SECONDS = env_int("MINISTUDIO_INGEST_LEASE_SECONDS", default=300)
# Load the local embedding models knowledge bases use when the web and worker processes
# start, in the background, so that the first hit test does not pay for the load
# (apps.knowledge.warmup).
KNOWLEDGE_WARM_MODELS = env_bool("MINISTUDIO_WARM_MODELS", default=True)
# Full-text postings gathered from stores before they are merged, in one ordered pass, into
# the impact-ordered index (apps.knowledge.term_statistics.merge_postings).
KNOWLEDGE_POSTINGS_MERGE_AT = env_int("MINISTUDIO_POSTINGS_MERGE_AT", default=500_000)

# --- Agent apps: a session's history is forgotten after this long without a call.
AGENT_SESSION_IDLE_SECONDS = env_int("MINISTUDIO_SESSION_IDLE_SECONDS", default=3600)
# An app may call another published app as a tool, which may call another...: this many
# levels below the app first called, at most (a deeper call is the tool's error).
AGENT_DELEGATION_MAX_DEPTH = env_int("MINISTUDIO_DELEGATION_MAX_DEPTH", default=3)

# A request body (JSON, or an upload's form fields; files count apart) may carry this much;
# more answers 413 RequestTooLarge in the surface's error shape.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MINISTUDIO_REQUEST_MAX_MB", default=10) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Files in one upload; more answers 400 TooManyFiles and nothing of the request is stored.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("MINISTUDIO_UPLOAD_MAX_FILES", default=100)

# --- TLS: on when the platform is served over HTTPS (usually behind a reverse proxy).
HTTPS = env_bool("MINISTUDIO_HTTPS", default=False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^console/api/health$"]
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- batch inference (apps.batch): Bailian's limits on an input file.
BATCH_FILE_MAX_BYTES = env_int("MINISTUDIO_BATCH_FILE_MAX_MB", default=500) * 1024 * 1024
BATCH_FILE_MAX_LINES = env_int("MINISTUDIO_BATCH_FILE_MAX_LINES", default=50_000)
BATCH_LINE_MAX_BYTES = 6 * 1024 * 1024
# Lines of one batch in flight at once on the HTTP path (each is one upstream call).
BATCH_CONCURRENCY = env_int("MINISTUDIO_BATCH_CONCURRENCY", default=8)
# A worker running a batch renews its lease this often; a lease not renewed for
# BATCH_LEASE_SECONDS is a dead worker's, and the batch is resumed by another.
BATCH_LEASE_SECONDS = env_int("MINISTUDIO_BATCH_LEASE_SECONDS", default=60)

# --- Celery: one Redis for broker and results. The queues and the beat schedule are the
# Celery app's (workers/queues.py, workers/schedule.py); every send names its queue.
CELERY_BROKER_URL = celery_url(env_str("CELERY_BROKER_URL") or REDIS_URL)
CELERY_RESULT_BACKEND = celery_url(env_str("CELERY_RESULT_BACKEND") or REDIS_URL)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
# A task a dead worker took is handed to another worker after this long (Redis has no
# delivery tracking of its own); it must exceed the longest task (ingestion: 30 minutes).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("MINISTUDIO_BROKER_VISIBILITY_TIMEOUT", default=3600)
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Secrets at rest (plugin settings, endpoint credentials): see platform/kernel/encryption.py.
ENCRYPTION_KEYS = env_list("MINISTUDIO_ENCRYPTION_KEYS", default=[])

# --- Plugins: with strict on (CI), a plugin that fails to load is a start-up error.
PLUGINS_STRICT = env_bool("MINISTUDIO_PLUGINS_STRICT", default=False)

# --- Quotas: with Redis unreachable, refuse calls (503) unless this is on.
QUOTA_FAIL_OPEN = env_bool("MINISTUDIO_QUOTA_FAIL_OPEN", default=False)
#: Output tokens reserved at admission when a call sets no max_tokens.
QUOTA_DEFAULT_OUTPUT_RESERVATION = env_int("MINISTUDIO_QUOTA_OUTPUT_RESERVATION", default=1024)

# --- What one model call may carry (apps.gateway.input_limits), as OpenAI and DashScope
# document theirs: inputs per embeddings call (OpenAI 2,048; DashScope 25 for
# text-embedding-v1/v2, 10 for v3/v4), tokens per input (8,192) and per request (300,000);
# messages and prompt tokens per chat call.
EMBEDDING_MAX_INPUTS = env_int("MINISTUDIO_EMBEDDING_MAX_INPUTS", default=2048)
DASHSCOPE_EMBEDDING_MAX_INPUTS = env_int("MINISTUDIO_DASHSCOPE_EMBEDDING_MAX_INPUTS", default=25)
EMBEDDING_MAX_INPUT_TOKENS = env_int("MINISTUDIO_EMBEDDING_MAX_INPUT_TOKENS", default=8192)
EMBEDDING_MAX_REQUEST_TOKENS = env_int("MINISTUDIO_EMBEDDING_MAX_REQUEST_TOKENS", default=300_000)
CHAT_MAX_MESSAGES = env_int("MINISTUDIO_CHAT_MAX_MESSAGES", default=2048)
CHAT_MAX_PROMPT_TOKENS = env_int("MINISTUDIO_CHAT_MAX_PROMPT_TOKENS", default=1_000_000)

# --- API keys: how often `last_used_at` may be written for one key.
API_KEY_LAST_USED_RESOLUTION_SECONDS = 60

# --- Failed sign-ins and API keys (apps/accounts/throttling.py): counted in Redis; reaching
# a limit locks out for AUTH_LOCKOUT_SECONDS (429 + Retry-After). 0 turns a limit off.
LOGIN_FAILURES_PER_ACCOUNT = env_int("MINISTUDIO_LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_ADDRESS = env_int("MINISTUDIO_LOGIN_FAILURES_PER_ADDRESS", default=20)
API_KEY_FAILURES_PER_ADDRESS = env_int("MINISTUDIO_API_KEY_FAILURES_PER_ADDRESS", default=20)
AUTH_LOCKOUT_SECONDS = env_int("MINISTUDIO_AUTH_LOCKOUT_SECONDS", default=300)
# Proxies in front of the platform whose X-Forwarded-For entries name the client address
# failures are counted against; 0 (the default): REMOTE_ADDR as uvicorn reports it.
TRUSTED_PROXY_COUNT = env_int("MINISTUDIO_TRUSTED_PROXY_COUNT", default=0)

# --- Invitations to a workspace: their links stop working after this many days.
INVITATION_LIFETIME_DAYS = env_int("MINISTUDIO_INVITATION_DAYS", default=7)

# --- E-mail (invitation links): sent over SMTP when EMAIL_HOST is set; without it the
# console shows the link for the inviting admin to pass on.
EMAIL_HOST = env_str("EMAIL_HOST") or ""
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=not EMAIL_USE_SSL)
EMAIL_PORT = env_int("EMAIL_PORT", default=465 if EMAIL_USE_SSL else 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "ministudio <noreply@localhost>"

# --- MCP servers (apps.mcp_servers): the stdio servers workspaces may start, the platform
# admin's decision alone (see docs/mcp.md).
MCP_STDIO_COMMANDS = env_stdio_commands("MINISTUDIO_MCP_STDIO_COMMANDS")

LOG_LEVEL = (env_str("MINISTUDIO_LOG_LEVEL") or "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "kernel.request_id.RequestIdLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # One access line per request comes from uvicorn; Django's own duplicate is noise.
        "django.request": {"level": "ERROR"},
    },
}
