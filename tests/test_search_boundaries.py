"""The search engine stays behind one door, and is the distribution we pinned.

CI runs these with the rest of the suite, so installing another ``whoosh`` distribution beside
``whoosh-reloaded`` (the 2016 ``Whoosh`` or one of the newer forks) fails the build.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import whoosh

from kb.config import ROOT

PINNED = ("Whoosh-Reloaded", "2.7.5")
_IMPORTS_WHOOSH = re.compile(r"^\s*(?:from|import)\s+whoosh\b", re.MULTILINE)


def test_only_the_pinned_distribution_provides_whoosh():
    providers = importlib.metadata.packages_distributions().get("whoosh", [])
    assert providers == [PINNED[0]], f"whoosh is installed by {providers}; only {PINNED[0]}"
    assert importlib.metadata.version(PINNED[0]) == PINNED[1]


def test_the_imported_module_is_the_pinned_distributions_own():
    files = importlib.metadata.distribution(PINNED[0]).files or []
    installed = {Path(f.locate()).resolve() for f in files}
    assert Path(whoosh.__file__).resolve() in installed


def test_pyproject_pins_the_same_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert f"whoosh-reloaded=={PINNED[1]}" in project["project"]["dependencies"]


def test_only_kb_search_imports_whoosh():
    outside = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "kb").rglob("*.py")
        if "search" not in path.relative_to(ROOT / "kb").parts[:1]
        and _IMPORTS_WHOOSH.search(path.read_text())
    ]
    assert outside == []


def test_the_boundary_check_can_fail():
    assert _IMPORTS_WHOOSH.search("from whoosh import index\n")
    assert _IMPORTS_WHOOSH.search("    import whoosh.query as Q\n")
    assert not _IMPORTS_WHOOSH.search("# whoosh is only used in kb/search\n")
