"""The replica test's cast: the agent tests' chat model and keys, the knowledge tests'
embedding model."""

from tests.applications.conftest import acme_console, acme_key, chat, globex_key  # noqa: F401
from tests.knowledge.conftest import models  # noqa: F401
