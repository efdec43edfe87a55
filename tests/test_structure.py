"""How the code is arranged, checked so it stays that way.

- Features depend downward only: search is infrastructure every feature may use; borrowing
  builds on entries and organisations; the account pages show what waits in borrowing; admin
  sits on top. A package may import a package below it, never one above (so entries never
  imports borrowing).
- Views refuse through ``kb/permissions.py`` (``require``), never with a bare 403 of their own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kb.config import ROOT

LAYERS = ("search", "entries", "orgs", "borrowing", "browse", "accounts", "admin")


def _imports(path: Path) -> set[str]:
    """The kb feature packages ``path`` imports, at any depth of the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if len(parts) > 1 and parts[0] == "kb" and parts[1] in LAYERS:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_no_feature_imports_a_feature_above_it(package):
    above = set(LAYERS[LAYERS.index(package) + 1 :])
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & above)
        for path in sorted((ROOT / "kb" / package).glob("*.py"))
        if _imports(path) & above
    }
    assert wrong == {}


def test_only_permissions_answers_403():
    bare = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "kb").rglob("*.py"))
        if path.name != "permissions.py" and "abort(403)" in path.read_text()
    ]
    assert bare == []
