"""The only producer of trusted HTML: Markdown first, then bleach, then link hardening.

Sanitising after rendering matters: Markdown can turn harmless-looking text into links and
images, so only the final HTML is safe to judge. Templates mark nothing else ``|safe``.

Every URL attribute is checked again with the standard library's parser (bleach's own takes
``javascript:123`` for a host and port). Images load only from Span itself and the hosts in
``IMAGE_HOSTS``, so a contributor cannot learn who reads an entry; any other image becomes a
link to it. Rendering is bounded in time and nesting (``kb/rendering_limits.py``): a text
beyond the bounds raises ``RenderRefused`` with a message for the form.
"""

from __future__ import annotations

import re
from functools import lru_cache, partial
from html import unescape
from urllib.parse import urlsplit

import bleach
import markdown
from bleach.html5lib_shim import Filter
from bleach.linkifier import LinkifyFilter
from flask import current_app, has_app_context
from markdown.extensions.toc import slugify_unicode
from markupsafe import Markup, escape

from kb.rendering_limits import (
    LINKIFY_URL,
    TOO_DEEP,
    Budget,
    Limits,
    LinearTreeWalker,
    OutputLimits,
    RenderRefused,
    TimedParser,
)

__all__ = ["RenderRefused", "plain_text", "render_markdown", "safe_url", "text_of_html"]

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
URL_ATTRIBUTES = frozenset({"href", "src"})
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
HEADING_ID_PREFIX = "section-"
RENDER_SECONDS = 1.0  # how long one render may take before the text is refused
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
# Never part of a real scheme; dropped before judging one, so "java script:" counts too.
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\xa0\u200b-\u200f\u2028\u2029\ufeff]")


def safe_url(value: str) -> bool:
    """Whether an attribute value, as written in HTML, is a relative URL or uses an allowed
    scheme once a browser has read it: entities decoded, then (more strictly than a browser)
    every space and invisible character dropped, then parsed by ``urllib.parse``."""
    try:
        scheme = urlsplit(_INVISIBLE.sub("", unescape(value))).scheme.lower()
    except ValueError:
        return False
    return not scheme or scheme in ALLOWED_PROTOCOLS


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name not in ALLOWED_ATTRIBUTES.get(tag, ()):
        return False
    return safe_url(value) if name in URL_ATTRIBUTES else True


def image_allowed(src: str, hosts: tuple[str, ...]) -> bool:
    """Span's own images (a path on this site), or https images from one of ``hosts``."""
    try:
        parts = urlsplit(_TAB_OR_NEWLINE.sub("", unescape(src)).strip(_C0_OR_SPACE))
    except ValueError:
        return False
    if not parts.scheme and not parts.netloc:
        return True
    return parts.scheme.lower() == "https" and (parts.hostname or "") in hosts


class _ImagePolicy(Filter):
    """Images from elsewhere become links to them (or, inside a link, their description)."""

    def __init__(self, source, hosts: tuple[str, ...]) -> None:
        super().__init__(source)
        self.hosts = hosts

    def __iter__(self):
        in_link = 0
        for token in super().__iter__():
            kind, name = token["type"], token.get("name")
            if name == "a" and kind in {"StartTag", "EndTag"}:
                in_link += 1 if kind == "StartTag" else -1
            if name != "img" or kind not in {"StartTag", "EmptyTag"}:
                yield token
                continue
            attrs = token["data"]
            src = attrs.get((None, "src"), "")
            if src and image_allowed(src, self.hosts):
                yield token
                continue
            alt = unescape(attrs.get((None, "alt"), "")).strip()
            label = f"Image: {alt}" if alt else "Image"
            if in_link or not src:
                yield {"type": "Characters", "data": label}
                continue
            yield {"type": "StartTag", "name": "a", "data": {(None, "href"): src}}
            yield {"type": "Characters", "data": label}
            yield {"type": "EndTag", "name": "a", "data": {}}


class _TableRegions(Filter):
    """Each table goes in a scroll region of its own, labelled and reachable by keyboard, so a
    wide table scrolls sideways on its own instead of widening the page."""

    def __iter__(self):
        count = 0
        for token in super().__iter__():
            if token.get("name") == "table" and token["type"] == "StartTag":
                count += 1
                attrs = {"class": "table-scroll", "role": "region", "tabindex": "0",
                         "aria-label": f"Table {count}"}  # fmt: skip
                yield {"type": "StartTag", "name": "div",
                       "data": {(None, name): value for name, value in attrs.items()}}  # fmt: skip
            yield token
            if token.get("name") == "table" and token["type"] == "EndTag":
                yield {"type": "EndTag", "name": "div", "data": {}}


def _heading_id(value: str, separator: str) -> str:
    # Prefixed so a heading called "Main" can never collide with the page's own ids.
    return HEADING_ID_PREFIX + slugify_unicode(value, separator)


def _harden_links(attrs: dict, new: bool = False) -> dict:
    href = attrs.get((None, "href"), "")
    if urlsplit(unescape(href)).scheme.lower() in {"http", "https"}:
        attrs[(None, "rel")] = "nofollow noopener"
    return attrs


def _cleaner(budget: Budget, hosts: tuple[str, ...]) -> bleach.Cleaner:
    # Linkifying runs inside the cleaner (one parse, one serialisation), so entities are not
    # escaped twice and every link, written or bare, gets the same hardening.
    cleaner = bleach.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=_allowed_attribute,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[
            partial(_ImagePolicy, hosts=hosts),
            partial(
                LinkifyFilter,
                callbacks=[_harden_links],
                skip_tags={"pre", "code"},
                parse_email=False,
                url_re=LINKIFY_URL,
            ),
            _TableRegions,
            partial(OutputLimits, budget=budget),
        ],
    )
    cleaner.parser = TimedParser(
        budget, tags=ALLOWED_TAGS, strip=True, consume_entities=False, namespaceHTMLElements=False
    )
    cleaner.walker = LinearTreeWalker
    return cleaner


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@lru_cache(maxsize=8)  # a form's check and the save that follows render the same text
def _render(source: str, hosts: tuple[str, ...], seconds: float) -> Markup:
    budget = Budget(seconds, len(source))
    try:
        html = markdown.markdown(
            _CONTROL_CHARS.sub("", source),
            extensions=["tables", "fenced_code", "sane_lists", "toc", Limits(budget)],
            extension_configs={
                "tables": {"use_align_attribute": True},
                "toc": {"slugify": _heading_id, "toc_depth": "2-4"},
            },
            output_format="html",
        )
        return Markup(_cleaner(budget, hosts).clean(html))  # noqa: S704 - sanitised here
    except RecursionError:
        raise RenderRefused(TOO_DEEP) from None


def image_hosts() -> tuple[str, ...]:
    """The hosts images may load from besides Span itself (the ``IMAGE_HOSTS`` setting)."""
    return tuple(current_app.config.get("IMAGE_HOSTS", ())) if has_app_context() else ()


def render_markdown(source: str, *, seconds: float = RENDER_SECONDS) -> Markup:
    """Render user Markdown to HTML that is safe to place in a page; raises ``RenderRefused``
    (its message is for the writer) when the text is beyond the limits."""
    return _render(source, image_hosts(), seconds)


def plain_text(source: str) -> str:
    """The readable text of some Markdown, for summaries and word counts."""
    return text_of_html(render_markdown(source))


_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|td|th|tr|pre|blockquote|div)>|<br\s*/?>", re.I)


def text_of_html(html: str) -> str:
    """The readable text of HTML this module produced (a revision's ``body_html``), for the
    search index. Fast: our own sanitised output needs no full parser."""
    text = _TAG.sub("", _BLOCK_END.sub(" ", html))
    return re.sub(r"\s+", " ", unescape(text)).strip()


def marked(segments) -> Markup:
    """A search snippet, ``(text, matched)`` pairs, as HTML: every text escaped, matched ones
    wrapped in ``<mark>``, the only markup search adds."""
    html = "".join(f"<mark>{escape(text)}</mark>" if matched else escape(text)
                   for text, matched in segments)  # fmt: skip
    return Markup(html)  # noqa: S704 - every text escaped just above
