"""kb/rendering.py: ordinary Markdown renders; 149 attack vectors in four placements do not."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kb.rendering import marked, plain_text, render_markdown

VECTORS = json.loads((Path(__file__).parent / "data/xss/h5sc_vectors.json").read_text())
FORBIDDEN_ELEMENTS = {
    "script", "iframe", "object", "embed", "form", "svg", "math", "style", "meta", "base",
    "link", "frame", "frameset", "applet", "input", "button", "textarea", "select", "video",
    "audio", "source", "template",
}  # fmt: skip
URL_ATTRIBUTES = {
    "href", "src", "srcset", "action", "formaction", "xlink:href", "background", "poster",
    "cite", "data", "codebase", "lowsrc", "dynsrc", "longdesc", "manifest", "ping", "usemap",
}  # fmt: skip
BAD_SCHEME = re.compile(r"^(javascript|vbscript|data):")
INVISIBLE = re.compile(r"[\x00-\x20\x7f-\xa0\u200b-\u200f\u2028\u2029\ufeff]")


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def problems(html: str) -> list[str]:
    """Everything in ``html`` that could run script or pull in active content."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    found = []
    for tag, attrs in parser.found:
        if tag in FORBIDDEN_ELEMENTS:
            found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                found.append(f"{tag}[{name}]")
            if name in {"style", "formaction", "action", "srcdoc", "xlink:href"}:
                found.append(f"{tag}[{name}]")
            cleaned = INVISIBLE.sub("", value or "").lower()
            if name in URL_ATTRIBUTES and BAD_SCHEME.match(cleaned):
                found.append(f"{tag}[{name}]={cleaned[:30]}")
    return found


PLACEMENTS = {
    "raw html": lambda v: f"Intro paragraph.\n\n{v}\n\nOutro.",
    "link target": lambda v: f"[a link]({v}) and <{v}>",
    "image source": lambda v: f"![a picture]({v})",
    "table cell": lambda v: "| Col A | Col B |\n|---|---|\n| " + " ".join(v.split()) + " | x |",
}


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: str(v["id"]))
def test_vector_is_neutralised(vector, placement):
    html = str(render_markdown(PLACEMENTS[placement](vector["payload"])))
    assert problems(html) == [], html


def test_checker_catches_what_it_should():
    """The checker itself can fail: raw dangerous HTML trips every rule."""
    bad = ('<script>x</script><img src=x onerror=alert(1)><a href=" java\tscript:x">'
           '<iframe></iframe><svg></svg><a href="data:text/html,x">')  # fmt: skip
    assert {"<script>", "img[onerror]", "<iframe>", "<svg>"} <= set(problems(bad))
    assert any(p.startswith("a[href]=javascript") for p in problems(bad))
    assert any(p.startswith("a[href]=data") for p in problems(bad))


ORDINARY = """# Title

## Our approach

Some *emphasis*, **strong** text and `inline code`.

- one
- two

1. first
2. second

| Channel | Use |
|:--------|----:|
| SMS     | alerts |

[Our site](https://example.org/page) and [a page](/entries/x) and <https://example.org/auto>.

```python
print("hi")
```

> A quote.
"""


def test_ordinary_markdown_still_renders():
    html = str(render_markdown(ORDINARY))
    for fragment in [
        '<h1 id="section-title">Title</h1>', '<h2 id="section-our-approach">Our approach</h2>',
        "<em>emphasis</em>", "<strong>strong</strong>", "<code>inline code</code>",
        "<ul>", "<li>one</li>", "<ol>", "<table>", "<th align=\"left\">Channel</th>",
        "<td align=\"right\">alerts</td>", "<blockquote>", "<pre><code", 'print("hi")',
    ]:  # fmt: skip
        assert fragment in html.replace("&quot;", '"'), fragment


def test_external_links_get_nofollow_noopener_and_internal_do_not():
    html = str(render_markdown(ORDINARY))
    assert re.search(r'<a href="https://example.org/page" rel="nofollow noopener">', html)
    assert '<a href="/entries/x">' in html
    assert 'href="https://example.org/auto" rel="nofollow noopener"' in html


def test_mailto_links_survive():
    assert 'href="mailto:team@example.org"' in str(
        render_markdown("[mail](mailto:team@example.org)")
    )


def test_javascript_link_loses_its_target_but_keeps_its_text():
    html = str(render_markdown("[click me](javascript:alert(1))"))
    assert "click me" in html and "javascript" not in html


def test_raw_script_is_removed():
    html = str(render_markdown("Hello <script>alert(1)</script> world"))
    assert "<script" not in html and "Hello" in html


def test_plain_text_strips_markup():
    assert plain_text("## Heading\n\n**Bold** and [link](https://x.example)") == (
        "Heading Bold and link"
    )


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: str(v["id"]))
def test_a_snippet_of_an_attack_vector_is_only_text_and_marks(vector):
    """Snippets are plain text cut from an entry, marked where they match: whatever the text,
    ``marked`` adds no markup but ``<mark>``, and the text reads back as it was."""
    payload = vector["payload"]
    half = len(payload) // 2
    html = str(marked([(payload[:half], False), (payload[half:], True), (payload, False)]))
    assert html.count("<mark>") == 1 and html.count("</mark>") == 1
    assert "<" not in html.replace("<mark>", "").replace("</mark>", "")
    assert unescape(html.replace("<mark>", "").replace("</mark>", "")) == payload + payload
