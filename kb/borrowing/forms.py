"""Forms for borrowing: the borrow form (the entry form plus a note), adopting, asking first,
and merging the original's changes."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from kb.borrowing.upstream import has_markers
from kb.entries.forms import EntryForm, revision_number
from kb.models import NOTE_MAX


class BorrowForm(EntryForm):
    source_revision = HiddenField()
    note = TextAreaField(
        "What we changed and why",
        validators=[DataRequired("Say what you changed and why"), Length(max=NOTE_MAX)],
        description="Shown beside the credit to the original, so others can see how it was "
        "adapted, e.g. 'Changed officers to clinicians and added our consent process.'",
    )

    def revision(self) -> int | None:
        """The source revision the form was filled from."""
        return revision_number(self.source_revision.data)


class MergeForm(EntryForm):
    upstream_revision = HiddenField()

    def validate_body(self, field) -> None:
        if has_markers(field.data or ""):
            raise ValidationError(
                "Resolve each conflict in the text: keep the words you want, then delete the "
                "lines starting <<<<<<<, ======= and >>>>>>>"
            )

    def upstream(self) -> int | None:
        return revision_number(self.upstream_revision.data)


class AdoptForm(FlaskForm):
    note = StringField(
        "How you use it (optional)",
        validators=[Length(max=300)],
        description="For example: 'Issued to all ward managers as our own guidance.'",
    )


class AskForm(FlaskForm):
    message = TextAreaField(
        "What you would like to do with it",
        validators=[DataRequired("Say what you would like to do with it"), Length(max=NOTE_MAX)],
        description="Its owners read this when they decide. Say who you are and how you would "
        "adapt it.",
    )
