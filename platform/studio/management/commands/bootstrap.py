"""``ministudio manage bootstrap``: the first-run data of the whole platform.

Migrations (with ``--migrate``), the installed plugins, the platform admin, the demo
workspace and the models a newcomer can use at once. Idempotent: `ministudio up` (and a
production release step) runs it on every start. It lives in ``studio``, the assembly,
because it touches every app.
"""

import os

from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.accounts.services import bootstrap
from apps.model_endpoints.guidance import HOW_TO_ADD_A_CHAT_MODEL, NO_CHAT_MODEL
from apps.model_endpoints.selectors import chat_model_registered
from apps.model_endpoints.services import seed_endpoints
from apps.plugins.services import sync_plugins
from studio.config import env_str

DEFAULT_ADMIN_EMAIL = "admin@example.com"


class Command(BaseCommand):
    help = (
        "Create the platform admin (MINISTUDIO_ADMIN_EMAIL / MINISTUDIO_ADMIN_PASSWORD, or a "
        "generated password printed once) and the demo workspace, unless they exist."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--migrate", action="store_true", help="apply migrations first (what `up` does)"
        )

    def handle(self, *args, **options) -> None:
        if options["migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        result = bootstrap(
            admin_email=env_str("MINISTUDIO_ADMIN_EMAIL") or DEFAULT_ADMIN_EMAIL,
            admin_password=env_str("MINISTUDIO_ADMIN_PASSWORD"),
        )
        if result.admin_created:
            self.stdout.write(f"Created platform admin {result.admin.email}.")
            if result.generated_password:
                # Printed to the console once, never logged: it is not stored anywhere else.
                self.stdout.write(
                    f"Generated password (shown once, change it after signing in): "
                    f"{result.generated_password}"
                )
        else:
            self.stdout.write(f"Platform admin {result.admin.email} exists; password unchanged.")
        verb = "Created" if result.demo_created else "Found"
        self.stdout.write(f"{verb} demo workspace '{result.demo_workspace.slug}'.")
        sync_plugins()
        seeded = seed_endpoints(result.demo_workspace, dict(os.environ))
        for endpoint in seeded:
            state = "registered" if endpoint.created else "present"
            self.stdout.write(f"Model {endpoint.name}: {state}, granted to the demo workspace.")
        if not chat_model_registered():
            self.stdout.write(f"{NO_CHAT_MODEL} To add one:")
            for way in HOW_TO_ADD_A_CHAT_MODEL:
                self.stdout.write(f"  - {way}")
