"""Views for a forgotten password (an emailed one-time link) and the "check your email" page
that registering and asking for a link both end on, whatever the address."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from flask import current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select

from kb import mail
from kb.accounts import bp, recovery, services, sessions, throttle
from kb.accounts.forms import ForgotForm, ResetForm
from kb.accounts.passwords import hash_password
from kb.db import db, utcnow
from kb.models import User

MAIL_SETTINGS = ("MAIL_URL", "MAIL_DIR", "MAIL_FROM")


def may_email(email: str, purpose: str) -> bool:
    """Whether one more email for ``purpose`` may go to ``email`` (``throttle.may_send``)."""
    window = timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])
    address = request.remote_addr or "unknown"
    return throttle.may_send(db.session, purpose, email, address, window, utcnow())


def sent(email: str, purpose: str, message: EmailMessage | None):
    """The same answer whether or not anything was sent: the "check your email" page. The
    message goes once the answer has been delivered, so its sending takes no visible time."""
    session["sent_to"], session["sent_for"] = email, purpose
    response = redirect(url_for("accounts.check_email"))
    if message is not None:
        settings = {name: current_app.config[name] for name in MAIL_SETTINGS}
        logger = current_app.logger

        def deliver() -> None:
            try:
                mail.send(settings, message)
            except mail.MailError as error:
                logger.error("Email to %s not sent: %s", message["To"], error)

        response.call_on_close(deliver)
    return response


@bp.get("/check-your-email")
def check_email():
    if "sent_to" not in session:
        return redirect(url_for("accounts.login"))
    return render_template(
        "accounts/sent.html", email=session["sent_to"], purpose=session.get("sent_for")
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotForm()
    if not form.validate_on_submit():
        return render_template("accounts/forgot.html", form=form), 400 if form.errors else 200
    email = services.normalise_email(form.email.data)
    user = db.session.scalar(select(User).where(User.email == email))
    message = None
    if user is not None and may_email(email, "reset"):
        token = recovery.reset_token(current_app.config["SECRET_KEY"], user)
        link = url_for("accounts.reset_password", token=token, _external=True)
        message = recovery.reset_link(current_app.config, user, link=link)
    db.session.commit()
    return sent(email, "reset", message)


def _reset_page(template: str, status: int, **context):
    response = current_app.make_response((render_template(template, **context), status))
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is a key: never pass it on
    return response


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    config = current_app.config
    minutes = timedelta(minutes=config["PASSWORD_RESET_MINUTES"])
    user = recovery.user_for_token(db.session, config["SECRET_KEY"], token, minutes)
    if user is None:
        return _reset_page("accounts/reset_expired.html", 400)
    form = ResetForm(user=user)
    if not form.validate_on_submit():
        return _reset_page("accounts/reset.html", 400 if form.errors else 200, form=form)
    services.change_password(db.session, user, hash_password(form.password.data))
    sessions.sign_in_browser(user, remember=False)
    db.session.commit()
    flash("Your new password is set and you are signed in. Every other device has been "
          "signed out.", "success")  # fmt: skip
    return redirect(url_for("accounts.account"))
