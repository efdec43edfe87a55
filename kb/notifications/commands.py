"""``kb send-mail``, ``kb send-digests`` and ``kb remind-reviews``: safe to run from cron."""

from __future__ import annotations

from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext

from kb.db import db
from kb.models import EmailFrequency
from kb.notifications.outbox import deliver_due, retry_given_up
from kb.notifications.schedule import queue_digests, remind_reviews


def _deliver() -> None:
    report = deliver_due(current_app, db.session, limit=10_000)
    click.echo(f"Email delivered: {report.sent}; nothing left to tell: {report.skipped}.")
    for failure in report.retrying:
        click.echo(f"  not delivered, will retry: {failure}", err=True)
    for failure in report.given_up:
        click.echo(f"  not delivered after every retry (kept; 'kb send-mail --retry' tries "
                   f"again): {failure}", err=True)  # fmt: skip
    if report.retrying or report.given_up:
        raise click.exceptions.Exit(1)


@click.command("send-mail")
@click.option("--retry", is_flag=True, help="First put messages that were given up on back.")
@with_appcontext
def send_mail_command(retry: bool) -> None:
    """Deliver the email outbox now (the running site also does this by itself)."""
    if retry:
        click.echo(f"Put back in the queue: {retry_given_up(db.session)}.")
    _deliver()


@click.command("send-digests")
@click.argument("frequency", type=click.Choice(["daily", "weekly"]))
@with_appcontext
def send_digests_command(frequency: str) -> None:
    """Email everyone who chose FREQUENCY digests what they have not been emailed yet."""
    queued = queue_digests(current_app, db.session, EmailFrequency(frequency))
    click.echo(f"Digests queued: {queued}.")
    _deliver()


@click.command("remind-reviews")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Pretend it is this day.")
@with_appcontext
def remind_reviews_command(today) -> None:
    """Tell editors about entries due for review in 30 days, or today (never twice)."""
    day = today.date() if today else date.today()
    click.echo(f"Review reminders: {remind_reviews(current_app, db.session, day)}.")
    _deliver()


COMMANDS = (send_mail_command, send_digests_command, remind_reviews_command)
