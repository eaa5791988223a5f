#!/usr/bin/env python
"""Django's command-line utility for ministudio (``ministudio manage`` does the same)."""

import os
import sys
from pathlib import Path


def main() -> None:
    # platform/ is a source root, not a package: put it (and the root, for workers/ and
    # plugins/) on the path instead of importing it.
    root = Path(__file__).resolve().parent
    sys.path[:0] = [str(root / "platform"), str(root)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
