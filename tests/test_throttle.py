"""Sign-in throttling (kb/accounts/throttle.py): counted atomically, per account and address
first, a doubling wait per account and per address instead of a lock, and known devices let
through. Times are moved by editing the stored counters, as if time had passed."""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest
from sqlalchemy import update

from kb.accounts import passwords
from kb.accounts.demo import DEMO_PASSWORD
from kb.accounts.throttle import DEVICE_COOKIE
from kb.models import LoginThrottle
from tests.conftest import dispose, make_app
from tests.test_accounts import database
from tests.web import csrf_token, sign_in, text

MEMBER = "member@eastmarch-police.example"
EDITOR = "editor@eastmarch-police.example"
WRONG = "not the right password"
OFFICE, HOME = "198.51.100.7", "203.0.113.9"


def client_at(app, address: str = "127.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def fail(client, email: str, times: int = 1) -> None:
    for _ in range(times):
        response = sign_in(client, email, WRONG)
        assert response.status_code == 400, response.status_code


def wait_of(response) -> int:
    """Seconds the 429 page asks for (its Retry-After, less the second of slack)."""
    assert response.status_code == 429, response.status_code
    assert "Too many failed attempts" in text(response)
    return int(response.headers["Retry-After"]) - 1


def age(app, seconds: float) -> None:
    """As if ``seconds`` had passed since every attempt counted so far."""
    with database(app) as session:
        session.execute(
            update(LoginThrottle).values(
                first_at=LoginThrottle.first_at - seconds,
                last_at=LoginThrottle.last_at - seconds,
                wait_until=LoginThrottle.wait_until - seconds,
            )
        )
        session.commit()


# Parallel guesses: the check and the count are one statement ----------------------------------


def _in_parallel(app, emails: list[str]) -> Counter:
    """Send one wrong password per email, all at once, from one address; count the answers."""
    clients = [client_at(app, OFFICE) for _ in emails]
    tokens = [csrf_token(client) for client in clients]
    start, statuses = threading.Barrier(len(emails)), []

    def attempt(client, token, email) -> None:
        start.wait()
        data = {"csrf_token": token, "email": email, "password": WRONG}
        statuses.append(client.post("/login", data=data).status_code)

    threads = [threading.Thread(target=attempt, args=args)
               for args in zip(clients, tokens, emails, strict=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses)


DATABASES = ["catalogue_app", "postgres_catalogue_app"]


@pytest.mark.parametrize("database_app", DATABASES)
def test_thirty_parallel_guesses_at_one_account_check_only_five(request, database_app):
    app = request.getfixturevalue(database_app)
    assert _in_parallel(app, [MEMBER] * 30) == {400: 5, 429: 25}


@pytest.mark.parametrize("database_app", DATABASES)
def test_thirty_parallel_guesses_from_one_address_check_only_its_limit(request, database_app):
    app = request.getfixturevalue(database_app)
    app.config.update(LOGIN_FAILURES_PER_ADDRESS=20, LOGIN_FIRST_DELAY_SECONDS=600)
    emails = [f"person{n}@strathbeck-council.example" for n in range(30)]
    assert _in_parallel(app, emails) == {400: 20, 429: 10}


# One account from one address, then from anywhere ---------------------------------------------


def test_five_failures_pause_that_address_for_the_account_until_the_window_ends(catalogue_app):
    catalogue_app.config["LOGIN_FIRST_DELAY_SECONDS"] = 30
    office, home = client_at(catalogue_app, OFFICE), client_at(catalogue_app, HOME)
    fail(office, MEMBER, 5)
    assert 890 <= wait_of(sign_in(office, MEMBER, DEMO_PASSWORD)) <= 900
    # Elsewhere the account only waits (the first delay), it is not locked.
    assert 20 <= wait_of(sign_in(home, MEMBER, DEMO_PASSWORD)) <= 30
    age(catalogue_app, 31)
    assert sign_in(home, MEMBER, DEMO_PASSWORD).status_code == 302
    assert wait_of(sign_in(client_at(catalogue_app, OFFICE), MEMBER, DEMO_PASSWORD)) > 800
    age(catalogue_app, 15 * 60)
    assert sign_in(client_at(catalogue_app, OFFICE), MEMBER, DEMO_PASSWORD).status_code == 302


def test_guesses_from_many_addresses_wait_twice_as_long_each_time(catalogue_app):
    for number in range(5):
        fail(client_at(catalogue_app, f"192.0.2.{number}"), MEMBER)
    waits = []
    for number in range(5, 10):
        attacker = client_at(catalogue_app, f"192.0.2.{number}")
        waits.append(wait_of(sign_in(attacker, MEMBER, WRONG)))
        age(catalogue_app, waits[-1])
        fail(attacker, MEMBER)
    assert waits == [1, 2, 4, 8, 16]
    page = text(sign_in(client_at(catalogue_app, HOME), MEMBER, DEMO_PASSWORD))
    assert re.search(r"Try again in 32 seconds \(after \d\d:\d\d:\d\d UTC\)", page)


def test_failures_count_whatever_the_case_of_the_email(catalogue_app):
    client = client_at(catalogue_app)
    fail(client, MEMBER.upper(), 3)
    fail(client, "Member@Eastmarch-Police.example", 2)
    assert sign_in(client, MEMBER, DEMO_PASSWORD).status_code == 429


def test_a_correct_password_starts_the_count_again(catalogue_app):
    client = client_at(catalogue_app)
    fail(client, MEMBER, 4)
    assert sign_in(client, MEMBER, DEMO_PASSWORD).status_code == 302
    again = client_at(catalogue_app)
    fail(again, MEMBER, 4)  # a fifth would pause the account if the first four still counted
    assert sign_in(again, MEMBER, DEMO_PASSWORD).status_code == 302


def test_counts_are_shared_between_processes(catalogue_app, tmp_path):
    second_app = make_app(tmp_path / "second", catalogue_app.config["DATABASE_URL"])
    first, second = client_at(catalogue_app), client_at(second_app)
    fail(first, MEMBER, 3)
    fail(second, MEMBER, 2)
    assert sign_in(first, MEMBER, DEMO_PASSWORD).status_code == 429
    assert sign_in(second, MEMBER, DEMO_PASSWORD).status_code == 429
    dispose(second_app)


# One address, many accounts: a shared office is never locked out ------------------------------


def test_an_address_waits_after_its_limit_but_its_known_browsers_do_not(catalogue_app):
    catalogue_app.config.update(LOGIN_FAILURES_PER_ADDRESS=20, LOGIN_FIRST_DELAY_SECONDS=600)
    colleague = client_at(catalogue_app, OFFICE)
    assert sign_in(colleague, MEMBER, DEMO_PASSWORD).status_code == 302
    colleague.post("/logout", data={"csrf_token": csrf_token(colleague, "/account")})
    guesser = client_at(catalogue_app, OFFICE)
    for number in range(20):
        fail(guesser, f"person{number}@strathbeck-council.example")
    assert wait_of(sign_in(guesser, "someone@strathbeck-council.example", WRONG)) <= 600
    # The colleague's browser signed in before: it is counted on its own.
    assert sign_in(colleague, MEMBER, DEMO_PASSWORD).status_code == 302
    # A new browser in the office waits a moment; anyone elsewhere does not.
    assert sign_in(client_at(catalogue_app, OFFICE), EDITOR, DEMO_PASSWORD).status_code == 429
    assert sign_in(client_at(catalogue_app, HOME), EDITOR, DEMO_PASSWORD).status_code == 302


def test_successful_sign_ins_do_not_use_up_the_address(catalogue_app):
    catalogue_app.config["LOGIN_FAILURES_PER_ADDRESS"] = 3
    for organisation in ("eastmarch-police", "harrowdale-constabulary", "strathbeck-council"):
        for role in ("member", "editor"):
            client = client_at(catalogue_app, OFFICE)
            assert (
                sign_in(client, f"{role}@{organisation}.example", DEMO_PASSWORD).status_code == 302
            )


# Known devices --------------------------------------------------------------------------------


def _known_browser(app, email: str = MEMBER):
    browser = client_at(app, HOME)
    assert sign_in(browser, email, DEMO_PASSWORD).status_code == 302
    cookie = browser.get_cookie(DEVICE_COOKIE, path="/login")
    assert cookie is not None and cookie.http_only and cookie.max_age >= 180 * 24 * 3600
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/account")})
    return browser


def _attack(app, email: str = MEMBER) -> None:
    """Guesses from five addresses: the account now waits ten minutes for anyone unknown."""
    app.config["LOGIN_FIRST_DELAY_SECONDS"] = 600
    for number in range(5):
        fail(client_at(app, f"192.0.2.{number}"), email)
    assert sign_in(client_at(app, "192.0.2.99"), email, DEMO_PASSWORD).status_code == 429


def test_a_browser_that_signed_in_before_gets_through_an_attack(catalogue_app):
    browser = _known_browser(catalogue_app)
    _attack(catalogue_app)
    assert sign_in(browser, MEMBER, DEMO_PASSWORD).status_code == 302
    assert sign_in(client_at(catalogue_app, HOME), MEMBER, DEMO_PASSWORD).status_code == 429


def test_a_device_cookie_works_only_for_its_own_account_and_only_if_genuine(catalogue_app):
    editors_browser = _known_browser(catalogue_app, EDITOR)
    _attack(catalogue_app)
    assert sign_in(editors_browser, MEMBER, DEMO_PASSWORD).status_code == 429
    forged = client_at(catalogue_app, HOME)
    value = editors_browser.get_cookie(DEVICE_COOKIE, path="/login").value
    forged.set_cookie(DEVICE_COOKIE, value[:-3] + "abc", path="/login")
    assert sign_in(forged, MEMBER, DEMO_PASSWORD).status_code == 429


def test_a_known_device_that_keeps_failing_loses_its_privilege(catalogue_app):
    browser = _known_browser(catalogue_app)
    fail(browser, MEMBER, 5)  # counted under the device alone
    _attack(catalogue_app)
    assert sign_in(browser, MEMBER, DEMO_PASSWORD).status_code == 429


# Whether an account exists does not show in the time taken -----------------------------------


def test_an_unknown_email_costs_one_password_hash_too(catalogue_app, monkeypatch):
    checked = []
    real = passwords.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checked.append(stored.split("$", 1)[0])
        return real(stored, password)

    monkeypatch.setattr(passwords, "check_password_hash", counting)
    sign_in(client_at(catalogue_app), "nobody@nowhere.example", WRONG)
    sign_in(client_at(catalogue_app), MEMBER, WRONG)
    method = catalogue_app.config["PASSWORD_HASH_METHOD"]
    assert checked == [method, method]
