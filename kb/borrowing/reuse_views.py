"""``/borrowing``: reuse across the public sector, as a lending × borrowing sector table."""

from __future__ import annotations

from flask import render_template

from kb.borrowing import bp
from kb.borrowing.lineage import most_borrowed, sector_table
from kb.db import db

SHADES = 4  # heat-map steps above zero


@bp.get("/borrowing")
def overview():
    table = sector_table(db.session)
    highest = table.highest

    def shade(count: int) -> int:
        """0 for nothing, then 1..SHADES in proportion to the busiest cell."""
        return 0 if not count else max(1, round(SHADES * count / highest))

    return render_template(
        "borrowing/overview.html", table=table, shade=shade, most=most_borrowed(db.session)
    )
