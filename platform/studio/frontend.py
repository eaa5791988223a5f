"""The web console: the production build of ``frontend/`` (React, Vite), served at ``/``.

``frontend/dist`` holds ``index.html`` and hashed assets under ``assets/``. WhiteNoise serves
the files (``WHITENOISE_ROOT``): hashed assets are cached for a year, everything else
briefly, ``index.html`` never. Any other GET outside the API, admin and static prefixes
answers ``index.html`` so the client's router can show the page (``views.console``).
Without a build, ``/`` is the server-rendered start page.

``ministudio up`` builds the console first when the build is missing or older than its
sources (``build_is_stale``).
"""

import re
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

#: Vite's output for ``assets/``: a content hash in every name (``index-B3x_9qZa.js``).
_HASHED_ASSET = re.compile(r"^/assets/.+-[A-Za-z0-9_-]{8,}\.[A-Za-z0-9]+$")

#: What a build depends on, relative to ``frontend/``: a change to any of them is a rebuild.
BUILD_INPUTS = (
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
)


def dist_dir() -> Path | None:
    """The console's build directory, or None when there is no build to serve."""
    dist = getattr(settings, "FRONTEND_DIST", None)
    if dist is None or not (Path(dist) / "index.html").is_file():
        return None
    return Path(dist)


def immutable_file(path: str, url: str) -> bool:
    """WhiteNoise's test for files that may be cached forever: hashed console assets."""
    return bool(_HASHED_ASSET.match(url))


def add_headers(headers, path: str, url: str) -> None:
    """``index.html`` names the current assets: browsers must ask for it every time."""
    if url.endswith(".html") or url == "/":
        headers["Cache-Control"] = "no-cache"


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path


def build_is_stale(frontend: Path) -> bool:
    """True when ``frontend/dist`` is missing or older than any of its sources."""
    index = frontend / "dist" / "index.html"
    if not index.is_file():
        return True
    built = index.stat().st_mtime
    return any(f.stat().st_mtime > built for f in _files(frontend / name for name in BUILD_INPUTS))
