"""``ministudio manage bootstrap``: migrations, the platform admin and the demo workspace.

Idempotent: `ministudio up` runs it on every start.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.accounts.services import bootstrap
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
