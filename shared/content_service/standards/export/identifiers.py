"""Identifiers each standard accepts: xs:ID (an NCName) for SCORM, absolute IRIs for cmi5/xAPI."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

from content_service.standards.hrefs import is_absolute_iri

# xs:ID is an NCName. XML allows many more name characters; this is the ASCII subset every
# LMS handles, which is what authoring tools write too.
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")
_NOT_NAME = re.compile(r"[^A-Za-z0-9._-]+")
URN_PREFIX = "urn:content-service:"


def is_ncname(value: str) -> bool:
    """Whether ``value`` is a valid xs:ID / xs:NCName in the ASCII subset we write."""
    return bool(_NCNAME.fullmatch(value))


def to_ncname(value: str, *, prefix: str = "ID") -> str:
    """``value`` when it already is an NCName, else a readable NCName made from it.

    Characters outside the name set become ``_``; a short hash of the original keeps two
    different values from collapsing into one name.
    """
    if is_ncname(value):
        return value
    cleaned = _NOT_NAME.sub("_", value).strip("_.-")[:64]
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    if not cleaned or not re.match(r"[A-Za-z_]", cleaned):
        cleaned = f"{prefix}_{cleaned}" if cleaned else prefix
    return f"{cleaned}_{digest}"


class UniqueNames:
    """Hands out identifiers that are unique within one document (``name``, ``name-2``, ...)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, wanted: str) -> str:
        candidate, counter = wanted, 1
        while candidate in self._taken:
            counter += 1
            candidate = f"{wanted}-{counter}"
        self._taken.add(candidate)
        return candidate


def course_iri(identifier: str | None, fallback: str) -> str:
    """The course (or top activity) IRI: the identifier if it is an absolute IRI, else a URN."""
    if identifier and is_absolute_iri(identifier):
        return identifier
    name = identifier or fallback
    return URN_PREFIX + quote(name, safe="-._~")


def child_iri(course: str, kind: str, launch_id: str) -> str:
    """An AU/activity IRI under the course: the launch id itself if it already is an IRI."""
    if is_absolute_iri(launch_id):
        return launch_id
    base = course.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    return f"{base}/{kind}/{quote(launch_id, safe='-._~')}"
