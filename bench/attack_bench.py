"""The hardening attacks, rerun over real HTTP against a threaded server on the sample catalogue.

    .venv/bin/python bench/attack_bench.py

Builds a fresh catalogue with the demo accounts (scrypt hashing, as in production), serves it
on a loopback port, and prints one line per attack: what was sent and what came back.
"""

from __future__ import annotations

import http.cookiejar
import random
import re
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from kb import create_app
from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD, create_demo_accounts
from kb.accounts.passwords import hash_password
from kb.cli import upgrade_database
from kb.config import ROOT
from kb.db import db, utcnow
from kb.seeding import load_catalogue

MEMBER, EDITOR = "member@eastmarch-police.example", "editor@eastmarch-police.example"
ENTRY = "officers-and-staff-posting-openly-on-duty"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ORGANISATIONS = [
    "harrowdale-constabulary", "glenharrow-health-board", "afoncaer-ahp-network",
    "strathbeck-council", "millbridge-borough-council", "westshire-fire-rescue",
    "cairnloch-fire-rescue", "brackenfield-college", "oakhurst-schools-trust",
]  # fmt: skip


class Browser:
    """Cookies, CSRF tokens and timings over plain HTTP."""

    def __init__(self, base: str, address: str = "") -> None:
        self.base, self.jar = base, http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        self.headers = {"X-Forwarded-For": address} if address else {}

    def open(self, path: str, data: dict | list | None = None) -> tuple[int, str, float]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=self.headers)
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=600) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        return status, text, time.perf_counter() - started

    def token(self, path: str = "/login") -> str:
        return CSRF.search(self.open(path)[1]).group(1)

    def post(self, path: str, data: dict, page: str = "/login") -> tuple[int, str, float]:
        return self.open(path, {"csrf_token": self.token(page), **data})

    def sign_in(self, email: str, password: str = DEMO_PASSWORD) -> tuple[int, str, float]:
        return self.post("/login", {"email": email, "password": password})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


def _serve(folder: Path, **config):
    app = create_app({
        "SECRET_KEY": "bench", "DATABASE_URL": f"sqlite:///{folder / 'kb.sqlite'}",
        "SEARCH_INDEX_DIR": str(folder / "search"), "SECURE_COOKIES": False,
        "MAIL_DIR": str(folder / "mail"), "TRUSTED_PROXIES": 1, **config,
    })  # fmt: skip
    with app.app_context():
        upgrade_database()
        load_catalogue(db.session, ROOT / "seed_data")
        create_demo_accounts(db.session, hash_password(DEMO_PASSWORD), utcnow())
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def _parallel(count: int, work) -> list:
    results, start = [None] * count, threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _edit_form(browser: Browser, slug: str) -> dict:
    page = browser.open(f"/entries/{slug}/edit")[1]
    fields = {}
    for tag in re.findall(r'<input[^>]*type="hidden"[^>]*>', page):
        name, value = re.search(r'name="(\w+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value:
            fields.setdefault(name.group(1), value.group(1))
    title = "Officers and staff posting openly on duty"
    return {**fields, "title": title, "summary": "A summary.", "channels": ["x-twitter"],
            "licence": "OGL-UK-3.0"}  # fmt: skip


def stall(base: str) -> None:
    """A member saves 200,000 "[" (the limit) while others sign in."""
    hostile = Browser(base, "192.0.2.1")
    hostile.sign_in(EDITOR)
    form = {**_edit_form(hostile, ENTRY), "body": "[" * 199_999, "action": "save"}
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(save=hostile.open(f"/entries/{ENTRY}/edit", form))
    )
    thread.start()
    time.sleep(0.05)
    sign_ins = [Browser(base, f"198.51.100.{n}").sign_in(MEMBER) for n in range(5)]
    thread.join()
    status, text, seconds = result["save"]
    refusal = re.search(r'<p class="field-error" id="body-error">.*?</span>(.*?)</p>', text, re.S)
    if refusal:
        print(f"   (refused: {refusal.group(1).strip()[:90]}...)")
    print(f"1. save of 199,999 '[': {status} in {seconds:.2f} s; 5 sign-ins meanwhile: "
          f"{[s for s, *_ in sign_ins]}, slowest {max(t for *_, t in sign_ins):.2f} s")  # fmt: skip
    preview = {**form, "body": "[" * 6_000, "action": "preview"}
    status, _text, seconds = hostile.open(f"/entries/{ENTRY}/edit", preview)
    print(f"   preview of 6,000 '[': {status} in {seconds:.2f} s")


def diffs(base: str, folder: Path) -> None:
    """Two revisions, each one line of random words, and their diff page."""
    rng = random.Random(7)
    words = [f"word{n}" for n in range(5_000)]
    editor = Browser(base, "192.0.2.2")
    editor.sign_in(EDITOR)
    for size in (29_000, 58_000, 116_000):
        status, page, _ = editor.post("/entries/new?kind=guidance", {
            "kind": "guidance", "title": f"Diff {size}", "summary": "x", "channels": "x-twitter",
            "licence": "OGL-UK-3.0", "body": _line(rng, words, size), "action": "publish",
            "similar_dismissed": "1"}, page="/entries/new?kind=guidance")  # fmt: skip
        if status != 302:
            print(
                f"   could not create the entry: {status} {re.findall(r'field-error.*?</p>', page)}"
            )
        slug = f"diff-{size}"
        form = {**_edit_form(editor, slug), "body": _line(rng, words, size), "action": "save"}
        editor.open(f"/entries/{slug}/edit", form)
        anonymous = Browser(base)
        status, page, seconds = anonymous.open(f"/entries/{slug}/diff/1/2")
        _, _, again = anonymous.open(f"/entries/{slug}/diff/1/2")
        status_c, _, compare = anonymous.open(f"/entries/{slug}/compare?from=1&to=2")
        note = "whole passages" if "too large to compare" in page else "word by word"
        print(f"2. diff of two {size // 1000} KB lines: {status} in {seconds:.2f} s ({note}), "
              f"again {again:.3f} s; /compare {status_c} in {compare:.3f} s")  # fmt: skip


def _line(rng, words, size: int) -> str:
    out, length = [], 0
    while length < size:
        out.append(rng.choice(words))
        length += len(out[-1]) + 1
    return " ".join(out)


def throttle(base: str) -> None:
    """Parallel wrong passwords: for one account, and for many accounts from one address."""
    browsers = [Browser(base, "203.0.113.5") for _ in range(15)]
    tokens = [b.token() for b in browsers]
    statuses = _parallel(
        15,
        lambda i: browsers[i].open(
            "/login", {"csrf_token": tokens[i], "email": MEMBER, "password": "wrong guess here"}
        )[0],
    )
    print(f"3. 15 parallel wrong passwords, one account: {_count(statuses)} (limit 5)")
    browsers = [Browser(base, "203.0.113.6") for _ in range(30)]
    tokens = [b.token() for b in browsers]
    statuses = _parallel(
        30,
        lambda i: browsers[i].open(
            "/login",
            {"csrf_token": tokens[i], "email": f"nobody{i}@x.example", "password": "wrong guess"},
        )[0],
    )
    print(f"   30 parallel wrong passwords, 30 accounts, one address: {_count(statuses)} "
          "(limit 20)")  # fmt: skip


def _count(statuses) -> str:
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    return ", ".join(f"{n} × {s}" for s, n in counts.items())


def crashes(base: str) -> None:
    anonymous = Browser(base)
    urls = ["/search?q=x&endpoint=x", "/search?q=police&_scheme=x", "/sectors/police?slug=x",
            "/orgs/eastmarch-police?kind=guidance&_anchor=x"]  # fmt: skip
    print(f"4. url_for names: {[anonymous.open(u)[0] for u in urls]}")
    huge = "99999999999999999999"
    gets = [f"/entries/{ENTRY}/revisions/{huge}", f"/entries/{ENTRY}/diff/1/{huge}",
            f"/entries/{ENTRY}/compare?from={huge}&to=1"]  # fmt: skip
    admin = Browser(base, "192.0.2.3")
    admin.sign_in(ADMIN_EMAIL)
    posts = [f"/entries/{ENTRY}/revert/{huge}", f"/borrow-requests/{huge}/grant",
             f"/admin/users/{huge}/role", f"/admin/requests/{huge}/approve",
             f"/orgs/eastmarch-police/members/{huge}/approve"]  # fmt: skip
    print(
        f"5. huge ids: GET {[anonymous.open(u)[0] for u in gets]}, "
        f"POST {[admin.post(u, {'role': 'editor'}, '/account')[0] for u in posts]}"
    )
    editors = [Browser(base, f"192.0.2.{10 + n}") for n in range(8)]
    for editor in editors:
        editor.sign_in(EDITOR)
    tokens = [e.token("/entries/new?kind=guidance") for e in editors]
    form = {"kind": "guidance", "title": "Same title, same moment", "summary": "x",
            "channels": "x-twitter", "licence": "OGL-UK-3.0", "body": "Text.",
            "action": "draft", "similar_dismissed": "1"}  # fmt: skip
    statuses = _parallel(
        8,
        lambda i: editors[i].open("/entries/new?kind=guidance", {**form, "csrf_token": tokens[i]})[
            0
        ],
    )
    print(f"6. 8 simultaneous new entries with one title: {_count(statuses)}")


def identity(base: str) -> None:
    editor = Browser(base, "192.0.2.30")
    editor.sign_in(EDITOR)
    status, *_ = editor.post("/orgs/eastmarch-police/edit", {
        "name": "Harrowdale  CONSTABULARY", "region": "", "website": "", "contact": "",
        "description": ""}, "/orgs/eastmarch-police/edit")  # fmt: skip
    listing = Browser(base).open("/orgs")[1]
    print(f"7. rename to another's name: {status}; /orgs lists it "
          f"{listing.count('>Harrowdale Constabulary<')} time(s)")  # fmt: skip
    real, unknown = [], []
    for n, organisation in enumerate(ORGANISATIONS):
        email = f"member@{organisation}.example"
        real.append(Browser(base, f"198.18.0.{n}").sign_in(email, "not the password")[2])
        unknown.append(Browser(base, f"198.18.1.{n}").sign_in(f"no{n}@x.example", "nope")[2])
    print(f"8. sign-in time, real address {statistics.median(real) * 1000:.0f} ms, unknown "
          f"{statistics.median(unknown) * 1000:.0f} ms (medians of {len(real)})")  # fmt: skip
    answers = []
    for email in (MEMBER, "brand.new@x.example"):
        browser = Browser(base, "198.18.2.1")
        status, _text, _ = browser.post("/register", {
            "email": email, "display_name": "Sam", "password": "plum kettle saxophone",
            "confirm": "plum kettle saxophone", "organisation": "eastmarch-police"},
            "/register")  # fmt: skip
        page = browser.open("/check-your-email")[1].replace(email, "@")
        answers.append((status, page))
    same = answers[0] == answers[1]
    print(
        f"   register an existing vs a new address: {answers[0][0]} / {answers[1][0]}, "
        f"pages {'identical' if same else 'DIFFERENT'} apart from the address"
    )
    writer = Browser(base, "192.0.2.31")
    writer.sign_in(EDITOR)
    body = ("![pixel](https://tracker.example/p.png)\n\n<a href=\"javascript:123\">x</a>\n\n"
            "| a |\n|---|\n| <a href=\"JaVaScRiPt:123\">y</a> |")  # fmt: skip
    form = {**_edit_form(writer, ENTRY), "body": body, "action": "preview"}
    page = writer.open(f"/entries/{ENTRY}/edit", form)[1]
    preview = page.split('class="preview"')[1].split("</section>")[0]
    shown = "shown as an image" if "<img" in preview else "shown as a link"
    kept = preview.lower().count("javascript:123")
    print(f"9/10. image from another host: {shown}; javascript: addresses kept: {kept}")


def lockout(base: str) -> None:
    colleague = Browser(base, "10.1.1.1")
    colleague.sign_in(MEMBER)
    colleague.post("/logout", {}, "/account")
    guesser = Browser(base, "10.1.1.1")
    for n in range(25):
        guesser.sign_in(f"person{n}@x.example", "wrong guess")
    status, text, _ = Browser(base, "10.1.1.1").sign_in(EDITOR)
    wait = re.search(r"Try again in ([^(]+)\(", text)
    print(f"11. after 25 failures from one address: a new browser there {status} "
          f"({wait.group(1).strip() if wait else 'no wait'}); a browser that signed in "
          f"before: {colleague.sign_in(MEMBER)[0]}")  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        base, server = _serve(Path(folder))
        try:
            stall(base)
            diffs(base, Path(folder))
            throttle(base)
            crashes(base)
            identity(base)
            lockout(base)
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
