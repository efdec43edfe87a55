"""Search relevance over the sample catalogue: what ranks in the top three, misspellings,
synonyms, phrases, exclusions, field syntax and empty results, all read from /search's HTML."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import aliased

from kb.models import Channel, Entry, Organisation, Revision, Sector, Topic
from kb.models.entry import entry_channels, entry_sectors, entry_topics

RESULTS = re.compile(r'<ol class="entry-list search-results".*?</ol>', re.S)
TITLE_LINK = re.compile(r'class="entry-card-title"><a href="/entries/([a-z0-9-]+)"')
DID_YOU_MEAN = re.compile(r'<p class="did-you-mean">Did you mean <a [^>]*><strong>([^<]*)</strong>')


def _page(client, q: str, **params) -> str:
    response = client.get("/search", query_string={"q": q, **params})
    assert response.status_code == 200, q
    return response.get_data(as_text=True)


def ranked(page: str) -> list[str]:
    """The slugs of a results page, in the order shown."""
    listing = RESULTS.search(page)
    return TITLE_LINK.findall(listing.group(0)) if listing else []


def all_ranked(client, q: str) -> list[str]:
    """Every result for ``q``, following the pages."""
    slugs, number = [], 1
    while True:
        page = _page(client, q, page=number)
        slugs += ranked(page)
        if 'rel="next"' not in page:
            return slugs
        number += 1


def suggestion(page: str) -> str | None:
    found = DID_YOU_MEAN.search(page)
    return html_lib.unescape(found.group(1)) if found else None


def _tags(session, link, model) -> dict[int, list[str]]:
    column = link.c[f"{model.__name__.lower()}_id"]
    rows = session.execute(select(link.c.entry_id, model.name).join(model, model.id == column))
    found: dict[int, list[str]] = {}
    for entry_id, name in rows:
        found.setdefault(entry_id, []).append(name)
    return found


def texts_of(session) -> dict[str, str]:
    """Everything searchable about each published entry (title, summary, body text without
    markup, organisation, kind, sectors, channels, topics), lower case, by slug: plain SQL,
    not the search code's documents or analyser."""
    origin = aliased(Sector)
    rows = session.execute(
        select(Entry.id, Entry.slug, Entry.title, Entry.summary, Revision.body_html,
               Organisation.name, Entry.kind, origin.name)
        .join(Organisation, Organisation.id == Entry.organisation_id)
        .join(origin, origin.id == Entry.origin_sector_id)
        .join(Revision, (Revision.entry_id == Entry.id)
              & (Revision.number == Entry.current_revision_number))
        .where(Entry.status == "published")
    )  # fmt: skip
    tags = [_tags(session, entry_sectors, Sector), _tags(session, entry_channels, Channel),
            _tags(session, entry_topics, Topic)]  # fmt: skip
    found = {}
    for entry_id, slug, *parts, kind, sector in rows:
        parts += ["Guidance" if kind == "guidance" else "Case study", sector]
        parts += [" ".join(names.get(entry_id, [])) for names in tags]
        joined = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", p or "")) for p in parts)
        found[slug] = " ".join(joined.lower().split())
    return found


ADDRESS = re.compile(r"\S+@\S+|https?://\S+|\S+\.example\.\S+")


def words_of(session) -> dict[str, set[str]]:
    """Each entry's words in running text (web and mail addresses left out)."""
    texts = texts_of(session).items()
    return {slug: set(re.findall(r"[a-z]+", ADDRESS.sub(" ", body))) for slug, body in texts}


POLICE_SLUG = "rewriting-risk-first-guidance-after-police-example"
QR = ["outpatient-letter-qr-codes-trial", "westshire-qr-codes-leaflets-hydrant-plates",
      "brackenfield-open-day-qr-poster-trial"]  # fmt: skip
COUNCIL_TITLES = ["strathbeck-accessible-posts-checklist", "strathbeck-channel-for-the-job-matrix"]
GLENHARROW = ["health-board-channel-for-each-job", "outpatient-letter-qr-codes-trial",
              "ward-podcast-nurse-recruitment"]  # fmt: skip

# (query, slugs that must all be in the top three). Each is named in the entry's title.
TOP_THREE = [
    # One, two and three plain words.
    ("gritter", ["strathbeck-live-gritter-map"]),
    ("hydrant", ["westshire-qr-codes-leaflets-hydrant-plates"]),
    ("dashboard", ["neighbourhood-teams-monthly-social-dashboard"]),
    ("wildfire", ["cairnloch-wildfire-flood-warnings-three-channels",
                  "cairnloch-upland-farmers-wildfire-messaging-groups"]),
    ("podcast", ["kelderwick-kitchen-table-carers-podcast-and-forum",
                 "ward-podcast-nurse-recruitment", "millbridge-scam-alert-podcast-pilot"]),
    ("WhatsApp", ["tenterfield-repairs-updates-by-text-and-whatsapp",
                  "rural-coastal-whatsapp-community-alerts",
                  "kelderwick-volunteers-whatsapp-groups-guidance"]),
    ("qr codes", QR),
    ("dog warden", ["millbridge-food-hygiene-and-dog-warden-team-accounts"]),
    ("snow closure", ["oakhurst-snow-closure-text-and-facebook-cascade"]),
    ("nurse recruitment", ["ward-podcast-nurse-recruitment"]),
    ("kitchen table", ["kelderwick-kitchen-table-carers-podcast-and-forum"]),
    ("storm evacuation", ["coastal-storm-evacuation-social-media-response"]),
    ("alt text captions", ["civic-accessible-posts-alt-text-captions-camelcase"]),
    ("consent photos pupils", ["oakhurst-posting-pupils-work-consent-and-photos"]),
    ("on-call firefighters recruitment", ["westshire-on-call-recruitment-ambassadors"]),
    ("live campus maps", ["brackenfield-open-day-qr-poster-trial"]),
    # Stemming: "posting" finds "posts".
    ("posting accessible", ["strathbeck-accessible-posts-checklist",
                            "civic-accessible-posts-alt-text-captions-camelcase"]),
    # Misspellings that stem to the right word still rank it.
    # The council's adaptation of Cairnloch's warnings guidance now leads for "emergency".
    ("emergancy", ["coastal-storm-evacuation-social-media-response",
                   "strathbeck-flood-and-storm-warnings-three-channels"]),
    # Synonyms, both ways round.
    ("AHP", ["bilingual-accessible-posts-for-ahps", POLICE_SLUG]),
    ("allied health professionals", ["bilingual-accessible-posts-for-ahps", POLICE_SLUG]),
    ("x", ["cairnloch-wildfire-flood-warnings-three-channels"]),
    ("twitter", ["cairnloch-wildfire-flood-warnings-three-channels"]),
    ("local authority", COUNCIL_TITLES),
    ("council", COUNCIL_TITLES),
    ("NHS", ["health-board-channel-for-each-job", "glenharrow-staff-posting-openly-at-work"]),
    ("health board", ["health-board-channel-for-each-job"]),
    ("constabulary", [POLICE_SLUG]),
    ("police force", [POLICE_SLUG]),
    # Phrases.
    ('"channel matrix"', ["strathbeck-channel-for-the-job-matrix"]),
    ('"which channel for which job"', ["strathbeck-channel-for-the-job-matrix",
                                       "health-board-channel-for-each-job"]),
    ('"open day"', ["brackenfield-open-day-qr-poster-trial"]),
    ('"team accounts"', ["millbridge-securing-officer-team-accounts",
                         "millbridge-food-hygiene-and-dog-warden-team-accounts",
                         "choosing-neighbourhood-account-holders"]),
    # Exclusions.
    ("qr codes -hydrant", QR[:1] + QR[2:]),
    ("podcast -scam", ["kelderwick-kitchen-table-carers-podcast-and-forum",
                       "ward-podcast-nurse-recruitment"]),
    # Field syntax with words.
    ("accessibility channel:youtube", ["strathbeck-accessible-posts-checklist",
                                       "civic-accessible-posts-alt-text-captions-camelcase"]),
    ("recruitment sector:police", ["westshire-on-call-recruitment-ambassadors",
                                   "ward-podcast-nurse-recruitment"]),
    ("accounts kind:guidance", ["securing-neighbourhood-team-accounts",
                                "millbridge-securing-officer-team-accounts",
                                "westshire-station-accounts-start-with-yes"]),
    ("gritter organisation:strathbeck-council", ["strathbeck-live-gritter-map"]),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), TOP_THREE, ids=[q for q, _ in TOP_THREE])
def test_expected_entries_rank_in_the_top_three(client, query, expected):
    top = ranked(_page(client, query))[:3]
    assert set(expected) <= set(top), top


# (typed synonym, slug found only through the synonym: its text never uses the typed word)
SYNONYM_ONLY = [
    ("ahp", "bilingual-accessible-posts-for-ahps"),
    ("nhs", "health-board-channel-for-each-job"),
    ("authority", "strathbeck-channel-for-the-job-matrix"),  # typed as "local authority"
    ("constabulary", POLICE_SLUG),
]


@pytest.mark.parametrize(("word", "slug"), SYNONYM_ONLY)
def test_synonym_matches_are_not_literal_matches(session, word, slug):
    """Grounds the synonym rows above: these entries do not contain the typed word."""
    assert word not in words_of(session)[slug]


@pytest.mark.parametrize(
    ("typed", "same_as"),
    [("x", "twitter"), ("local authority", "council"), ("NHS", "health board"),
     ("constabulary", "police"), ("ahps", "allied health professional")],
)  # fmt: skip
def test_synonyms_find_the_same_entries(client, typed, same_as):
    assert set(all_ranked(client, typed)) == set(all_ranked(client, same_as)) != set()


@pytest.mark.parametrize(
    ("typed", "meant", "expected"),
    [("twiter", "twitter", "cairnloch-wildfire-flood-warnings-three-channels"),
     ("emergancy", "emergency", "coastal-storm-evacuation-social-media-response"),
     ("whatsap", "whatsapp", "tenterfield-repairs-updates-by-text-and-whatsapp"),
     ("acessibility", "accessibility", "strathbeck-accessible-posts-checklist"),
     ("recruitmant", "recruitment", "westshire-on-call-recruitment-ambassadors"),
     ("gritter mapp", "gritter map", "strathbeck-live-gritter-map")],
)  # fmt: skip
def test_misspelling_suggests_the_right_word(client, typed, meant, expected):
    page = _page(client, typed)
    assert suggestion(page) == meant
    assert f'href="/entries/{expected}"' in page  # in the results or the nearest matches
    assert expected in ranked(_page(client, meant))[:3]


def test_unmatched_misspelling_shows_the_corrected_search_as_nearest_matches(client):
    page = _page(client, "twiter")
    assert ranked(page) == [] and "Nearest matches" in page
    nearest = page.split("<h3>Nearest matches</h3>")[1]
    shown = re.findall(r'href="/entries/([a-z0-9-]+)"', nearest)
    assert shown[:3] == ranked(_page(client, "twitter"))[:3]


def test_suggestion_prefers_the_nearest_word_over_a_more_common_one(client):
    assert suggestion(_page(client, "podcst")) == "podcast"


def test_correct_words_get_no_suggestion(client):
    for query in ("twitter", "emergency", "the", '"open day"', "channel:youtube", "AHP"):
        assert suggestion(_page(client, query)) is None, query


@pytest.mark.parametrize(
    ("phrase", "words", "pattern"),
    [('"open day"', "open day", r"\bopen\W+days?\b"),
     ('"team accounts"', "team accounts", r"\bteams?\W+accounts?\b"),
     ('"channel matrix"', "channel matrix", r"\bchannels?\W+matrix\b")],
)  # fmt: skip
def test_phrase_matches_only_entries_with_the_words_together(
    client, session, phrase, words, pattern
):
    texts = texts_of(session)
    expected = {slug for slug, body in texts.items() if re.search(pattern, body)}
    found = all_ranked(client, phrase)
    assert found and set(found) < set(all_ranked(client, words))
    assert set(found) == expected


@pytest.mark.parametrize(
    ("query", "excluded", "forms"),
    [("qr codes -hydrant", "qr codes", {"hydrant", "hydrants"}),
     ("podcast -scam", "podcast", {"scam", "scams"}),
     ("whatsapp -farmers", "whatsapp", {"farmer", "farmers"}),
     ("facebook -twitter", "facebook", {"twitter"})],
)  # fmt: skip
def test_excluded_word_removes_every_entry_that_has_it(client, session, query, excluded, forms):
    words = words_of(session)
    with_word = {slug for slug, found in words.items() if found & forms}
    kept = all_ranked(client, query)
    assert kept and not set(kept) & with_word
    assert set(kept) == set(all_ranked(client, excluded)) - with_word


def test_excluding_a_synonym_excludes_like_its_partner(client):
    assert set(all_ranked(client, "facebook -x")) == set(all_ranked(client, "facebook -twitter"))


FIELD_SQL = {
    "channel:youtube": "SELECT e.slug FROM entries e JOIN entry_channels l ON l.entry_id = e.id "
    "JOIN channels c ON c.id = l.channel_id WHERE c.slug = 'youtube'",
    "channel:YouTube": "SELECT e.slug FROM entries e JOIN entry_channels l ON l.entry_id = e.id "
    "JOIN channels c ON c.id = l.channel_id WHERE c.slug = 'youtube'",
    "sector:police": "SELECT e.slug FROM entries e JOIN sectors s ON s.id = e.origin_sector_id "
    "WHERE s.slug = 'police' UNION SELECT e.slug FROM entries e JOIN entry_sectors l "
    "ON l.entry_id = e.id JOIN sectors s ON s.id = l.sector_id WHERE s.slug = 'police'",
    "kind:guidance": "SELECT slug FROM entries WHERE kind = 'guidance'",
    'kind:"case study"': "SELECT slug FROM entries WHERE kind = 'case_study'",
    "topic:accessibility": "SELECT e.slug FROM entries e JOIN entry_topics l "
    "ON l.entry_id = e.id JOIN topics t ON t.id = l.topic_id WHERE t.slug = 'accessibility'",
    "organisation:strathbeck-council": "SELECT e.slug FROM entries e JOIN organisations o "
    "ON o.id = e.organisation_id WHERE o.slug = 'strathbeck-council'",
    "-channel:facebook": "SELECT slug FROM entries EXCEPT SELECT e.slug FROM entries e "
    "JOIN entry_channels l ON l.entry_id = e.id JOIN channels c ON c.id = l.channel_id "
    "WHERE c.slug = 'facebook'",
}


@pytest.mark.parametrize("query", FIELD_SQL)
def test_field_syntax_returns_exactly_the_tagged_entries(client, session, query):
    expected = set(session.execute(text(FIELD_SQL[query])).scalars())
    found = all_ranked(client, query)
    assert expected and len(found) == len(set(found))
    assert set(found) == expected


@pytest.mark.parametrize(
    "query", ["xyzzyplugh", "qwertyuiop flibbertigibbet", "the", "of the and", '"the"',
              "channel:carrier-pigeon", "gritter -gritter", "podcast kind:nonsense"],
)  # fmt: skip
def test_queries_that_must_return_nothing(client, query):
    page = _page(client, query)
    assert ranked(page) == []
    assert "0 results" in page and "Nothing matched" in page


def test_stop_word_gets_no_suggestion_or_nearest_matches(client):
    page = _page(client, "the")
    assert suggestion(page) is None and "Nearest matches" not in page


# Each group: the accepted word forms of one query word (what the stemmer folds together).
ALL_WORDS = [
    ("winter phone calls", [{"winter", "winters"}, {"phone", "phones", "phoned", "phoning"},
                            {"call", "calls", "called", "calling"}]),
    ("families parents schools", [{"family", "families"}, {"parent", "parents"},
                                  {"school", "schools"}]),
    ("snow closure", [{"snow", "snows", "snowed", "snowing"}, {"closure", "closures"}]),
]  # fmt: skip


PARTIAL = re.compile(r'<section class="partial-matches".*?</section>', re.S)


@pytest.mark.parametrize(("query", "groups"), ALL_WORDS, ids=[q for q, _ in ALL_WORDS])
def test_results_hold_all_words_and_partial_matches_follow(client, session, query, groups):
    words = words_of(session)
    every = {slug for slug, found in words.items() if all(g & found for g in groups)}
    some = {slug for slug, found in words.items() if any(g & found for g in groups)} - every
    shown = all_ranked(client, query)
    assert every and some, "the query should split the catalogue"
    assert len(shown) == len(set(shown))
    assert set(shown) == every
    per_page = client.application.config["SEARCH_RESULTS_PER_PAGE"]
    assert len(every) < per_page, "the results should leave room for partial matches"
    partial = PARTIAL.search(_page(client, query)).group(0)
    near = TITLE_LINK.findall(partial)
    assert len(near) == len(set(near)) == min(len(some), per_page - len(every))
    assert set(near) <= some
