"""The form for an organisation's public profile."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from kb.models.org import is_email, is_web_address


def web_address(_form, field) -> None:
    """Only http(s) addresses, so a profile can never carry a ``javascript:`` link."""
    if field.data and not is_web_address(field.data.strip()):
        raise ValidationError("Enter a web address starting https://")


def contact_shape(_form, field) -> None:
    value = (field.data or "").strip()
    if value and not (is_email(value) or is_web_address(value)):
        raise ValidationError("Enter an email address or a web address starting https://")


class OrganisationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the name"), Length(max=200)])
    region = StringField("Region (optional)", validators=[Length(max=120)])
    website = StringField(
        "Website (optional)",
        validators=[Length(max=300), web_address],
    )
    contact = StringField(
        "Contact (optional)",
        validators=[Length(max=300), contact_shape],
        description="A team mailbox or contact page, never a named person's address.",
    )
    description = TextAreaField("About the organisation (optional)", validators=[Length(max=4000)])
    name_locked = BooleanField("Lock the name: only site admins can change it")
