"""Launch href resolution: the one place that turns a descriptor's href into a package path.

Rules, in the order they apply:

- ``xml:base`` values (manifest, resources, resource) are joined from the outside in. Each
  base names a directory, so a base without a trailing slash is read as if it had one
  (authoring tools write both forms, and a base naming a file would make no sense).
- The query string and fragment of the final href are split off and kept verbatim, because
  the standards say they are appended at launch (``Launch.parameters``).
- ``http:``/``https:`` and protocol-relative (``//host``) hrefs are ``launch.external_url``;
  any other scheme (``file:``, ``javascript:``, ``data:``, a drive letter such as ``C:``) and any
  absolute path are ``launch.outside_package``.
- The path is percent-decoded (UTF-8) *before* it is normalised, so an encoded ``%2e%2e%2f``
  is caught like a literal ``../``. Backslashes count as slashes, as browsers treat them.
- ``.`` segments and empty segments are dropped, ``..`` removes one segment, and ``..`` above
  the package root is ``launch.outside_package``.
- The result must name a file of the package: an exact match, or the one file whose name is
  the same under Unicode NFC (zips made on macOS store NFD names). Otherwise it is
  ``launch.missing_file``; a file that differs only by case is named in the detail, because
  the content origin, like most servers, is case-sensitive.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from content_service.domain.package import Problem
from content_service.standards import problems

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_WEB_SCHEMES = frozenset({"http", "https"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class HrefRefused(Exception):  # noqa: N818 - a refusal carrying its Problem, not a bug
    """An href cannot be launched; ``problem`` says why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.code}: {problem.detail}")
        self.problem = problem


@dataclass(frozen=True)
class ResolvedHref:
    """A launch target inside the package.

    ``path`` is the package file to launch; ``parameters`` is ``?query#fragment`` exactly as
    written (empty when there is none); ``written`` is the href as the descriptor had it,
    with its xml:base chain applied.
    """

    path: str
    parameters: str
    written: str


def split_parameters(href: str) -> tuple[str, str]:
    """Split ``href`` into its path and its ``?query#fragment`` part, both verbatim."""
    cut = len(href)
    for marker in ("?", "#"):
        index = href.find(marker)
        if index != -1:
            cut = min(cut, index)
    return href[:cut], href[cut:]


def is_absolute_iri(value: str) -> bool:
    """Whether ``value`` is an absolute IRI: a scheme, no whitespace or control characters."""
    return bool(_SCHEME.match(value)) and not any(ch.isspace() for ch in value) and not _CONTROL.search(value)


def join_bases(bases: Iterable[str | None], href: str) -> str:
    """Apply an xml:base chain (outermost first) to ``href``, without resolving ``..``.

    A base or href that is absolute (a scheme, ``//`` or a leading ``/``) replaces whatever came
    before it, as in RFC 3986; the caller then refuses it for leaving the package.
    """
    joined = ""
    for base in bases:
        base = (base or "").strip()
        if not base:
            continue
        directory = base if base.endswith(("/", "\\")) else base + "/"
        joined = directory if _is_absolute(base) else joined + directory
    return href if _is_absolute(href) else joined + href


def _is_absolute(reference: str) -> bool:
    return bool(_SCHEME.match(reference)) or reference.startswith(("/", "\\"))


def resolve(
    href: str,
    names: frozenset[str],
    *,
    bases: Sequence[str | None] = (),
    descriptor: str,
    subject: str,
) -> ResolvedHref:
    """Resolve a launch href to a file of the package, or raise HrefRefused.

    ``descriptor`` is the descriptor's path and ``subject`` names what launches (``item
    'intro'``) so that problem details say where the href came from.
    """
    written = join_bases(bases, href.strip())
    if not written:
        raise _refuse(problems.LAUNCH_INVALID_HREF, f"{subject} has an empty launch href", descriptor)
    scheme = _SCHEME.match(written)
    if scheme or written.startswith(("//", "\\\\")):
        name = scheme.group(0)[:-1].lower() if scheme else "http"
        code = problems.LAUNCH_EXTERNAL_URL if name in _WEB_SCHEMES else problems.LAUNCH_OUTSIDE_PACKAGE
        detail = f"{subject} launches {written!r}, which is not a file of the package"
        raise _refuse(code, detail, descriptor)
    raw_path, parameters = split_parameters(written)
    path = _normalise(_decode(raw_path, written, subject, descriptor), written, subject, descriptor)
    return ResolvedHref(
        path=_find(path, names, written, subject, descriptor), parameters=parameters, written=written
    )


def _decode(raw_path: str, written: str, subject: str, descriptor: str) -> str:
    try:
        decoded = unquote(raw_path, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        detail = f"{subject} has a launch href {written!r} whose percent-encoding is not UTF-8"
        raise _refuse(problems.LAUNCH_INVALID_HREF, detail, descriptor) from exc
    if _CONTROL.search(decoded):
        detail = f"{subject} has a launch href {written!r} with control characters"
        raise _refuse(problems.LAUNCH_INVALID_HREF, detail, descriptor)
    return decoded.replace("\\", "/")


def _normalise(decoded: str, written: str, subject: str, descriptor: str) -> str:
    if decoded.startswith("/"):
        detail = f"{subject} launches the absolute path {written!r}; hrefs must be relative to the package"
        raise _refuse(problems.LAUNCH_OUTSIDE_PACKAGE, detail, descriptor)
    segments: list[str] = []
    for segment in decoded.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                detail = f"{subject} launches {written!r}, which climbs above the package root"
                raise _refuse(problems.LAUNCH_OUTSIDE_PACKAGE, detail, descriptor)
            segments.pop()
            continue
        segments.append(segment)
    if not segments:
        raise _refuse(
            problems.LAUNCH_INVALID_HREF, f"{subject} launch href {written!r} names no file", descriptor
        )
    return "/".join(segments)


def _find(path: str, names: frozenset[str], written: str, subject: str, descriptor: str) -> str:
    if path in names:
        return path
    index = _name_index(names)
    wanted = unicodedata.normalize("NFC", path)
    same_form = index.by_nfc.get(wanted, ())
    if len(same_form) == 1:
        return same_form[0]
    detail = f"{subject} launches {path!r} (from {written!r}), which the package does not contain"
    near = index.by_folded.get(wanted.casefold(), ())
    if near:
        detail += f"; it has {near[0]!r}, which differs in letter case"
    raise HrefRefused(Problem(code=problems.LAUNCH_MISSING_FILE, detail=detail, path=path))


@dataclass(frozen=True)
class _NameIndex:
    """A package's file names by their NFC form and by their case-folded NFC form (sorted)."""

    by_nfc: dict[str, tuple[str, ...]]
    by_folded: dict[str, tuple[str, ...]]


@lru_cache(maxsize=4)
def _name_index(names: frozenset[str]) -> _NameIndex:
    """Built once per package, not once per href: a descriptor may hold a hundred thousand
    hrefs that miss, and normalising every name for each of them would take hours."""
    by_nfc: dict[str, list[str]] = {}
    by_folded: dict[str, list[str]] = {}
    for name in sorted(names):
        nfc = unicodedata.normalize("NFC", name)
        by_nfc.setdefault(nfc, []).append(name)
        by_folded.setdefault(nfc.casefold(), []).append(name)
    return _NameIndex(
        {key: tuple(value) for key, value in by_nfc.items()},
        {key: tuple(value) for key, value in by_folded.items()},
    )


def _refuse(code: str, detail: str, descriptor: str) -> HrefRefused:
    return HrefRefused(Problem(code=code, detail=detail, path=descriptor))


def combine_parameters(href_parameters: str, item_parameters: str) -> str:
    """Append an item's ``parameters`` to the href's own query, as SCORM's CAM prescribes.

    Leading ``?`` and ``&`` of the item parameters are dropped; a parameter string starting with
    ``#`` is a fragment and is ignored when the href already has one; otherwise the query is
    joined with ``&`` if the href has a query and ``?`` if not. The href's fragment stays last.
    """
    extra = item_parameters.strip().lstrip("?&")
    if not extra:
        return href_parameters
    query, _, fragment = href_parameters.partition("#")
    has_fragment = "#" in href_parameters
    if extra.startswith("#"):
        return href_parameters if has_fragment else href_parameters + extra
    extra_query, _, extra_fragment = extra.partition("#")
    query = f"{query}&{extra_query}" if query else f"?{extra_query}"
    if has_fragment:
        return f"{query}#{fragment}"
    return f"{query}#{extra_fragment}" if extra_fragment else query
