"""``ministudio manage export_openapi``: the console API's OpenAPI schema, without a server.

The web console's typed client is generated from it (``npm run api:types`` in
``frontend/``), and CI checks that the checked-in client is current (``npm run api:check``).
It lives beside ``bootstrap`` for the same reason: it reads every app's routes.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from studio.api import console_api


class Command(BaseCommand):
    help = "Print the console API's OpenAPI schema (JSON) to stdout, or write it to --output."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", help="write the schema to this file")

    def handle(self, *args, **options) -> None:
        schema = console_api.get_openapi_schema(path_prefix="/console/api/")
        text = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
