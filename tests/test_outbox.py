"""Email through the transactional outbox, against a real SMTP server on loopback.

Queued in the same transaction as the change (a rolled-back change sends nothing); delivered
at least once with a fixed Message-ID, even across a sender killed between delivery and
marking sent; retried when the server refuses, then reported, and nothing lost; digests;
one-click unsubscribe without signing in.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from kb.accounts.demo import DEMO_PASSWORD
from kb.db import db, utcnow
from kb.models import EmailFrequency, Entry, Organisation, OutboxMessage, User
from kb.notifications.outbox import MAX_ATTEMPTS, unsubscribe_token
from tests.editor_support import add_user, entry_data, send, slug_from
from tests.notify_support import follow_through_page, outbox, received
from tests.search_support import edit, finish
from tests.web import csrf_token, sign_in, signed_in

EDITOR = "editor@eastmarch-police.example"


class Inbox:
    """An SMTP server's handler that keeps what it is sent, or refuses everything."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.refuse:
            return "550 Mailbox unavailable"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield inbox
    controller.stop()


@pytest.fixture
def mail_app(catalogue_app, smtp):
    catalogue_app.config.update(MAIL_URL=smtp.url, MAIL_CLAIM_SECONDS=1)
    return catalogue_app


@pytest.fixture
def follower(mail_app, store):
    """Someone of another organisation who follows the police sector."""
    health = store.scalar(
        select(Organisation).where(Organisation.slug == "glenharrow-health-board")
    )
    person = add_user(mail_app, store, health, email="follower@health.example.org")
    follow_through_page(mail_app, person, "sector", "police")
    return person


def _publish(app, title: str) -> str:
    client = app.test_client()
    assert sign_in(client, EDITOR, DEMO_PASSWORD).status_code == 302
    client.csrf = csrf_token(client, "/about")
    data = entry_data(title=title, similar_dismissed="1", action="publish")
    return slug_from(send(client, "/entries/new?kind=guidance", data))


def test_an_email_goes_through_a_real_smtp_server_with_the_right_headers(mail_app, smtp, follower):
    slug = _publish(mail_app, "Lantern walk safety messages")
    [queued] = outbox(mail_app)
    result = mail_app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    [email] = smtp.messages
    assert email["To"] == "follower@health.example.org"
    assert email["Message-ID"] == queued.message_id
    assert "Lantern walk safety messages" in email["Subject"]
    unsubscribe = str(email["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith("<http") and "/unsubscribe/" in unsubscribe
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = {part.get_content_type(): part.get_content() for part in email.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    for body in parts.values():
        assert f"/entries/{slug}" in body and "/account/notifications" in body
    assert outbox(mail_app)[0].sent_at is not None
    assert (
        mail_app.test_cli_runner()
        .invoke(args=["send-mail"])
        .output.startswith("Email delivered: 0")
    )


def test_a_rolled_back_change_queues_nothing(mail_app, follower):
    with mail_app.app_context():
        session = db.session
        draft = session.scalar(select(Entry).where(Entry.status == "published").limit(1))
        edit(session, draft, summary="Never committed.")
        session.flush()
        session.rollback()
    assert outbox(mail_app) == [] and received(mail_app, follower) == []


def test_a_sender_killed_after_delivering_delivers_again_with_the_same_message_id(
    mail_app, smtp, follower, tmp_path
):
    _publish(mail_app, "Harbour festival crowd updates")
    [queued] = outbox(mail_app)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.notify_support",
            "send-and-die",
            str(tmp_path / "instance"),
            mail_app.config["DATABASE_URL"],
            smtp.url,
        ],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = finish(process, timeout=60)
    assert process.returncode == -signal.SIGKILL, out + err
    assert len(smtp.messages) == 1 and outbox(mail_app)[0].sent_at is None  # delivered, unmarked
    time.sleep(1.2)  # the dead sender's claim lapses
    assert mail_app.test_cli_runner().invoke(args=["send-mail"]).exit_code == 0
    assert [m["Message-ID"] for m in smtp.messages] == [queued.message_id] * 2
    assert outbox(mail_app)[0].sent_at is not None


def test_a_refusing_server_is_retried_reported_and_nothing_is_lost(mail_app, smtp, follower):
    _publish(mail_app, "River level alerts by text")
    smtp.refuse = True
    runner = mail_app.test_cli_runner()
    first = runner.invoke(args=["send-mail"])
    assert first.exit_code == 1 and "will retry" in first.stderr and "550" in first.stderr
    [queued] = outbox(mail_app)
    assert queued.sent_at is None and queued.attempts == 1 and queued.next_attempt_at > utcnow()
    with mail_app.app_context():  # time passes: every retry comes due and is refused
        for _ in range(MAX_ATTEMPTS - 1):
            db.session.get(OutboxMessage, queued.id).next_attempt_at = utcnow()
            db.session.commit()
            runner.invoke(args=["send-mail"])
    last = outbox(mail_app)[0]
    assert last.given_up_at is not None and last.sent_at is None
    smtp.refuse = False
    assert runner.invoke(args=["send-mail"]).output.startswith("Email delivered: 0")
    again = runner.invoke(args=["send-mail", "--retry"])
    assert again.exit_code == 0 and "Email delivered: 1" in again.output
    assert len(smtp.messages) == 1 and outbox(mail_app)[0].sent_at is not None


def test_digests_gather_a_person_s_notifications_into_one_email(mail_app, smtp, follower, store):
    with mail_app.app_context():
        db.session.get(User, follower.id).email_frequency = EmailFrequency.DAILY.value
        db.session.commit()
    for title in ("Beacon rota one", "Beacon rota two", "Beacon rota three"):
        _publish(mail_app, title)
    assert outbox(mail_app) == []  # nothing straight away for a daily digest
    runner = mail_app.test_cli_runner()
    assert runner.invoke(args=["send-digests", "weekly"]).output.startswith("Digests queued: 0")
    result = runner.invoke(args=["send-digests", "daily"])
    assert result.exit_code == 0 and "Digests queued: 1" in result.output
    [email] = smtp.messages
    assert "3 notifications" in email["Subject"]
    text = email.get_body(("plain",)).get_content()
    assert all(f"Beacon rota {n}" in text for n in ("one", "two", "three"))
    assert len(json.loads(outbox(mail_app)[0].notification_ids)) == 3
    runner.invoke(args=["send-digests", "daily"])
    assert len(smtp.messages) == 1  # nothing twice


def test_unsubscribing_takes_one_click_and_no_sign_in(mail_app, follower):
    client = mail_app.test_client()
    token = unsubscribe_token(mail_app, follower.id)
    assert client.get(f"/unsubscribe/{token}").status_code == 200
    # A mail program's one-click POST (RFC 8058): no session, no form token.
    response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "no more emails" in response.get_data(as_text=True)
    with mail_app.app_context():
        assert db.session.get(User, follower.id).email_frequency == "off"
    _publish(mail_app, "Quiet harbour notices")
    assert outbox(mail_app) == [] and received(mail_app, follower)  # told in Span, not by email


def test_a_tampered_or_expired_unsubscribe_link_changes_nothing(mail_app, follower, monkeypatch):
    client = mail_app.test_client()
    token = unsubscribe_token(mail_app, follower.id)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    long_ago = time.time() - 91 * 86400
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: long_ago)
    expired = unsubscribe_token(mail_app, follower.id)
    monkeypatch.undo()
    for bad in (tampered, expired, "not-a-token"):
        assert client.post(f"/unsubscribe/{bad}").status_code == 400
        assert client.get(f"/unsubscribe/{bad}").status_code == 400
    with mail_app.app_context():
        assert db.session.get(User, follower.id).email_frequency == "immediately"
    assert signed_in(mail_app, follower)  # and the person is untouched
