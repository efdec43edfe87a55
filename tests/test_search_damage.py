"""A damaged index is noticed, reported and rebuilt by itself; meanwhile every page that
searches says so, and saving goes on. Never a 500, never a silent "0 results".
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from kb.accounts.demo import DEMO_PASSWORD
from tests.editor_support import entry_data, slug_from
from tests.search_support import found, index_of
from tests.web import csrf_token, sign_in

EDITOR = "editor@eastmarch-police.example"


def _toc(folder: Path) -> Path:
    return max((folder / "public").glob("_MAIN_*.toc"), key=lambda p: int(p.stem.split("_")[-1]))


def _largest(folder: Path, suffix: str) -> Path:
    return max((folder / "public").glob(f"MAIN_*{suffix}"), key=lambda p: p.stat().st_size)


def _overwrite(path: Path) -> None:
    """Garble ``path`` in place, keeping its size, as a failing disk or a stray tool might."""
    garbage = random.Random(path.name).randbytes(path.stat().st_size)
    with open(path, "r+b") as handle:
        handle.write(garbage)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda folder: _overwrite(_toc(folder)), id="table-of-contents"),
        pytest.param(lambda folder: _overwrite(_largest(folder, ".trm")), id="term-table"),
        pytest.param(lambda folder: _overwrite(_largest(folder, ".pst")), id="postings"),
        pytest.param(lambda folder: _overwrite(_largest(folder, "_stored.col")), id="stored"),
    ],
)
def test_a_damaged_index_says_so_then_rebuilds_itself(catalogue_app, damage, caplog):
    client = catalogue_app.test_client()
    assert "police" and found(client, "police")  # searched (and so opened) before the damage
    index = index_of(catalogue_app)
    damaged = index.live_folder()
    damage(damaged)

    check = catalogue_app.test_cli_runner().invoke(args=["index-check"])
    assert check.exit_code == 1
    assert "damaged:" in check.stderr and "Traceback" not in check.output + check.stderr

    page = client.get("/search?q=police")
    assert page.status_code == 503
    assert "Search is catching up" in page.text and "Browse by sector" in page.text
    assert page.headers["Retry-After"]
    similar = client.get("/search/similar", query_string={"title": "Police staff on social media"})
    assert similar.status_code == 200 and "cannot be checked just now" in similar.text
    entry = client.get("/entries/coastal-storm-evacuation-social-media-response")
    assert entry.status_code == 200  # without "related across sectors", nothing else lost

    editor = catalogue_app.test_client()
    assert sign_in(editor, EDITOR, DEMO_PASSWORD).status_code == 302
    new = entry_data(title="Saved while search was mending", similar_dismissed="1",
                     csrf_token=csrf_token(editor, "/entries/new?kind=guidance"))  # fmt: skip
    saved = slug_from(editor.post("/entries/new?kind=guidance", data=new))

    assert index.wait_for_repair(timeout=60)
    assert index.live_folder() != damaged
    assert "is damaged" in caplog.text  # logged once, with the cause
    assert found(client, "police")
    assert found(editor, "mending") == [saved]
    again = catalogue_app.test_cli_runner().invoke(args=["index-check"])
    assert again.exit_code == 0, again.output + again.stderr


def test_a_file_replaced_under_open_searchers_is_noticed(catalogue_app):
    """Not only garbled in place: a file swapped for another of the same size is checked too."""
    client = catalogue_app.test_client()
    assert found(client, "podcast")
    folder = index_of(catalogue_app).live_folder()
    target = _largest(folder, ".trm")
    replacement = target.with_name("replacement.tmp")
    replacement.write_bytes(bytes(target.stat().st_size))
    os.replace(replacement, target)
    assert client.get("/search?q=podcast").status_code == 503
    assert index_of(catalogue_app).wait_for_repair(timeout=60)
    assert found(client, "podcast")
