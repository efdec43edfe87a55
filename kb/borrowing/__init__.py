"""Borrowing: adapting another organisation's entry with credit, adopting it as it is, asking
first, lineage across generations, and merging the original's later changes into a copy."""

from flask import Blueprint

bp = Blueprint("borrowing", __name__)

from kb.borrowing import (  # noqa: E402,F401 - registers routes
    lineage_views,
    requests_views,
    reuse_views,
    upstream_views,
    views,
)
