"""Views for registering, signing in and out, and the account page."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kb import permissions
from kb.accounts import bp, recovery, services, sessions, throttle
from kb.accounts.forms import NEW_ORGANISATION, LoginForm, NameForm, PasswordForm, RegisterForm
from kb.accounts.passwords import check_password, hash_password
from kb.accounts.recovery_views import may_email, sent
from kb.borrowing.lineage import waiting_for
from kb.db import db, utcnow
from kb.entries.queries import organisation_drafts
from kb.models import Organisation, Sector, User
from kb.orgs.names import NameUnavailable, check_available
from kb.security import safe_next


def _status(form) -> int:
    """400 when the submitted form has errors, so they are not mistaken for success."""
    return 400 if any(field.errors for field in form) else 200


def _organisation_choices(form: RegisterForm) -> None:
    organisations = db.session.scalars(select(Organisation).order_by(Organisation.name)).all()
    form.organisation.choices = [("", "Choose your organisation")]
    form.organisation.choices += [(o.slug, o.name) for o in organisations]
    form.organisation.choices.append((NEW_ORGANISATION, "My organisation is not listed"))
    sectors = db.session.scalars(select(Sector).order_by(Sector.position)).all()
    form.new_sector.choices = [("", "Choose a sector")] + [(s.slug, s.name) for s in sectors]


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.account"))
    form = RegisterForm()
    _organisation_choices(form)
    if form.validate_on_submit() and _new_organisation_name_free(form):
        # The same answer, and about the same time, whether or not the address has an account:
        # the password is hashed either way, and the owner of an existing one is told by email.
        email = services.normalise_email(form.email.data)
        password_hash = hash_password(form.password.data)
        user = _register(form, password_hash)
        sign_in_link = url_for("accounts.login", _external=True)
        if user is not None:
            message = recovery.welcome(current_app.config, user, sign_in=sign_in_link)
        else:
            existing = db.session.scalar(select(User).where(User.email == email))
            message = None
            if existing is not None and may_email(email, "notice"):
                reset = url_for("accounts.forgot_password", _external=True)
                message = recovery.already_registered(
                    current_app.config, existing, sign_in=sign_in_link, reset=reset
                )
            db.session.commit()
        return sent(email, "register", message)
    return render_template("accounts/register.html", form=form), _status(form)


def _new_organisation_name_free(form: RegisterForm) -> bool:
    if form.organisation.data != NEW_ORGANISATION:
        return True
    try:
        check_available(db.session, form.new_name.data, utcnow())
    except NameUnavailable as refusal:
        form.new_name.errors.append(f"{refusal} If it is yours, choose it in the list above.")
        return False
    return True


def _register(form: RegisterForm, password_hash: str) -> User | None:
    """The new account (not signed in: that happens through the sign-in page), or None if
    the address already has one."""
    if services.email_taken(db.session, form.email.data):
        return None
    organisation = new_organisation = None
    if form.organisation.data == NEW_ORGANISATION:
        sector = db.session.scalar(select(Sector).where(Sector.slug == form.new_sector.data))
        new_organisation = services.NewOrganisation(
            form.new_name.data, sector, form.new_website.data or ""
        )
    else:
        organisation = db.session.scalar(
            select(Organisation).where(Organisation.slug == form.organisation.data)
        )
    try:
        user = services.register(
            db.session,
            email=form.email.data,
            display_name=form.display_name.data,
            password_hash=password_hash,
            organisation=organisation,
            new_organisation=new_organisation,
            now=utcnow(),
        )
    except IntegrityError:  # the same email registered a moment ago in another request
        db.session.rollback()
        return None
    db.session.commit()
    return user


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target or url_for("accounts.account"))
    if not form.validate_on_submit():
        return render_template("accounts/login.html", form=form), _status(form)
    email, address = services.normalise_email(form.email.data), request.remote_addr or "unknown"
    now, config = utcnow(), current_app.config
    device = throttle.known_device(
        config["SECRET_KEY"], request.cookies.get(throttle.DEVICE_COOKIE), email,
        timedelta(days=config["DEVICE_DAYS"]),
    )  # fmt: skip
    # The attempt is counted, and committed, before the password is checked: parallel guesses
    # see each other, and no write lock is held while the hash is computed. Ending the read
    # first (loading the signed-in user) keeps the count the transaction's first statement.
    db.session.commit()
    attempt = throttle.count_attempt(
        db.session, email=email, address=address, device=device,
        limits=throttle.limits_from(config), now=now,
    )  # fmt: skip
    db.session.commit()
    if attempt.retry_at is not None:
        seconds = attempt.wait_seconds(now)
        response = render_template(
            "accounts/login.html", form=form, retry_at=attempt.retry_at,
            retry_wait=throttle.wait_words(seconds),
        )  # fmt: skip
        return response, 429, {"Retry-After": str(seconds + 1)}
    user = db.session.scalar(select(User).where(User.email == email))
    # Without an account a dummy hash is checked, so the answer takes as long either way.
    if not check_password(user.password_hash if user else None, form.password.data):
        form.password.errors.append("The email address or password is not right.")
        return render_template("accounts/login.html", form=form), 400
    throttle.succeeded(db.session, attempt.counted)
    sessions.sign_in_browser(user, remember=form.remember.data)
    db.session.commit()
    flash(f"Signed in as {user.display_name}.", "success")
    response = redirect(target or url_for("accounts.account"))
    response.set_cookie(
        throttle.DEVICE_COOKIE, throttle.device_token(config["SECRET_KEY"], email),
        max_age=int(timedelta(days=config["DEVICE_DAYS"]).total_seconds()), path="/login",
        secure=config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax",
    )  # fmt: skip
    return response


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        sessions.end_session(db.session, current_user.get_id())
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("browse.home"))


def _account_page(name_form=None, password_form=None, status=200):
    user = current_user
    drafts, waiting = [], None
    if permissions.is_active_member(user):
        drafts = organisation_drafts(db.session, user.organisation_id)
        waiting = waiting_for(db.session, user.organisation)
    return (
        render_template(
            "accounts/account.html",
            name_form=name_form or NameForm(display_name=user.display_name),
            password_form=password_form or PasswordForm(user=user, formdata=None),
            request_pending=services.pending_request(db.session, user),
            drafts=drafts,
            waiting=waiting,
        ),
        status,
    )


@bp.get("/account")
@login_required
def account():
    return _account_page()


@bp.post("/account/name")
@login_required
def change_name():
    form = NameForm()
    if not form.validate_on_submit():
        return _account_page(name_form=form, status=400)
    current_user.display_name = form.display_name.data.strip()
    db.session.commit()
    flash("Your display name has been changed.", "success")
    return redirect(url_for("accounts.account"))


@bp.post("/account/password")
@login_required
def change_password():
    user = current_user._get_current_object()
    form = PasswordForm(user=user)
    valid = form.validate_on_submit()
    if valid and not check_password(user.password_hash, form.current.data):
        form.current.errors.append("Your current password is not right.")
        valid = False
    if not valid:
        return _account_page(password_form=form, status=400)
    services.change_password(db.session, user, hash_password(form.password.data))
    sessions.sign_in_browser(user, remember=False)
    db.session.commit()
    flash("Your password has been changed. Other devices have been signed out.", "success")
    return redirect(url_for("accounts.account"))
