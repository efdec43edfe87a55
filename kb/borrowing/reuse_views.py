"""``/borrowing``: reuse across the public sector, as a lending × borrowing sector table, and
``/borrowing/between``: the borrows and adoptions behind any number in it."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import select

from kb.borrowing import bp
from kb.borrowing.lineage import BETWEEN_LIMIT, most_borrowed, reuse_between, sector_table
from kb.db import db
from kb.models import Sector

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


def _sector(parameter: str) -> Sector | None:
    """The sector named by a query parameter (None when absent); 404 for an unknown one."""
    slug = request.args.get(parameter, "").strip()
    if not slug:
        return None
    sector = db.session.scalar(select(Sector).where(Sector.slug == slug[:200]))
    if sector is None:
        abort(404)
    return sector


@bp.get("/borrowing/between")
def between():
    lender, borrower = _sector("lent-by"), _sector("borrowed-by")
    return render_template(
        "borrowing/between.html",
        lender=lender,
        borrower=borrower,
        found=reuse_between(db.session, lender, borrower),
        limit=BETWEEN_LIMIT,
    )
