"""The search index's schema: what each entry looks like to Whoosh.

Text fields use English stemming with accent folding (so "cafe" finds "café" and "posting"
finds "posts"). ``spelling`` keeps unstemmed words for "Did you mean". Keyword fields hold
slugs and values, for facets, filters and the ``channel:youtube`` syntax.
"""

from __future__ import annotations

from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer
from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.support.charset import accent_map

from kb.search.analysis import OneStepAnalyzer, OneStepText

# Raise when the schema or what documents hold changes: an index built by an older version is
# rebuilt on first use instead of being patched.
SCHEMA_VERSION = 6

# ``StemmingAnalyzer() | CharsetFilter(accent_map)``, in one step (see ``analysis.py``).
TEXT_ANALYZER = OneStepAnalyzer()
SPELLING_ANALYZER = RegexTokenizer(r"[^\W\d_]{3,}") | LowercaseFilter() | CharsetFilter(accent_map)

# The full-text fields, with the weight a match in each carries.
TEXT_FIELDS = {"title": 4.0, "summary": 2.0, "tags": 1.5, "organisation_name": 1.5, "body": 1.0}
SORTABLE_FIELDS = ("created", "updated", "borrow_count")
FACETS = ("sector", "channel", "topic", "kind", "organisation")
# Fields only ever matched, never scored: "did you mean" asks whether a live entry holds a word.
MATCHED_ONLY = frozenset({"spelling"})


def _text(field: str, **options) -> OneStepText:
    return OneStepText(analyzer=TEXT_ANALYZER, field_boost=TEXT_FIELDS[field], **options)


def _keywords() -> KEYWORD:
    return KEYWORD(commas=True)


def build_schema() -> Schema:
    return Schema(
        id=ID(unique=True, stored=True),
        title=_text("title", stored=True),
        summary=_text("summary", stored=True),
        body=_text("body", stored=True),
        organisation_name=_text("organisation_name"),
        tags=_text("tags"),
        spelling=TEXT(analyzer=SPELLING_ANALYZER, phrase=False),
        sector=_keywords(),
        origin_sector=ID(),
        channel=_keywords(),
        topic=_keywords(),
        kind=ID(),
        organisation=ID(),
        licence=ID(),
        evidence=ID(),
        outcome=ID(),
        status=ID(stored=True),
        reuse=_keywords(),
        created=DATETIME(sortable=True),
        updated=DATETIME(sortable=True),
        borrow_count=NUMERIC(sortable=True, stored=True, default=0),
        fingerprint=STORED(),
    )
