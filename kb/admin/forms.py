"""The form for naming and describing a sector, channel or topic."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class TermForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter a name"), Length(max=120)])
    description = TextAreaField(
        "Description",
        validators=[Length(max=2000)],
        description="One or two sentences shown on the term's page.",
    )
