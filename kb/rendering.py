"""The only producer of trusted HTML: Markdown first, then bleach, then link hardening.

Sanitising after rendering matters: Markdown can turn harmless-looking text into links and
images, so only the final HTML is safe to judge. Templates mark nothing else ``|safe``.
"""

from __future__ import annotations

import re
from functools import partial
from html import unescape
from urllib.parse import urlsplit

import bleach
import markdown
from bleach.linkifier import LinkifyFilter
from markdown.extensions.toc import slugify_unicode
from markupsafe import Markup

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "dl",
        "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
        "ol", "p", "pre", "s", "small", "strong", "sub", "summary", "sup", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title"],
    "abbr": ["title"],
    "img": ["src", "alt", "title", "width", "height"],
    "th": ["align", "scope", "colspan", "rowspan"],
    "td": ["align", "colspan", "rowspan"],
    "ol": ["start"],
    **{heading: ["id"] for heading in HEADINGS},
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
HEADING_ID_PREFIX = "section-"


def _heading_id(value: str, separator: str) -> str:
    # Prefixed so a heading called "Main" can never collide with the page's own ids.
    return HEADING_ID_PREFIX + slugify_unicode(value, separator)


def _harden_links(attrs: dict, new: bool = False) -> dict:
    href = attrs.get((None, "href"), "")
    if urlsplit(href).scheme in {"http", "https"}:
        attrs[(None, "rel")] = "nofollow noopener"
    return attrs


# Linkifying runs inside the cleaner (one parse, one serialisation), so entities are not
# escaped twice and every link, written or bare, gets the same hardening.
_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[
        partial(
            LinkifyFilter, callbacks=[_harden_links], skip_tags={"pre", "code"}, parse_email=False
        )
    ],
)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def render_markdown(source: str) -> Markup:
    """Render user Markdown to HTML that is safe to place in a page."""
    html = markdown.markdown(
        _CONTROL_CHARS.sub("", source),
        extensions=["tables", "fenced_code", "sane_lists", "toc"],
        extension_configs={
            "tables": {"use_align_attribute": True},
            "toc": {"slugify": _heading_id, "toc_depth": "2-4"},
        },
        output_format="html",
    )
    return Markup(_cleaner.clean(html))  # noqa: S704 - sanitised just above


def plain_text(source: str) -> str:
    """The readable text of some Markdown, for summaries and word counts."""
    html = markdown.markdown(source, extensions=["tables", "fenced_code"])
    text = bleach.clean(html, tags=set(), strip=True)
    return re.sub(r"\s+", " ", text).strip()


_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|td|th|tr|pre|blockquote|div)>|<br\s*/?>", re.I)


def text_of_html(html: str) -> str:
    """The readable text of HTML this module produced (a revision's ``body_html``), for the
    search index. Fast: our own sanitised output needs no full parser."""
    text = _TAG.sub("", _BLOCK_END.sub(" ", html))
    return re.sub(r"\s+", " ", unescape(text)).strip()
