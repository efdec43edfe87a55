"""Readable, unique URL slugs made from titles and names."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

MAX_LENGTH = 80
# Words that are also page addresses (``/entries/new``), so never slugs.
RESERVED = frozenset({"new"})


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens; "entry" when nothing usable is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_LENGTH].rstrip("-") or "entry"


def unique_slug(session: Session, model, text: str) -> str:
    """``slugify(text)``, with -2, -3... added if ``model`` already has that slug."""
    base = slugify(text)
    taken = set(
        session.scalars(
            select(model.slug).where((model.slug == base) | model.slug.startswith(base + "-"))
        )
    )
    taken |= RESERVED
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug
