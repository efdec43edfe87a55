"""kb/rendering_limits.py: hostile texts render in time proportional to their length, or are
refused with a message; ordinary links render exactly as Python-Markdown renders them.

The render budget below (5 seconds) is far above what these texts need once linear (well
under a second) and far below what the quadratic paths took (minutes), so a regression fails
with "refused" instead of passing slowly.
"""

from __future__ import annotations

import time

import markdown
import pytest
from bleach import html5lib_shim
from bleach.linkifier import URL_RE

from kb.rendering import RenderRefused, render_markdown
from kb.rendering_limits import (
    LINKIFY_URL,
    MAX_DEPTH,
    WALL_CLOCK_SLACK,
    Budget,
    Limits,
    LinearTreeWalker,
)

GENEROUS = 5.0

# Texts that took minutes before; each must now render, as the literal text it is.
BRACKETS = {
    "[ run": "[" * 60_000,
    "![ run": "![" * 30_000,
    "[ with spaces": "[ " * 30_000,
    "[a]( run": "[a](" * 15_000,
    "[]( run": "[](" * 20_000,
    "nested [[[a](b)](b)](b)": "[" * 5_000 + "a" + "](b)" * 5_000,
}


@pytest.mark.parametrize("name", BRACKETS)
def test_bracket_runs_render_in_linear_time(name):
    html = str(render_markdown(BRACKETS[name], seconds=GENEROUS))
    assert html.startswith("<p>")


def test_a_run_of_brackets_renders_as_the_brackets():
    assert str(render_markdown("[" * 60_000, seconds=GENEROUS)) == "<p>" + "[" * 60_000 + "</p>"


WALKED = [
    "# Title\n\nText with *emphasis*, a [link](https://example.org) and `code`.",
    "- one\n- two\n    - nested\n\n1. first\n2. second",
    "| a | b |\n|---|---|\n| x | y |\n| z | w |",
    "> quote\n\n```\ncode\n```\n\nTail <b>bold</b> text.",
]


@pytest.mark.parametrize("text", WALKED)
def test_the_linear_tree_walker_walks_as_html5lib_does(text):
    html = markdown.markdown(text, extensions=["tables", "fenced_code"])
    tree = html5lib_shim.BleachHTMLParser(
        tags=None, strip=False, consume_entities=False, namespaceHTMLElements=False
    ).parseFragment(html)
    assert list(LinearTreeWalker(tree)) == list(html5lib_shim.getTreeWalker("etree")(tree))


def _markdown(text: str, limits: bool) -> str:
    extensions = ["tables", "sane_lists"] + (
        [Limits(Budget(GENEROUS, len(text)))] if limits else []
    )
    return markdown.markdown(text, extensions=extensions)


LINKS = [
    "[a link](https://example.org/page) and [another](/entries/x 'Title')",
    "[nested [brackets] [twice [deep]]](https://example.org/x)",
    '[quotes](https://example.org/a "a (title)") and [b](<https://example.org/b c>)',
    "[parens](https://en.example.org/wiki/Foo_(bar)) and [unbalanced](https://x.example/(a)",
    '[backtrack](link"notitle) and [x](y "t")',
    "![an image](/static/img.png) ![ref image][pic] and [ref][site], [site] and [Site][]",
    "[site]: https://example.org\n[pic]: /static/pic.png 'Pic'",
    "an unmatched [ bracket, [a closed one] and [one](https://example.org) after",
    "[" * 8 + "deep" + "]" * 8 + "(https://example.org/deep)",
    "[text with *emphasis* and `code [x]`](https://example.org) \\[escaped\\]",
    "| [a](https://example.org) | [b][site] |\n|---|---|\n| [c] | ![d](/e.png) |",
]


@pytest.mark.parametrize("text", LINKS)
def test_ordinary_links_render_exactly_as_upstream(text):
    text = text + "\n\n[site]: https://example.org\n[pic]: /static/pic.png"
    assert _markdown(text, limits=True) == _markdown(text, limits=False)


def test_link_text_nested_deeper_than_the_limit_is_not_a_link():
    text = "[" * 12 + "x" + "]" * 12 + "(https://example.org)"
    assert "<a " in _markdown(text, limits=False)
    assert "<a " not in _markdown(text, limits=True)


ADDRESSES = [
    "see example.org.", "(((http://example.org/a(b)c)))", "((((( x", "a.b.c.example.com/path?q=(1)",
    "mail me at a@b.example.org", "(example.org) and (https://x.example.org/y)", "((((((",
]  # fmt: skip


@pytest.mark.parametrize("text", ADDRESSES)
def test_linkify_pattern_finds_what_bleach_finds(text):
    def spans(pattern):
        return [m.span() for m in pattern.finditer(text)]

    assert spans(LINKIFY_URL) == spans(URL_RE)


def test_a_text_over_the_time_budget_is_refused_with_a_message():
    table = "| a | b |\n|---|---|\n" + "| x | y |\n" * 5_000
    with pytest.raises(RenderRefused, match="too complex to display"):
        render_markdown(table, seconds=0.01)


def test_the_budget_counts_the_render_s_own_cpu_time_with_the_clock_as_a_backstop():
    """Waiting for a busy machine costs the text nothing; its own work does; and however
    little work, a render is stopped once the clock passes the slack."""
    budget = Budget(0.2, 0)
    time.sleep(0.3)  # longer than the budget on the clock, but no CPU time at all
    budget.check()
    spinning = time.perf_counter()
    while time.thread_time() < budget.deadline and time.perf_counter() - spinning < 5:
        pass
    with pytest.raises(RenderRefused, match="too complex to display"):
        budget.check()

    waiting = Budget(0.1, 0)
    time.sleep(0.1 * WALL_CLOCK_SLACK + 0.05)
    with pytest.raises(RenderRefused):
        waiting.check()


DEEP = {
    "emphasis": "*" * 3_000 + "a" + "*" * 3_000,
    "raw HTML": "<blockquote>" * (MAX_DEPTH + 5) + "a",
    "list": "\n".join("    " * depth + "- item" for depth in range(MAX_DEPTH)),
    "quotes": ">" * (MAX_DEPTH + 5) + " a",
}


@pytest.mark.parametrize("name", DEEP)
def test_deep_nesting_is_refused(name):
    with pytest.raises(RenderRefused, match="nested too deeply"):
        render_markdown(DEEP[name], seconds=GENEROUS)


def test_ordinary_nesting_is_fine():
    text = "\n".join("    " * depth + "- **item *with* [a link](https://x.example)**"
                     for depth in range(8))  # fmt: skip
    assert str(render_markdown(text)).count("<ul>") == 8
