"""The entry form: every field of the data model, an edit summary and the base revision."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from kb.db import db
from kb.entries.content import Content
from kb.licences import LICENCES
from kb.models import SUMMARY_MAX, Channel, EvidenceStage, Kind, Outcome, Sector, Topic
from kb.rendering import RenderRefused, render_markdown

BODY_MAX = 200_000
TITLE_MAX = 200


class Limit(Length):
    """At most ``max`` characters, checked on the server with a message naming the field and
    its limit. No ``maxlength`` attribute: browsers cut pasted text there without a word; the
    form's character count (static/js/counter.js) warns as people type instead."""

    def __init__(self, label: str, max: int) -> None:
        super().__init__(
            max=max, message=f"{label} must be %(max)d characters or fewer; it has %(length)d"
        )
        self.field_flags = {}


REVISION_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only; "²".isdigit() is True


def revision_number(value: str | None) -> int | None:
    """A revision number from a hidden form field, or None if it is missing or not one."""
    value = (value or "").strip()
    return int(value) if REVISION_NUMBER.fullmatch(value) else None


class TermsField(SelectMultipleField):
    """Checkboxes for sectors, channels or topics; unknown values are refused."""

    def pre_validate(self, form) -> None:
        known = {value for value, _label in self.choices or []}
        if any(value not in known for value in self.data or []):
            raise ValidationError(f"Choose {self.label.text.lower()} from the list")


class ReviewDateField(DateField):
    """A date whose unreadable input gets a message people can act on."""

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError("Enter a real date, for example 2027-03-31") from error


class EntryForm(FlaskForm):
    kind = HiddenField()
    base_revision = HiddenField()
    organisation = SelectField("Organisation", validators=[Optional()])
    title = StringField(
        "Title",
        validators=[DataRequired("Enter a title"), Limit("Title", TITLE_MAX)],
        render_kw={"data-limit": TITLE_MAX},
        description="Say what was done or what the guidance is for, e.g. 'Live-tweeting a "
        "night shift'.",
    )
    summary = TextAreaField(
        "Summary",
        validators=[DataRequired("Enter a summary"), Limit("Summary", SUMMARY_MAX)],
        render_kw={"data-limit": SUMMARY_MAX},
        description=f"One or two sentences shown in lists and search results "
        f"({SUMMARY_MAX} characters at most).",
    )
    body = TextAreaField(
        "Text",
        validators=[DataRequired("Enter the text of the entry"), Limit("Text", BODY_MAX)],
        description="Written in Markdown: ## for a heading, - for a list item, "
        "[words](https://example.org) for a link, | for table columns.",
    )
    relevant_sectors = TermsField("Also relevant to these sectors", validators=[Optional()])
    channels = TermsField("Channels", validators=[InputRequired("Choose at least one channel")])
    topics = TermsField("Topics", validators=[Optional()])
    licence = RadioField(
        "Licence",
        validators=[InputRequired("Choose a licence")],
        validate_choice=False,  # checked below, with words people can act on
    )
    evidence_stage = SelectField("Evidence", validators=[Optional()])
    outcome = SelectField("Outcome", validators=[Optional()])
    review_by = ReviewDateField(
        "Review by (optional)",
        validators=[Optional()],
        description="When this should next be checked. Readers are told once it has passed.",
    )
    open_to_any_member = BooleanField(
        "Open to any member: let members of other organisations edit this entry once published"
    )
    edit_summary = StringField(
        "Edit summary (optional)",
        validators=[Limit("Edit summary", 300)],
        description="Briefly say what you changed, for the history.",
    )

    def fill_choices(self, *, sectors, channels, topics, organisations=()) -> None:
        """Set the choices from the taxonomy (and, for admins, the organisations)."""
        self.relevant_sectors.choices = [(s.slug, s.name) for s in sectors]
        self.channels.choices = [(c.slug, c.name) for c in channels]
        self.topics.choices = [(t.slug, t.name) for t in topics]
        self.licence.choices = [(code, lic.name) for code, lic in LICENCES.items()]
        self.evidence_stage.choices = [("", "Not stated")] + [
            (e.value, e.label) for e in EvidenceStage
        ]
        self.outcome.choices = [("", "Not stated")] + [(o.value, o.label) for o in Outcome]
        self.organisation.choices = [(o.slug, o.name) for o in organisations]

    def limit_licences(self, codes) -> None:
        """Offer only ``codes`` (a copy of a ShareAlike entry keeps its licence)."""
        self.licence.choices = [(code, LICENCES[code].name) for code in codes]

    def validate_licence(self, field) -> None:
        allowed = {code for code, _name in field.choices or []}
        if field.data not in LICENCES:
            raise ValidationError("Choose a licence from the list")
        if field.data not in allowed:
            names = " or ".join(name for _code, name in field.choices)
            raise ValidationError(f"This entry's licence must be {names}")

    def validate_body(self, field) -> None:
        """The text must render within Span's limits (``kb/rendering.py``); the result is
        kept, so the save that follows does not render it again."""
        if field.errors:
            return
        try:
            render_markdown((field.data or "").replace("\r\n", "\n"))
        except RenderRefused as refusal:
            raise ValidationError(str(refusal)) from None

    def content(self) -> Content:
        """The submitted values as Content. Line endings become \\n; nothing else changes."""
        case_study = self.kind.data == Kind.CASE_STUDY.value
        return Content(
            title=(self.title.data or "").strip(),
            summary=(self.summary.data or "").strip().replace("\r\n", "\n"),
            body=(self.body.data or "").replace("\r\n", "\n"),
            relevant_sectors=tuple(self.relevant_sectors.data or ()),
            channels=tuple(self.channels.data or ()),
            topics=tuple(self.topics.data or ()),
            licence=self.licence.data or "",
            evidence_stage=(self.evidence_stage.data or None) if case_study else None,
            outcome=(self.outcome.data or None) if case_study else None,
            review_by=self.review_by.data,
        )

    def fill(self, content: Content) -> None:
        """Put ``content`` into the fields (for a new edit, or a merged version)."""
        self.title.data = content.title
        self.summary.data = content.summary
        self.body.data = content.body
        self.relevant_sectors.data = list(content.relevant_sectors)
        self.channels.data = list(content.channels)
        self.topics.data = list(content.topics)
        self.licence.data = content.licence
        self.evidence_stage.data = content.evidence_stage or ""
        self.outcome.data = content.outcome or ""
        self.review_by.data = content.review_by

    def preview(self) -> Markup | None:
        """The submitted text as it will look once saved (nothing is saved); None, with the
        reason beside the text field, when it cannot be rendered."""
        try:
            return render_markdown(self.content().body)
        except RenderRefused as refusal:
            if str(refusal) not in self.body.errors:
                self.body.errors = [*self.body.errors, str(refusal)]
            return None

    def base(self) -> int | None:
        """The revision the edit started from, or None if missing or not a number."""
        return revision_number(self.base_revision.data)


def entry_form(kind: str, organisations=(), form_class=EntryForm, **kwargs) -> EntryForm:
    """The entry form (or a subclass) with its choices filled from the taxonomy."""
    form = form_class(**kwargs)
    form.kind.data = kind
    form.fill_choices(
        sectors=db.session.scalars(select(Sector).order_by(Sector.position)),
        channels=db.session.scalars(select(Channel).order_by(Channel.position)),
        topics=db.session.scalars(select(Topic).order_by(Topic.position)),
        organisations=organisations,
    )
    return form
