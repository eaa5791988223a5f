"""The wheel the image installs carries everything the platform needs at run time.

The image runs from ``pip install <the wheel>``, not from a checkout: a module, migration,
template or Lua script that setuptools leaves out works in every test here and fails in
production. So: build the wheel from the tracked files and compare."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where each tracked source tree lands inside the wheel (pyproject's package-dir).
PACKAGES = {
    "platform/studio/": "studio/",
    "platform/apps/": "apps/",
    "plugins/": "plugins/",
    "workers/": "workers/",
}


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [name for name in listing.stdout.splitlines() if (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    source = tmp_path_factory.mktemp("source")
    for name in tracked_files():  # a clean tree: no build/ or egg-info of the checkout
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("ministudio-*.whl")
    return zipfile.ZipFile(built)


def test_every_runtime_file_is_in_the_wheel(wheel):
    inside = set(wheel.namelist())
    expected = {
        installed + name.removeprefix(tree)
        for name in tracked_files()
        for tree, installed in PACKAGES.items()
        if name.startswith(tree) and "/tests/" not in name
    }
    assert len(expected) > 100  # the mapping above found the sources
    assert sorted(expected - inside) == []


def test_the_wheel_declares_the_command_and_the_builtin_plugins(wheel):
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "ministudio = studio.cli:main" in text
    assert "[ministudio.models]" in text and "[ministudio.loaders]" in text
