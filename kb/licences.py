"""The licences an entry can carry, and the attribution statement each one asks for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Licence:
    code: str
    name: str
    url: str | None
    adaptable: bool
    share_alike: bool = False


LICENCES: dict[str, Licence] = {
    licence.code: licence
    for licence in (
        Licence(
            "OGL-UK-3.0",
            "Open Government Licence v3.0",
            "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
            adaptable=True,
        ),
        Licence(
            "CC-BY-4.0",
            "Creative Commons Attribution 4.0",
            "https://creativecommons.org/licenses/by/4.0/",
            adaptable=True,
        ),
        Licence(
            "CC-BY-SA-4.0",
            "Creative Commons Attribution-ShareAlike 4.0",
            "https://creativecommons.org/licenses/by-sa/4.0/",
            adaptable=True,
            share_alike=True,
        ),
        Licence("ask-first", "Ask before reusing", None, adaptable=False),
    )
}
DEFAULT_LICENCE = "OGL-UK-3.0"


def attribution(code: str, *, title: str, organisation: str, link: str) -> str:
    """The statement a reuser should copy, generated from the entry's own fields."""
    if code == "OGL-UK-3.0":
        # The OGL's own acknowledgement wording, then the specific source.
        return (
            "Contains public sector information licensed under the Open Government Licence "
            f"v3.0. Source: “{title}”, {organisation}, {link}."
        )
    if code == "ask-first":
        return (
            f"“{title}” ({link}) is shared by {organisation} for reading. Ask {organisation} "
            "before reusing or adapting it."
        )
    licence = LICENCES[code]
    return f"“{title}” by {organisation} ({link}), licensed under {licence.name}."


def copy_licences(source_code: str) -> tuple[str, ...]:
    """The licences an adapted copy of a ``source_code`` entry may carry.

    ShareAlike passes to adaptations unchanged; an "ask first" entry's copy (made with its
    owners' permission) stays "ask first", since permission to adapt is not permission to
    relicense. The other open licences let the adapter choose.
    """
    if LICENCES[source_code].share_alike or not LICENCES[source_code].adaptable:
        return (source_code,)
    return tuple(LICENCES)


def adapted_from(code: str, *, title: str, organisation: str, link: str, revision: int) -> str:
    """The credit an adapted copy gives its source: title, organisation, link, revision and
    licence, in the wording the source's licence asks for."""
    source = f"“{title}” (revision {revision}) by {organisation}, {link}"
    if code == "OGL-UK-3.0":
        return (
            "Contains public sector information licensed under the Open Government Licence "
            f"v3.0. Adapted from {source}."
        )
    if code == "ask-first":
        return f"Adapted from {source}, with the permission of {organisation}."
    licence = LICENCES[code]
    return (
        f"Adapted from {source}, licensed under {licence.name} ({licence.url}). Changes were made."
    )
