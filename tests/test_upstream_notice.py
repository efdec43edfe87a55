"""The notice on a copy whose original changed says why it changed (the original's edit
summaries since the copy's base) and shows only the changed passages with a few words either
side; the full comparison is behind a disclosure."""

from __future__ import annotations

import re

from kb.accounts.demo import DEMO_PASSWORD
from kb.entries.diffs import ELLIPSIS, word_diff
from tests.editor_support import entry_by_slug
from tests.merge_support import demo_email, revise
from tests.test_borrowing_merge import CLEAN, CLEAN_ORG, CLEAN_SOURCE
from tests.web import signed_in, text


def _notice(page: str) -> str:
    match = re.search(r'<section class="notice notice-update".*?</section>', page, re.S)
    return match.group(0) if match else ""


def _passages(notice: str) -> str:
    found = re.search(r'<div class="changed-passages">(.*?)</div>\s*<details', notice, re.S)
    return found.group(1) if found else ""


def _source_revisions(store):
    return {r.number: r for r in entry_by_slug(store, CLEAN_SOURCE).revisions}


def test_the_notice_quotes_the_originals_edit_summaries(catalogue_app, store):
    member = signed_in(catalogue_app, demo_email(CLEAN_ORG), DEMO_PASSWORD)
    notice = _notice(text(member.get(f"/entries/{CLEAN}")))
    summary = _source_revisions(store)[2].edit_summary
    assert summary
    assert re.search(r"<li>Revision 2, <time[^>]*>[^<]+</time>: “" + re.escape(summary) + "”",
                     notice)  # fmt: skip
    assert "<li>Revision 1," not in notice, "the copy's base is not a change since"


def test_every_revision_since_the_base_is_listed_in_order(catalogue_app, store):
    source = entry_by_slug(store, CLEAN_SOURCE)
    revise(store, source, summary=source.summary + " Now with a map.")
    store.commit()
    member = signed_in(catalogue_app, demo_email(CLEAN_ORG), DEMO_PASSWORD)
    notice = _notice(text(member.get(f"/entries/{CLEAN}")))
    listed = re.findall(r"<li>Revision (\d+),", notice)
    assert listed == ["2", "3"]
    assert "“Revised for the test”" in notice


def test_only_changed_passages_show_with_context_and_the_rest_is_folded(catalogue_app, store):
    source = entry_by_slug(store, CLEAN_SOURCE)
    member = signed_in(catalogue_app, demo_email(CLEAN_ORG), DEMO_PASSWORD)
    notice = _notice(text(member.get(f"/entries/{CLEAN}")))
    passages = _passages(notice)
    assert "[added: </span>" in passages
    base, now = _source_revisions(store)[1].body, source.current_revision.body
    unchanged = re.sub(r"<[^>]+>", "", passages)
    assert len(unchanged) < len(now) / 2, "only the passages, not the whole text"
    assert ELLIPSIS in passages
    # The whole comparison is one disclosure away, closed.
    full = re.search(r'<details class="upstream-changes">(.*?)</details>', notice, re.S).group(1)
    assert "What changed in the original (revision 1 to 2), in full" in full
    assert len(re.sub(r"<[^>]+>", "", full)) > len(unchanged)
    assert base != now


def test_passages_keep_a_few_words_either_side_and_join_close_changes():
    old = " ".join(f"w{i}" for i in range(100))
    new = old.replace("w10 ", "ten ").replace("w15 ", "fifteen ").replace("w80 ", "eighty ")
    first, second = word_diff(old, new).passages()
    assert "".join(text for _kind, text in first).startswith("w0 w1")  # all 10 words before
    assert ("added", "ten") in first and ("added", "fifteen") in first  # 4 words apart: joined
    assert first[-1] == ("same", " w16 w17 w18 w19 w20 w21 w22 w23 w24 w25 w26 w27 " + ELLIPSIS)
    assert second[0] == ("same", ELLIPSIS + " w68 w69 w70 w71 w72 w73 w74 w75 w76 w77 w78 w79 ")
    assert ("removed", "w80") in second and ("added", "eighty") in second


def test_an_unchanged_text_has_no_passages():
    assert word_diff("same words", "same words").passages() == []
