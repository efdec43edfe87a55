"""Account forms. Flask-WTF adds the CSRF token; the checks here give people words to act on."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from kb.accounts.passwords import MAX_LENGTH, password_problems
from kb.orgs.forms import web_address

EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NEW_ORGANISATION = "new"


def _email_shape(_form, field) -> None:
    if field.data and not EMAIL_SHAPE.match(field.data.strip()):
        raise ValidationError("Enter an email address like name@council.gov.uk")


def _email_field() -> StringField:
    return StringField(
        "Email address",
        validators=[DataRequired("Enter your email address"), Length(max=254), _email_shape],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


def _name_field() -> StringField:
    return StringField(
        "Display name",
        validators=[DataRequired("Enter the name other people will see"), Length(max=120)],
        description="Shown beside your edits, for example 'Sam Patel, comms officer'.",
        render_kw={"autocomplete": "name"},
    )


class _NewPassword:
    """Password and confirmation fields, checked by the strength rule."""

    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter a password")],
        description="At least 12 characters. Three random words together make a strong one.",
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Confirm password",
        validators=[
            DataRequired("Enter the password again"),
            EqualTo("password", "The two passwords do not match"),
        ],
        render_kw={"autocomplete": "new-password"},
    )

    def identity(self) -> tuple[str, str]:
        """The email and name the password must not contain."""
        raise NotImplementedError

    def validate_password(self, field) -> None:
        email, name = self.identity()
        problems = password_problems(field.data or "", email=email, display_name=name)
        if problems:
            raise ValidationError(problems[0])


class RegisterForm(_NewPassword, FlaskForm):
    email = _email_field()
    display_name = _name_field()
    organisation = SelectField(
        "Your organisation",
        validators=[DataRequired("Choose your organisation, or ask for a new one")],
        description="An editor of that organisation approves new members.",
    )
    new_name = StringField(
        "Organisation name",
        validators=[Optional(), Length(max=200)],
        render_kw={"autocomplete": "organization"},
    )
    new_sector = SelectField("Sector", validators=[Optional()])
    new_website = StringField(
        "Website (optional)",
        validators=[Optional(), Length(max=300), web_address],
        render_kw={"autocomplete": "url"},
    )

    def identity(self) -> tuple[str, str]:
        return (self.email.data or "").strip(), (self.display_name.data or "").strip()

    def validate_organisation(self, field) -> None:
        if field.data != NEW_ORGANISATION:
            return
        if not (self.new_name.data or "").strip():
            raise ValidationError("You chose a new organisation: enter its name below")
        if not self.new_sector.data:
            raise ValidationError("You chose a new organisation: choose its sector below")

    def validate(self, extra_validators=None) -> bool:
        # Checked after every field, because WTForms resets a field's errors when it
        # validates that field, and the new organisation's fields are optional on their own.
        valid = super().validate(extra_validators)
        if self.organisation.data == NEW_ORGANISATION:
            if not (self.new_name.data or "").strip():
                self.new_name.errors.append("Enter the name of your organisation")
                valid = False
            if not self.new_sector.data:
                self.new_sector.errors.append("Choose your organisation's sector")
                valid = False
        return valid


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password"), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this device for 30 days")


class ForgotForm(FlaskForm):
    email = _email_field()


class ResetForm(_NewPassword, FlaskForm):
    """A new password chosen through an emailed link."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def identity(self) -> tuple[str, str]:
        return self.user.email, self.user.display_name


class NameForm(FlaskForm):
    display_name = _name_field()


class PasswordForm(_NewPassword, FlaskForm):
    current = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password")],
        render_kw={"autocomplete": "current-password"},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def identity(self) -> tuple[str, str]:
        return self.user.email, self.user.display_name
