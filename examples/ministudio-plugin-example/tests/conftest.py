"""Makes these tests exercise this folder's source, whether or not it is pip-installed.

Without it, ``import ministudio_plugin_example`` finds the copy pip installed last, and an
edit would go untested until the next ``pip install``. No fixtures live here: the tests
need nothing from the platform but ``plugins.base``.
"""

import sys
from pathlib import Path

SOURCE = str(Path(__file__).resolve().parent.parent)
if SOURCE not in sys.path:
    sys.path.insert(0, SOURCE)
