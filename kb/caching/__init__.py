"""Caching public pages for anonymous readers, kept in step with the catalogue.

``versions.py`` moves the catalogue's version in every transaction that changes something an
anonymous reader can see; ``pages.py`` turns it into HTTP validators and serves pages other
workers rendered under the same version from ``store.py``, a folder of pages on disk.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import Flask

from kb.caching import pages, versions  # noqa: F401 - versions registers its listeners
from kb.config import ROOT


def init_app(app: Flask) -> None:
    app.config.setdefault("CODE_VERSION", code_version())
    if app.debug:  # templates reload as they are edited; a stored page would hide the edit
        app.config["PAGE_CACHE"] = False
    app.config["PAGE_CACHE_DIR"] = Path(app.config["PAGE_CACHE_DIR"])
    pages.init_app(app)


@functools.cache
def code_version() -> str:
    """Changes whenever the code or templates do, so a new release never answers ``304``
    for a page an older one rendered."""
    digest = hashlib.sha256()
    for folder in ("kb", "templates"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".py", ".html", ".txt", ".xml"}:
                stat = path.stat()
                stamp = f"{path.relative_to(ROOT)}|{stat.st_size}|{stat.st_mtime_ns}"
                digest.update(stamp.encode())
    return digest.hexdigest()[:12]
