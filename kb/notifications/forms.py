"""Notification forms. Flask-WTF adds the CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.validators import InputRequired


class PreferencesForm(FlaskForm):
    frequency = RadioField(
        "Email me my notifications",
        validators=[InputRequired("Choose how often to be emailed")],
        description="Notifications always wait for you in Span, whatever you choose here.",
    )
