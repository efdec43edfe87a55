"""Every route, walked with hostile values by Hypothesis: no response is a 500 (in tests an
exception propagates, which fails too) and none takes 2 s or more.

GET rules get URL arguments and query strings; POST rules get form data from a signed-in site
admin with a valid CSRF token, so the views themselves see the values. Values are real ones
mixed with huge, negative and non-ASCII numbers, ``url_for``'s reserved argument names,
repeated keys and 10 KB strings. The walk is derandomised and bounded, and keeps no example
database, so it runs the same every time in well under a minute.
"""

from __future__ import annotations

import os
import random
import re
import time
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.db import db
from kb.models import Entry, Organisation
from tests.web import csrf_token, sign_in

SLOW = 2.0  # seconds of CPU: what a request costs, whatever else the machine is doing
MAX_EXAMPLES = 400  # per walk: about half a minute each on a busy 2-core machine
WALK = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=MAX_EXAMPLES,
    # No shrinking: a failure is reported as found, at once, instead of after minutes of
    # searching for a smaller example.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RESERVED = ["endpoint", "_scheme", "_anchor", "_external", "_method", "values", "slug"]
QUERY_NAMES = RESERVED + [
    "q", "sector", "channel", "topic", "kind", "organisation", "borrowed", "archived", "sort",
    "page", "next", "from", "to", "title", "summary",
]  # fmt: skip
FORM_NAMES = RESERVED + [
    "title", "summary", "body", "channels", "topics", "relevant_sectors", "licence",
    "evidence_stage", "outcome", "review_by", "edit_summary", "action", "kind", "base_revision",
    "source_revision", "upstream_revision", "note", "message", "role", "name", "region",
    "website", "contact", "description", "name_locked", "email", "password", "confirm",
    "current", "display_name", "organisation", "new_name", "new_sector", "new_website",
    "remember", "similar_dismissed", "open_to_any_member", "position",
]  # fmt: skip
NUMBERS = ["0", "1", "2", "3", "-1", "99999999999999999999", "2147483648", "²", "٣", "1e9",
           "0x10", " 1", "1.5", "9" * 400]  # fmt: skip
STRANGE = [
    "x" * 10_000, "[" * 10_000, "[a](" * 2_500, "<a " * 3_000, "*" * 5_000, "javascript:0",
    "//evil.example", "%00", "\x00", "../../etc/passwd", "é🚀", "\u202e", "", " ",
    "publish", "preview", "similar", "save", "draft", "admin", "editor", "member", "new",
]  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _real(app) -> list[str]:
    """Real slugs and term names, so walks reach past the 404s."""
    with app.app_context():
        entries = db.session.scalars(select(Entry.slug).order_by(Entry.id).limit(6)).all()
        organisations = db.session.scalars(select(Organisation.slug).limit(3)).all()
    return [*entries, *organisations, "police", "x-twitter", "evaluation", "channels", "topics"]


# Values the pages accept, so that a walk often gets past a 404 to the code that builds links.
VALID = {
    "q": ["police", "posting", "polise"], "sector": ["police", "health"], "kind": ["guidance"],
    "channel": ["x-twitter", "facebook"], "topic": ["evaluation"], "sort": ["newest", "title"],
    "page": ["1", "2"], "archived": ["1"], "borrowed": ["other-sectors"],
}  # fmt: skip


def _value(real: list[str]):
    return st.one_of(st.sampled_from(real), st.sampled_from(NUMBERS), st.sampled_from(STRANGE),
                     TEXT)  # fmt: skip


def _argument(rule, name: str, real: list[str]):
    """A URL argument: numbers for integer arguments, mostly real slugs for the others."""
    if isinstance(rule._converters[name], IntegerConverter):
        return st.sampled_from(NUMBERS)
    return st.one_of(st.sampled_from(real), _value(real))


def _pairs(names: list[str], real: list[str]):
    """Up to five (name, value) pairs, names repeating, values often valid for their name."""

    def pair(name: str):
        valid = st.sampled_from(VALID[name]) if name in VALID else _value(real)
        return st.tuples(st.just(name), st.one_of(valid, valid, _value(real)))

    return st.lists(st.sampled_from(names).flatmap(pair), max_size=5)


def _path(rule, values: dict[str, str]) -> str:
    return ARGUMENT.sub(lambda m: quote(values[m.group(2)], safe=""), rule.rule)


def _rules(app, method: str) -> list:
    return sorted((r for r in app.url_map.iter_rules() if method in r.methods),
                  key=lambda r: r.rule)  # fmt: skip


def _unseeded() -> None:
    """Hypothesis seeds Python's global ``random`` the same way for every example, and Whoosh
    names new index segments with it: without fresh seeding, two examples that save would
    write segments of the same name and corrupt the index, which no real server does."""
    random.seed(os.urandom(16))


def _timed(open_request):
    # The test client runs the request in this thread, so this thread's CPU time is the
    # request's cost, unaffected by other work on the machine.
    started = time.thread_time()
    response = open_request()
    return response, time.thread_time() - started


def _check(response, seconds: float, what: str) -> None:
    assert response.status_code != 500, what
    assert seconds < SLOW, f"{what} took {seconds:.2f} s"


@pytest.fixture
def walk(catalogue_app):
    return catalogue_app, _real(catalogue_app)


def test_every_get_route_survives_hostile_values(walk):
    app, real = walk
    rules = _rules(app, "GET")
    assert len(rules) > 30
    admin = app.test_client()  # reading changes nothing, so one signed-in admin serves all
    assert sign_in(admin, ADMIN_EMAIL, DEMO_PASSWORD).status_code == 302

    @WALK
    @given(data=st.data())
    def visit(data) -> None:
        rule = data.draw(st.sampled_from(rules), label="rule")
        values = {name: data.draw(_argument(rule, name, real), label=name)
                  for name in rule.arguments}  # fmt: skip
        query = data.draw(_pairs(QUERY_NAMES, real), label="query")
        url = _path(rule, values) + ("?" + urlencode(query) if query else "")
        _unseeded()
        client = admin if data.draw(st.booleans(), label="signed in") else app.test_client()
        response, seconds = _timed(lambda: client.get(url))
        _check(response, seconds, f"GET {url[:200]}")

    visit()


def test_every_post_route_survives_hostile_forms(walk):
    app, real = walk
    rules = _rules(app, "POST")
    assert len(rules) > 20

    @WALK
    @given(data=st.data())
    def submit(data) -> None:
        rule = data.draw(st.sampled_from(rules), label="rule")
        values = {name: data.draw(_argument(rule, name, real), label=name)
                  for name in rule.arguments}  # fmt: skip
        _unseeded()
        fields = data.draw(_pairs(FORM_NAMES, real), label="form")
        client = app.test_client()
        sign_in(client, ADMIN_EMAIL, DEMO_PASSWORD)
        form = [("csrf_token", csrf_token(client, "/about")), *fields]
        url = _path(rule, values)
        response, seconds = _timed(lambda: client.post(url, data=MultiDict(form)))
        _check(response, seconds, f"POST {url[:200]} {[(k, v[:40]) for k, v in fields]}")

    submit()
