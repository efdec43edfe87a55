"""Keeping the cost of rendering proportional to the text. Used only by ``kb/rendering.py``.

Python-Markdown looks for the ``]`` closing every ``[`` by scanning to the end of the
paragraph, and for the ``)`` closing every ``[text](`` the same way, so a paragraph of
unmatched brackets costs time quadratic in its length (upstream issue 798); bleach's linkifier
retries its address pattern at every ``(`` of a run of them. The guards here:

- link text is matched by one regular expression that allows brackets nested up to
  ``LINK_NESTING`` deep, so finding it is linear, and a run of "[" that can close nothing is
  claimed as plain text at once;
- a link's target is read within ``LINK_SPAN`` characters, and the whole text may spend only a
  fixed allowance (proportional to its length) on reading targets;
- the linkifier's address pattern starts only at the first ``(`` of a run, and html5lib's
  tree walker remembers where each element sits instead of searching its siblings;
- every render has a time budget, checked as blocks, inline text, raw HTML tags and output
  tokens go by, and a nesting limit; past either the text is refused with ``RenderRefused``,
  whose message says what to change, instead of holding a worker (and possibly a database
  lock) for minutes.
"""

from __future__ import annotations

import re
import time

from bleach import linkifier
from bleach.html5lib_shim import (
    BleachHTMLParser,
    BleachHTMLTokenizer,
    Filter,
    ReparseException,
    getTreeWalker,
)
from markdown import Extension, Markdown
from markdown import inlinepatterns as md_inline
from markdown.blockprocessors import BlockProcessor
from markdown.htmlparser import HTMLExtractor
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import HtmlBlockPreprocessor

LINK_NESTING = 8  # brackets inside link text, e.g. "[see [1]](...)" is 1 deep
LINK_SPAN = 4096  # characters a link's target (and title) may take, from its "("
MAX_DEPTH = 40  # elements inside elements, in the final HTML
WALL_CLOCK_SLACK = 3  # a render may take this many times its CPU budget on the clock
TOO_SLOW = (
    "This text is too complex to display: it took more than {seconds:g} seconds to lay out. "
    "Very long tables, deeply nested lists or thousands of unmatched brackets are the usual "
    "cause. Shorten or simplify it, or split it into more than one entry."
)
TOO_DEEP = (
    f"This text is nested too deeply to display (more than {MAX_DEPTH} levels of lists, "
    "quotes, emphasis or HTML elements inside each other). Simplify it."
)


class RenderRefused(ValueError):
    """The text cannot be rendered within Span's limits; ``str()`` says why, for the form."""


class Budget:
    """One render's limits: a deadline in the rendering thread's own CPU time, a looser one
    on the clock, and the characters left for reading link targets.

    CPU time is what a text costs, so the same text gets the same answer however busy the
    server is (on the clock alone, a busy server refused ordinary entries); the clock's
    deadline, ``WALL_CLOCK_SLACK`` times longer, still bounds how long a worker is held."""

    def __init__(self, seconds: float, text_length: int) -> None:
        self.seconds = seconds
        self.deadline = time.thread_time() + seconds
        self.wall_deadline = time.perf_counter() + seconds * WALL_CLOCK_SLACK
        self.link_scan = 2 * text_length + 20_000

    def check(self) -> None:
        if time.thread_time() > self.deadline or time.perf_counter() > self.wall_deadline:
            raise RenderRefused(TOO_SLOW.format(seconds=self.seconds))


def _link_text_pattern(depth: int) -> re.Pattern:
    """Text up to its closing "]", with brackets inside balanced and at most ``depth`` deep.
    Possessive quantifiers: nothing is ever scanned twice from one start."""
    inner = r"[^\[\]]*+"
    for _ in range(depth):
        inner = rf"(?:[^\[\]]++|\[{inner}\])*+"
    return re.compile(inner + r"\]")


LINK_TEXT = _link_text_pattern(LINK_NESTING)


class _BoundedLinks:
    """Mixin for Python-Markdown's link and reference processors: the same results for links
    within the limits above, at a cost linear in the text."""

    budget: Budget

    def getText(self, data: str, index: int) -> tuple[str, int, bool]:  # noqa: N802
        match = LINK_TEXT.match(data, index)
        if match is None:
            return "", index, False
        return data[index : match.end() - 1], match.end(), True

    def getLink(self, data: str, index: int):  # noqa: N802
        span = min(len(data) - index, LINK_SPAN, self.budget.link_scan)
        if span <= 0:
            return "", None, index, False
        href, title, end, handled = super().getLink(data[index : index + span], 0)
        self.budget.link_scan -= end if handled else span
        return href, title, index + end, handled


# Python-Markdown's own names and priorities for the processors replaced (inlinepatterns.py).
LINK_PROCESSORS = {
    "reference": (md_inline.ReferenceInlineProcessor, md_inline.REFERENCE_RE, 170),
    "link": (md_inline.LinkInlineProcessor, md_inline.LINK_RE, 160),
    "image_link": (md_inline.ImageInlineProcessor, md_inline.IMAGE_LINK_RE, 150),
    "image_reference": (
        md_inline.ImageReferenceInlineProcessor, md_inline.IMAGE_REFERENCE_RE, 140
    ),
    "short_reference": (md_inline.ShortReferenceInlineProcessor, md_inline.REFERENCE_RE, 130),
    "short_image_ref": (
        md_inline.ShortImageReferenceInlineProcessor, md_inline.IMAGE_REFERENCE_RE, 125
    ),
}  # fmt: skip


def _depth(element) -> int:
    """How deeply elements nest inside ``element`` (1 for an element without children)."""
    deepest, stack = 0, [(element, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node)
    return deepest


def _timed(handle_match, budget: Budget):
    """``handle_match`` of an inline processor, checking the budget before each attempt and
    the depth of what it builds (Markdown's next step is quadratic in that depth)."""

    def handleMatch(m, data):  # noqa: N802
        budget.check()
        node, start, end = handle_match(m, data)
        if node is not None and not isinstance(node, str) and _depth(node) > MAX_DEPTH:
            raise RenderRefused(TOO_DEEP)
        return node, start, end

    return handleMatch


class _HopelessBrackets(InlineProcessor):
    """Claims, as plain text, the brackets at the start of a run of "[" that can close
    nothing, instead of each of them being tried by each link processor in turn."""

    def __init__(self) -> None:
        super().__init__(r"\[{2,}")

    def handleMatch(self, m, data):  # noqa: N802
        start, end = m.start(), m.end()
        hopeless = start
        while hopeless < end and LINK_TEXT.match(data, hopeless + 1) is None:
            hopeless += 1
        if hopeless - start < 2:
            return None, None, None
        return data[start:hopeless], start, hopeless


class _Clock(InlineProcessor):
    """Checks the budget once for each piece of inline text (``\\A`` matches only at its
    start; a table cell with no markup calls no other inline processor), then declines."""

    def __init__(self, budget: Budget) -> None:
        super().__init__(r"\A")
        self.budget = budget

    def handleMatch(self, m, data):  # noqa: N802
        self.budget.check()
        return None, None, None


class _BlockClock(BlockProcessor):
    """Checks the budget before each block of the text is parsed; never claims a block."""

    def __init__(self, parser, budget: Budget) -> None:
        super().__init__(parser)
        self.budget = budget

    def test(self, parent, block) -> bool:
        self.budget.check()
        return False

    def run(self, parent, blocks) -> bool:  # pragma: no cover - test() is always False
        return False


class _TimedExtractor(HTMLExtractor):
    """Python's HTML parser rescans the rest of the text for every unclosed "<tag" (quadratic
    on "<a <a <a ..."); checking the budget at each keeps that bounded."""

    budget: Budget

    def parse_starttag(self, i: int) -> int:
        self.budget.check()
        return super().parse_starttag(i)


class _TimedHtmlBlocks(HtmlBlockPreprocessor):
    def __init__(self, md: Markdown, budget: Budget) -> None:
        super().__init__(md)
        self.budget = budget

    def run(self, lines: list[str]) -> list[str]:
        parser = _TimedExtractor(self.md)
        parser.budget = self.budget
        parser.feed("\n".join(lines))
        parser.close()
        return "".join(parser.cleandoc).split("\n")


_BOUNDED = {
    name: (type(f"Bounded{cls.__name__}", (_BoundedLinks, cls), {}), pattern, priority)
    for name, (cls, pattern, priority) in LINK_PROCESSORS.items()
}


class Limits(Extension):
    """Installs the guards above into one Markdown instance, for one render."""

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self.budget = budget

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802
        for name, (bounded, pattern, priority) in _BOUNDED.items():
            instance = bounded(pattern, md)
            instance.budget = self.budget
            md.inlinePatterns.register(instance, name, priority)
        # After backticks (190) and escapes (180), before the first link processor (170).
        md.inlinePatterns.register(_HopelessBrackets(), "kb_hopeless_brackets", 175)
        for processor in md.inlinePatterns:
            processor.handleMatch = _timed(processor.handleMatch, self.budget)
        md.inlinePatterns.register(_Clock(self.budget), "kb_clock", 200)
        md.parser.blockprocessors.register(_BlockClock(md.parser, self.budget), "kb_clock", 200)
        md.preprocessors.register(_TimedHtmlBlocks(md, self.budget), "html_block", 20)


class _TimedTokenizer(BleachHTMLTokenizer):
    budget: Budget

    def __iter__(self):
        for count, token in enumerate(super().__iter__()):
            if count % 256 == 0:
                self.budget.check()
            yield token


class TimedParser(BleachHTMLParser):
    """bleach's HTML parser, checking the budget as tokens go by. (html5lib appends each
    text token to the one before, so thousands of entities in a row cost quadratic time.)"""

    def __init__(self, budget: Budget, **kwargs) -> None:
        self.budget = budget
        super().__init__(**kwargs)

    # As BleachHTMLParser._parse (bleach 6), with the timed tokenizer.
    def _parse(self, stream, innerHTML=False, container="div", scripting=True, **kwargs):  # noqa: N803
        self.innerHTMLMode = innerHTML
        self.container = container
        self.scripting = scripting
        self.tokenizer = _TimedTokenizer(
            stream=stream, consume_entities=self.consume_entities, parser=self, **kwargs
        )
        self.tokenizer.budget = self.budget
        self.reset()
        try:
            self.mainLoop()
        except ReparseException:
            self.reset()
            self.mainLoop()


_EtreeWalker = getTreeWalker("etree")


class LinearTreeWalker(_EtreeWalker):
    """html5lib's ElementTree walker, remembering each parent's position instead of searching
    for it among its siblings (which made a 20,000-row table or list take minutes)."""

    def getFirstChild(self, node):  # noqa: N802
        if isinstance(node, tuple):
            element, key, parents, flag = node
        else:
            element, key, parents, flag = node, None, [], None
        if flag in ("text", "tail"):
            return None
        if element.text:
            return element, key, parents, "text"
        if len(element):
            parents.append((element, key))
            return element[0], 0, parents, None
        return None

    def getNextSibling(self, node):  # noqa: N802
        if not isinstance(node, tuple):
            return None
        element, key, parents, flag = node
        if flag == "text":
            if len(element):
                parents.append((element, key))
                return element[0], 0, parents, None
            return None
        if element.tail and flag != "tail":
            return element, key, parents, "tail"
        if key < len(parents[-1][0]) - 1:
            return parents[-1][0][key + 1], key + 1, parents, None
        return None

    def getParentNode(self, node):  # noqa: N802
        if not isinstance(node, tuple):
            return None
        element, key, parents, flag = node
        if flag == "text":
            return (element, key, parents, None) if parents else element
        parent, parent_key = parents.pop()
        return (parent, parent_key, parents, None) if parents else parent


class OutputLimits(Filter):
    """A bleach filter over the sanitised tokens: checks the budget every so often and refuses
    output nested deeper than ``MAX_DEPTH``."""

    def __init__(self, source, budget: Budget) -> None:
        super().__init__(source)
        self.budget = budget

    def __iter__(self):
        depth = 0
        for count, token in enumerate(super().__iter__()):
            if count % 256 == 0:
                self.budget.check()
            if token["type"] == "StartTag":
                depth += 1
                if depth > MAX_DEPTH:
                    raise RenderRefused(TOO_DEEP)
            elif token["type"] == "EndTag":
                depth -= 1
            yield token


def _linear_url_pattern() -> re.Pattern:
    """bleach's address pattern, starting only at the first "(" of a run: the same matches,
    without retrying the run from each of its characters."""
    old = r"\(*  # Match any opening parentheses."
    pattern = linkifier.URL_RE.pattern
    if old not in pattern:  # pragma: no cover - caught by the tests on a bleach upgrade
        raise RuntimeError("bleach's URL_RE changed; update kb/rendering_limits.py")
    return re.compile(pattern.replace(old, r"(?<!\()\(*+", 1), linkifier.URL_RE.flags)


LINKIFY_URL = _linear_url_pattern()
