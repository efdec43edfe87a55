"""What people type, turned into a Whoosh query.

- words: results hold every word; entries holding only some are near misses, asked for
  separately (``near_misses``) when the results are few;
- "quoted phrases" match as phrases;
- -word, -"phrase" and -channel:youtube exclude;
- field:value filters (channel, sector, topic, kind, organisation, licence, evidence,
  outcome) and field:word searches (title, summary, body);
- synonyms from ``seed_data/synonyms.yaml`` are added at query time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from whoosh import query as Q

from kb.search.schema import TEXT_ANALYZER, TEXT_FIELDS

# What one query may cost: words, phrases and filters, counting each synonym it expands to.
MAX_TERMS = 32
FIELD_ALIASES = {
    "sector": "sector", "sectors": "sector", "channel": "channel", "channels": "channel",
    "topic": "topic", "topics": "topic", "kind": "kind", "type": "kind",
    "organisation": "organisation", "organization": "organisation", "org": "organisation",
    "licence": "licence", "license": "licence", "evidence": "evidence", "outcome": "outcome",
    "title": "title", "summary": "summary", "body": "body", "text": "body",
}  # fmt: skip
TEXT_ONLY = {"title", "summary", "body"}
_TOKEN = re.compile(r'(-?)(?:([A-Za-z]+):)?(?:"([^"]*)"?|([^\s"]+))')
_WORD_EDGES = re.compile(r"^[^\w]+|[^\w]+$")


@dataclass(frozen=True)
class Clause:
    """One piece of a query: a word, a "phrase", or a field:value; possibly excluded."""

    text: str
    field: str | None = None
    phrase: bool = False
    negated: bool = False
    alternatives: tuple[str, ...] = ()  # synonyms, each a word or phrase

    @property
    def is_plain_word(self) -> bool:
        return not (self.field or self.phrase or self.negated or self.alternatives)


def parse(text: str) -> list[Clause]:
    """Split ``text`` into clauses; never fails (odd input becomes plain words)."""
    clauses: list[Clause] = []
    for sign, field, quoted, bare in _TOKEN.findall(text):
        negated = sign == "-"
        name = FIELD_ALIASES.get((field or "").lower())
        if field and name is None:
            bare = f"{field}:{quoted if quoted else bare}" if bare or quoted else field
            quoted = ""
        value = quoted if quoted else _WORD_EDGES.sub("", bare)
        if not value.strip():
            continue
        clauses.append(Clause(value.strip(), name, bool(quoted), negated))
    return clauses


class Synonyms:
    """Groups of words and phrases that stand for each other."""

    def __init__(self, groups: list[list[str]]):
        self.groups = [tuple(_normal(member) for member in group) for group in groups]
        self._by_member = {member: group for group in self.groups for member in group}
        self.longest = max((len(m.split()) for g in self.groups for m in g), default=1)

    @classmethod
    def load(cls, path: Path) -> Synonyms:
        if not path.is_file():
            return cls([])
        data = yaml.safe_load(path.read_text()) or {}
        return cls([[str(member) for member in group] for group in data.get("groups", [])])

    def group(self, text: str) -> tuple[str, ...] | None:
        return self._by_member.get(_normal(text))

    def expand(self, clauses: list[Clause]) -> list[Clause]:
        """Replace runs of plain words (or a phrase, or an excluded word) that name a synonym
        with a clause that accepts (or excludes) any member of its group."""
        out: list[Clause] = []
        i = 0
        while i < len(clauses):
            clause = clauses[i]
            whole = (clause.phrase or clause.negated) and not clause.field
            if whole and (group := self.group(clause.text)):
                out.append(_with_alternatives(clause, group))
                i += 1
                continue
            for size in range(self.longest, 0, -1):
                run = clauses[i : i + size]
                if len(run) == size and all(c.is_plain_word for c in run):
                    group = self.group(" ".join(c.text for c in run))
                    if group:
                        text = " ".join(c.text for c in run)
                        out.append(_with_alternatives(Clause(text, phrase=size > 1), group))
                        i += size
                        break
            else:
                out.append(clause)
                i += 1
        return out


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, without a word cut in two at the end (every word
    must match, so half a word would leave nothing to find)."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if not text[limit].isspace() and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip()


def bounded(clauses: list[Clause], limit: int = MAX_TERMS) -> tuple[list[Clause], bool]:
    """``clauses`` without repeats, cut once their terms (each synonym counts) pass ``limit``;
    and whether anything was cut. Keeps the cost of any query small, whatever is typed."""
    kept: list[Clause] = []
    terms = 0
    for clause in dict.fromkeys(clauses):
        cost = max(1, len(clause.alternatives))
        if terms + cost > limit:
            return kept, True
        kept.append(clause)
        terms += cost
    return kept, False


def _with_alternatives(clause: Clause, group: tuple[str, ...]) -> Clause:
    return Clause(clause.text, clause.field, clause.phrase, clause.negated, group)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


class AnyOf(Q.Or):
    """Documents matching any of the parts. Whoosh would preload a small index's matches into
    arrays sized for a large one, which made a long query cost more on a small catalogue than
    on a big one; a tree of unions costs in proportion to the matches."""

    matcher_type = Q.Or.DEFAULT_MATCHER


def any_of(parts: list[Q.Query]) -> Q.Query:
    return AnyOf(parts)


def analyse(text: str) -> list[str]:
    """The index terms for ``text`` (lower-cased, stemmed, accents folded, stop words gone)."""
    return [token.text for token in TEXT_ANALYZER(text, mode="query")]


def _text_query(text: str, fields) -> Q.Query | None:
    terms = analyse(text)
    if not terms:
        return None
    if len(terms) == 1:
        parts = [Q.Term(f, terms[0]) for f in fields]
    else:
        parts = [Q.Phrase(f, terms) for f in fields]
    return parts[0] if len(parts) == 1 else any_of(parts)


def _keyword_query(field: str, value: str, resolve) -> Q.Query:
    values = resolve(field, value) or [value.lower()]
    terms = [Q.Term(field, v) for v in values]
    return terms[0] if len(terms) == 1 else any_of(terms)


def clause_query(clause: Clause, resolve) -> Q.Query | None:
    """The Whoosh query for one clause (ignoring its sign). ``resolve(field, value)`` turns a
    typed keyword value into the slugs it may mean."""
    if clause.field and clause.field not in TEXT_ONLY:
        return _keyword_query(clause.field, clause.text, resolve)
    fields = [clause.field] if clause.field else list(TEXT_FIELDS)
    if clause.alternatives:
        parts = [q for text in clause.alternatives if (q := _text_query(text, fields))]
        # A channel named by a synonym also matches entries tagged with it.
        keyword = resolve("channel", clause.text)
        if keyword:
            parts.append(_keyword_query("channel", clause.text, resolve))
        return any_of(parts) if parts else None
    return _text_query(clause.text, fields)


def _parts(clauses: list[Clause], resolve):
    free, required, excluded = [], [], []
    typed_words = False
    for clause in clauses:
        built = clause_query(clause, resolve)
        is_free = not clause.negated and (not clause.field or clause.field in TEXT_ONLY)
        typed_words = typed_words or is_free
        if built is None:
            continue
        if clause.negated:
            excluded.append(built)
        elif clause.field and clause.field not in TEXT_ONLY:
            required.append(built)
        else:
            free.append(built)
    return free, required, excluded, typed_words


def _narrowed(ranked: Q.Query, required: list, excluded: list) -> Q.Query:
    built_query = Q.And([ranked, *required]) if required else ranked
    if excluded:
        built_query = Q.AndNot(built_query, any_of(excluded))
    return built_query


def build(clauses: list[Clause], resolve) -> Q.Query:
    """The results of a search: entries holding every free-text clause, within the field
    filters, minus the exclusions."""
    free, required, excluded, typed_words = _parts(clauses, resolve)
    if len(free) > 1:
        ranked = Q.And(free)
    elif free:
        ranked = free[0]
    elif typed_words and not required:
        return Q.NullQuery  # only words too common to search for, such as "the"
    else:
        ranked = Q.Every()
    return _narrowed(ranked, required, excluded)


def near_misses(clauses: list[Clause], resolve) -> Q.Query | None:
    """Entries holding some of the free-text clauses (every one included), within the same
    filters and exclusions; None when there is only one such clause to hold."""
    free, required, excluded, _typed = _parts(clauses, resolve)
    if len(free) < 2:
        return None
    return _narrowed(any_of(free), required, excluded)
