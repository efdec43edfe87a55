"""Tables written before they scrolled in a region of their own get one

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 07:10:00
"""

import sqlalchemy as sa
from alembic import op

from kb.rendering import RenderRefused, render_markdown

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

revisions = sa.table(
    "revisions", sa.column("id", sa.Integer), sa.column("body", sa.Text),
    sa.column("body_html", sa.Text),
)  # fmt: skip


def upgrade() -> None:
    # Only stored HTML holding a table without its labelled, keyboard-reachable scroll region
    # is rendered again, from its Markdown, by the same renderer saving uses now.
    connection = op.get_bind()
    stale = connection.execute(
        sa.select(revisions.c.id, revisions.c.body).where(
            revisions.c.body_html.like("%<table%"), ~revisions.c.body_html.like("%table-scroll%")
        )
    ).all()
    for revision_id, body in stale:
        try:
            html = str(render_markdown(body))
        except RenderRefused:
            continue  # kept as it was: it still scrolls by the stylesheet
        connection.execute(
            revisions.update().where(revisions.c.id == revision_id).values(body_html=html)
        )


def downgrade() -> None:
    pass  # the region is harmless to an older version
