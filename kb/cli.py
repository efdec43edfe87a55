"""The ``kb`` command: a FlaskGroup of thin wrappers over services.

``kb run`` is Flask's own; ``kb init`` migrates, loads the sample catalogue and its demo
accounts into an empty database and brings the search index up to date; ``kb reindex``,
``kb index-check`` and ``kb optimize`` look after the index; ``kb backup`` and ``kb restore``
copy a SQLite database out and back; ``kb db upgrade`` / ``kb db revision`` wrap Alembic.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from alembic import command as alembic
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import exists, select

from kb import backups
from kb.accounts.demo import DEMO_PASSWORD, create_demo_accounts, demo_accounts
from kb.accounts.passwords import hash_password, password_problems
from kb.accounts.services import create_account
from kb.db import db, utcnow
from kb.models import Entry, Organisation, Role, User
from kb.notifications.events import quietly
from kb.search import SearchUnavailable, get_index
from kb.search.check import check as check_index
from kb.search.sync import replicas as search_replicas
from kb.seeding import SeedError, SeedReport, load_catalogue, load_taxonomy


def alembic_config() -> AlembicConfig:
    """Alembic's config for the current app: our migrations folder, our database URL."""
    config = AlembicConfig()
    config.set_main_option("script_location", current_app.config["MIGRATIONS_DIR"])
    config.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"])
    return config


def upgrade_database() -> None:
    """Migrate the configured database to the newest revision."""
    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        alembic.upgrade(config, "head")


def _print_report(report: SeedReport) -> None:
    for what in ("sectors", "channels", "topics", "organisations", "entries", "adoptions",
                 "revisions", "requests"):  # fmt: skip
        created, unchanged = report.created.get(what, 0), report.unchanged.get(what, 0)
        if created or unchanged:
            click.echo(f"  {what}: {created} added, {unchanged} already present")


def _seed(loader) -> SeedReport:
    try:
        with quietly(db.session):  # loading the sample catalogue is nobody's news
            report = loader(db.session, Path(current_app.config["SEED_DIR"]))
            db.session.commit()
    except SeedError as error:
        db.session.rollback()
        click.echo("The sample catalogue has problems; nothing was loaded:", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        raise click.exceptions.Exit(1) from None
    _print_report(report)
    return report


def _add_demo_accounts() -> None:
    with quietly(db.session):
        added = create_demo_accounts(db.session, hash_password(DEMO_PASSWORD), utcnow())
        db.session.commit()
    if added:
        click.echo(f"  demo accounts: {added} added")


def _print_demo_accounts() -> None:
    accounts = demo_accounts(db.session)
    if not accounts:
        return
    click.echo("")
    click.echo(f"Demo accounts (sample content only), all with the password: {DEMO_PASSWORD}")
    for account in accounts:
        where = f", {account.organisation}" if account.organisation else ""
        click.echo(f"  {account.email:<48} {account.role}{where}")


@click.command("init")
@with_appcontext
@click.option("--no-sample", is_flag=True, help="Load only the taxonomy, not the sample catalogue.")
@click.option("--no-demo", is_flag=True, help="Do not create the demo accounts.")
def init_command(no_sample: bool, no_demo: bool) -> None:
    """Migrate the database; load the sample catalogue (and demo accounts) if it is empty."""
    upgrade_database()
    click.echo("Database is up to date.")
    empty = not db.session.scalar(select(exists().where(Entry.id.is_not(None))))
    if no_sample or not empty:
        _seed(load_taxonomy)
        if not no_sample:
            click.echo("The database already has entries; the sample catalogue was not loaded.")
    else:
        click.echo("Loading the sample catalogue:")
        _seed(load_catalogue)
        if not no_demo:
            _add_demo_accounts()
    _print_demo_accounts()
    _bring_index_up_to_date()


def _bring_index_up_to_date() -> None:
    report, applied = get_index().ensure()
    if report is None:
        click.echo(f"Search index is up to date ({applied} entries re-read).")
    else:
        click.echo(f"Search index built: {report.documents} entries in {report.seconds:.1f} s.")


@click.command("reindex")
@with_appcontext
@click.option(
    "--procs",
    default=min(2, os.cpu_count() or 1),
    show_default="2, or 1 on a one-core machine",
    help="Processes indexing in parallel.",
)
def reindex_command(procs: int) -> None:
    """Rebuild the search index from the database in a new folder and swap it in atomically;
    searches keep being answered meanwhile."""
    index = get_index()
    report = index.rebuild(procs=procs)
    index.catch_up(timeout=10)
    peak = f", at most {report.peak_mb:.0f} MB per process" if report.peak_mb else ""
    click.echo(
        f"Search index rebuilt: {report.documents} entries in {report.seconds:.1f} s"
        f" ({report.segments} segment{'' if report.segments == 1 else 's'}{peak})."
    )


@click.command("index-check")
@with_appcontext
def index_check_command() -> None:
    """Compare the search index with the database; exit 1 if they differ or it is damaged."""
    drift = check_index(get_index())
    if drift.clean:
        click.echo("Search index matches the database.")
        _list_replicas()
        return
    for problem in drift.damage:
        click.echo(f"  damaged: {problem}", err=True)
    findings = [
        ("missing", drift.missing),
        ("phantom", drift.phantoms),
        ("stale", drift.stale),
        ("duplicated", drift.duplicates),
        ("in the wrong index (drafts and public apart)", drift.misplaced),
    ]
    for label, ids in findings:
        if ids:
            shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
            click.echo(f"  {len(ids)} {label} (entry ids {shown})", err=True)
    if drift.pending:
        click.echo(f"  {drift.pending} changes not yet applied", err=True)
    if drift.behind:
        click.echo("  the change log was pruned past what this index has applied", err=True)
    if drift.damage or drift.behind:
        click.echo("Search index must be rebuilt; the running site does that by itself, and "
                   "'kb reindex' does it now.", err=True)  # fmt: skip
    else:
        click.echo("Search index differs from the database. It catches up on the next search "
                   "or save; 'kb reindex' rebuilds it.", err=True)  # fmt: skip
    _list_replicas()
    raise click.exceptions.Exit(1)


def _list_replicas() -> None:
    for replica in search_replicas(get_index().engine):
        click.echo(f"Replica {replica.name} at {replica.location}: applied change "
                   f"{replica.applied}, seen {replica.seen_at:%Y-%m-%d %H:%M} UTC")  # fmt: skip


@click.command("optimize")
@with_appcontext
def optimize_command() -> None:
    """Merge the search index into one segment and prune change-log rows every live replica
    has applied."""
    try:
        pruned = get_index().optimize()
    except SearchUnavailable:
        raise click.ClickException(
            "The search index cannot be optimised while it is missing or damaged; "
            "run 'kb reindex' first."
        ) from None
    click.echo(f"Search index optimised; {pruned.rows} applied change-log rows pruned.")
    for replica in pruned.ignored:
        click.echo(
            f"Replica {replica.name} at {replica.location} was not seen since "
            f"{replica.seen_at:%Y-%m-%d}; it will rebuild itself when it returns."
        )


@click.command("backup")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Copy the SQLite database to PATH while the site keeps serving: one consistent snapshot,
    checked before it is named PATH. (PostgreSQL: pg_dump; see the README.)"""
    try:
        made = backups.backup(db.engine, path)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backed up {made.entries} entries and {made.revisions} revisions to {made.path} "
               f"({made.size / 1e6:.1f} MB).")  # fmt: skip


@click.command("restore")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the database without asking first.")
def restore_command(path: Path, yes: bool) -> None:
    """Replace the SQLite database with the backup at PATH, migrate it, and rebuild the search
    index (other index folders rebuild themselves on their next search)."""
    target = backups.database_file(db.engine) if db.engine.dialect.name == "sqlite" else None
    if target is not None and not yes:
        click.confirm(f"This replaces everything in {target} with {path}. Continue?", abort=True)
    index = get_index()
    try:
        floor = backups.restore(db.engine, path, index.applied())
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    upgrade_database()
    backups.settle_log(db.engine, floor)
    report = index.rebuild()
    index.catch_up(timeout=10)
    click.echo(f"Restored {path}; search index rebuilt: {report.documents} entries in "
               f"{report.seconds:.1f} s.")  # fmt: skip


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Load whatever of the sample catalogue is missing (safe to run again)."""
    _seed(load_catalogue)


@click.command("create-user")
@with_appcontext
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--org", "org_slug", help="Slug of the user's organisation.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.MEMBER.value)
@click.option("--admin", is_flag=True, help="Shorthand for --role admin.")
@click.password_option(help="Prompted for, hidden, if not given.")
def create_user_command(email, display_name, org_slug, role, admin, password) -> None:
    """Create an approved account (the first admin, say)."""
    role = Role.ADMIN.value if admin else role
    email = email.strip().lower()
    if db.session.scalar(select(User).where(User.email == email)):
        raise click.UsageError(f"a user with email {email} already exists")
    organisation = None
    if org_slug:
        organisation = db.session.scalar(select(Organisation).where(Organisation.slug == org_slug))
        if organisation is None:
            raise click.UsageError(f"no organisation with slug {org_slug!r}")
    elif role != Role.ADMIN.value:
        raise click.UsageError("members and editors need --org")
    problems = password_problems(password, email=email, display_name=display_name)
    if problems:
        raise click.UsageError(problems[0])
    create_account(
        db.session, email=email, display_name=display_name, password_hash=hash_password(password),
        organisation=organisation, role=role, now=utcnow(), approved=True,
    )  # fmt: skip
    db.session.commit()
    click.echo(f"Created {role} {email}.")


@click.group("db")
def db_group() -> None:
    """Database migrations (Alembic)."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade_command() -> None:
    """Migrate the database to the newest revision."""
    upgrade_database()
    click.echo("Database is up to date.")


@db_group.command("revision")
@with_appcontext
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True, help="Compare models with the database.")
def db_revision_command(message: str, autogenerate: bool) -> None:
    """Write a new migration file under migrations/versions/."""
    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        alembic.revision(config, message=message, autogenerate=autogenerate)


def init_app(app: Flask) -> None:
    commands = (init_command, seed_command, create_user_command, reindex_command,
                index_check_command, optimize_command, backup_command, restore_command,
                db_group)  # fmt: skip
    from kb.notifications.commands import COMMANDS as notification_commands

    for command in (*commands, *notification_commands):
        app.cli.add_command(command)


def make_cli() -> FlaskGroup:
    """The ``kb`` command: Flask's own commands (``run``, ``routes``, ...) plus Span's."""
    from kb import create_app

    return FlaskGroup(create_app=create_app, help="Span: manage the knowledge base.")


def main() -> None:
    make_cli()()
