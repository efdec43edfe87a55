"""What features built on entries add to an entry's page, without entries importing them.

A feature registers an ``EntryPanel`` with the app when its blueprint is registered (borrowing
adds who borrowed what, and the buttons to borrow). The entry page builds each panel for its
reader and renders the panel template's macros at the places they are named after:

- ``byline``: beside the organisation and date under the title;
- ``actions``: items in the entry's list of actions;
- ``notices``: after the actions;
- ``attribution``: lines after the entry's own attribution statement;
- ``aside``: a section of the sidebar.

Each macro is called as ``macro(entry, data)``, ``data`` being what ``build`` returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from kb.models import Entry

EXTENSION = "kb.entry_panels"


@dataclass(frozen=True)
class EntryPanel:
    """``build(session, entry, reader)`` gathers what ``template``'s macros show."""

    build: Callable[[Session, Entry, Any], Any]
    template: str


@dataclass(frozen=True)
class ShownPanel:
    template: str
    data: Any


def register(app: Flask, panel: EntryPanel) -> None:
    """Add ``panel`` to every entry page of ``app``."""
    app.extensions.setdefault(EXTENSION, []).append(panel)


def build_panels(app: Flask, session: Session, entry: Entry, reader) -> list[ShownPanel]:
    """Each registered panel, built for ``reader``, in the order they were registered."""
    return [
        ShownPanel(panel.template, panel.build(session, entry, reader))
        for panel in app.extensions.get(EXTENSION, [])
    ]
