"""The inbox, the unread count in the header, following and unfollowing, and email
preferences, over HTTP."""

from __future__ import annotations

import re

from sqlalchemy import select

from kb.db import db
from kb.models import Entry, Follow, Notification, Organisation
from tests.editor_support import add_user, entry_data, send, slug_from
from tests.notify_support import follow_through_page, received
from tests.web import signed_in

UNREAD = re.compile(r'class="count-badge">(\d+)<')


def _health(store):
    return store.scalar(select(Organisation).where(Organisation.slug == "glenharrow-health-board"))


def _police(store):
    return store.scalar(select(Organisation).where(Organisation.slug == "eastmarch-police"))


def _unread(client, url: str = "/about") -> int:
    found = UNREAD.search(client.get(url).get_data(as_text=True))
    return int(found.group(1)) if found else 0


def _publish(app, store, title: str) -> str:
    editor = signed_in(app, add_user(app, store, _police(store), role="editor"))
    data = entry_data(title=title, similar_dismissed="1", action="publish")
    return slug_from(send(editor, "/entries/new?kind=guidance", data))


def test_the_header_counts_unread_and_the_inbox_lists_newest_first(catalogue_app, store):
    person = add_user(catalogue_app, store, _health(store))
    client = follow_through_page(catalogue_app, person, "sector", "police")
    assert _unread(client) == 0
    first = _publish(catalogue_app, store, "Tidal bore viewing advice")
    second = _publish(catalogue_app, store, "Tidal bore parking changes")
    for page in ("/about", "/sectors/police", f"/entries/{first}", "/search?q=tidal"):
        assert _unread(client, page) == 2, page
    inbox = client.get("/notifications").get_data(as_text=True)
    assert inbox.index(second) < inbox.index(first)  # newest first
    assert inbox.count("Mark read") == 2
    [newest, _older] = [n.id for n in db_notifications(catalogue_app, person)]
    assert send(client, f"/notifications/{newest}/read", {}).status_code == 302
    assert _unread(client) == 1
    assert send(client, "/notifications/read", {}).status_code == 302
    assert _unread(client) == 0 and "Mark read" not in client.get("/notifications").text


def db_notifications(app, person) -> list[Notification]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(Notification)
                .where(Notification.user_id == person.id)
                .order_by(Notification.id.desc())
            )
        )


def test_nobody_reads_or_marks_another_person_s_notifications(catalogue_app, store):
    person = add_user(catalogue_app, store, _health(store))
    follow_through_page(catalogue_app, person, "sector", "police")
    _publish(catalogue_app, store, "Ferry timetable posts")
    [theirs] = db_notifications(catalogue_app, person)
    other = signed_in(catalogue_app, add_user(catalogue_app, store, _health(store)))
    assert send(other, f"/notifications/{theirs.id}/read", {}).status_code == 404
    assert "Ferry timetable posts" not in other.get("/notifications").text
    assert db_notifications(catalogue_app, person)[0].read_at is None


def test_a_notification_is_shown_only_while_its_entry_can_be_seen(catalogue_app, store):
    person = add_user(catalogue_app, store, _health(store))
    client = follow_through_page(catalogue_app, person, "sector", "police")
    slug = _publish(catalogue_app, store, "Cliff path closure notices")
    assert "Cliff path closure notices" in client.get("/notifications").text
    with catalogue_app.app_context():  # withdrawn to a draft behind the app's back
        db.session.scalar(select(Entry).where(Entry.slug == slug)).status = "draft"
        db.session.commit()
    assert "Cliff path closure notices" not in client.get("/notifications").text


def test_follow_then_unfollow_from_the_page_and_from_the_list(catalogue_app, store):
    person = add_user(catalogue_app, store, _health(store))
    client = signed_in(catalogue_app, person)
    page = client.get("/channels/youtube").text
    assert 'aria-pressed="false"' in page and ">Follow<" in page
    assert (
        send(
            client, "/follow", {"kind": "channel", "target": "youtube", "next": "/channels/youtube"}
        ).headers["Location"]
        == "/channels/youtube"
    )
    assert 'aria-pressed="true"' in client.get("/channels/youtube").text
    following = client.get("/account/following").text
    assert "YouTube" in following and "Channels" in following
    send(client, "/follow", {"kind": "channel", "target": "youtube", "action": "unfollow"})
    assert ">YouTube</a>" not in client.get("/account/following").text
    send(
        client,
        "/follow",
        {"kind": "search", "query": "q=podcast&sector=police&page=3", "name": "Police podcasts"},
    )
    with catalogue_app.app_context():
        saved = db.session.scalar(select(Follow).where(Follow.user_id == person.id))
        assert (saved.query, saved.name) == ("q=podcast&sector=police", "Police podcasts")
    assert send(client, f"/account/following/{saved.id}/remove", {}).status_code == 302
    assert ">Police podcasts</a>" not in client.get("/account/following").text


def test_following_is_private(catalogue_app, store):
    person = add_user(catalogue_app, store, _health(store), display_name="Fenella Follower")
    follow_through_page(catalogue_app, person, "organisation", "eastmarch-police")
    for url in ("/orgs/eastmarch-police", "/sectors/police", "/search?q=police"):
        for client in (
            catalogue_app.test_client(),
            signed_in(catalogue_app, add_user(catalogue_app, store, _police(store))),
        ):
            assert "Fenella Follower" not in client.get(url).text
    other = signed_in(catalogue_app, add_user(catalogue_app, store, _health(store)))
    with catalogue_app.app_context():
        theirs = db.session.scalar(select(Follow.id).where(Follow.user_id == person.id))
    assert send(other, f"/account/following/{theirs}/remove", {}).status_code == 404


def test_following_needs_a_real_thing(catalogue_app, store):
    client = signed_in(catalogue_app, add_user(catalogue_app, store, _health(store)))
    assert send(client, "/follow", {"kind": "sector", "target": "nowhere"}).status_code == 404
    assert send(client, "/follow", {"kind": "spaceship", "target": "x"}).status_code == 400
    police = _police(store)
    draft = slug_from(
        send(
            signed_in(catalogue_app, add_user(catalogue_app, store, police)),
            "/entries/new?kind=guidance",
            entry_data(title="Secret draft plan", similar_dismissed="1"),
        )
    )
    assert send(client, "/follow", {"kind": "entry", "target": draft}).status_code == 404


def test_email_preferences(catalogue_app, store):
    person = add_user(catalogue_app, store, _health(store))
    client = signed_in(catalogue_app, person)
    page = client.get("/account/notifications").text
    assert "Straight away" in page and 'value="immediately" checked' in page
    assert send(client, "/account/notifications", {"frequency": "weekly"}).status_code == 302
    assert 'value="weekly" checked' in client.get("/account/notifications").text
    refused = send(client, "/account/notifications", {"frequency": "hourly"})
    assert refused.status_code == 400 and "Not a valid choice" in refused.text
    follow_through_page(catalogue_app, person, "sector", "police")
    _publish(catalogue_app, store, "Weekly readers' notice")
    assert (
        received(catalogue_app, person)
        and db_notifications(catalogue_app, person)[0].emailed_at is None
    )


def test_pages_need_signing_in(catalogue_app):
    client = catalogue_app.test_client()
    for url in ("/notifications", "/account/following", "/account/notifications"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
