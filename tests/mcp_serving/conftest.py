"""The agent-app fixtures (a chat model on the scripted upstream, acme's console, keys of
acme and globex) and the knowledge fixtures' embedding model, reused."""

from tests.applications.conftest import acme_console, acme_key, chat, globex_key  # noqa: F401
from tests.knowledge.conftest import models  # noqa: F401
