"""The entry points in pyproject.toml name real plugin classes the platform will accept.

These are the checks discovery makes at start-up (import, base class, contract version,
``check_contract``), run here without installing anything.
"""

import importlib
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from plugins.base import BASE_CLASSES, CONTRACT_VERSION

PYPROJECT = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
GROUPS = {"ministudio.loaders": "loader", "ministudio.tools": "tool", "ministudio.models": "model"}
DECLARED = [
    (GROUPS[group], name, target)
    for group, points in PYPROJECT["project"]["entry-points"].items()
    for name, target in points.items()
]


def test_declares_the_two_plugins():
    assert sorted((kind, name) for kind, name, _ in DECLARED) == [
        ("loader", "eml"),
        ("tool", "unit_converter"),
    ]


@pytest.mark.parametrize(("kind", "name", "target"), DECLARED)
def test_entry_point_is_a_plugin_the_platform_accepts(kind, name, target):
    module_name, _, attribute = target.partition(":")
    plugin_class = getattr(importlib.import_module(module_name), attribute)
    assert issubclass(plugin_class, BASE_CLASSES[kind])
    assert Version(CONTRACT_VERSION) in SpecifierSet(plugin_class.supported_contract)
    plugin_class.check_contract()
