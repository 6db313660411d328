"""The assistant configuration's JSON Schema, and the rules a configuration must keep to ship.

The schema (``schemas/assistant-config.v1.json``, JSON Schema 2020-12) fixes the shape; the
checks here add what a schema cannot say: every ``source`` is a file of the package, and no
text names a URL or a file outside the package. A generator reads untrusted package text and a
model may be talked into pointing learners elsewhere; such an output is refused, never shipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from content_service.domain.errors import InvariantViolated

SCHEMA_ID = "urn:content-service:assistant-config:v1"

# Schemes and host-like forms that name something outside the package.
_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]{1,20}://|www\.[a-z0-9-]+\.|(?:mailto|javascript|data|file|tel):)\S*")
# A path-like token (has a slash and an extension) or a bare file name with a document/media extension.
_PATH_LIKE = re.compile(r"(?i)(?<![\w@])(?:[\w.-]+[/\\])+[\w.-]+\.[a-z0-9]{1,5}\b")
_FILE_LIKE = re.compile(
    r"(?i)(?<![\w@/\\])[\w-][\w.-]*\.(?:html?|xhtml|pdf|docx?|pptx?|xlsx?|zip|png|jpe?g|gif|svg|webp"
    r"|mp3|mp4|wav|webm|ogg|xml|json|txt|csv|exe|swf)\b"
)


class AssistantConfigInvalid(InvariantViolated):
    """A configuration that breaks the schema or names something outside the package."""

    title = "The assistant configuration is not valid"


@lru_cache(maxsize=1)
def config_schema() -> dict[str, Any]:
    """The JSON Schema every assistant configuration is validated against."""
    text = resources.files("content_service.domain").joinpath("schemas/assistant-config.v1.json").read_text(
        encoding="utf-8"
    )
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = config_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(config: Any) -> list[str]:
    """Every way ``config`` breaks the schema, as ``/json/pointer: message`` lines (empty: valid)."""
    errors = sorted(_validator().iter_errors(config), key=lambda error: list(error.absolute_path))
    return [f"/{'/'.join(str(part) for part in error.absolute_path)}: {error.message}" for error in errors]


def reference_errors(config: dict[str, Any], package_paths: frozenset[str]) -> list[str]:
    """Sources that are not package files, and text naming URLs or files outside the package."""
    by_name = _names(package_paths)
    problems = []
    for pointer, key, value in _strings(config, ""):
        if key == "source":
            if value not in package_paths:
                problems.append(f"{pointer}: {value!r} is not a file of the package")
            continue
        problems.extend(f"{pointer}: {problem}" for problem in _outside(value, by_name))
    return problems


def outside_references(text: str, package_paths: frozenset[str]) -> list[str]:
    """What in ``text`` names a URL or a file that is not in the package (empty: nothing)."""
    return _outside(text, _names(package_paths))


def _names(package_paths: frozenset[str]) -> set[str]:
    return {path.casefold() for path in package_paths} | {
        path.rsplit("/", 1)[-1].casefold() for path in package_paths
    }


def _outside(text: str, names: set[str]) -> list[str]:
    problems = [
        f"names a URL ({match.group(0)[:80]!r}); only the package may be cited" for match in _URL.finditer(text)
    ]
    for pattern in (_PATH_LIKE, _FILE_LIKE):
        for match in pattern.finditer(text):
            name = match.group(0).replace("\\", "/").lstrip("./").casefold()
            if name not in names:
                problems.append(f"names {match.group(0)!r}, which is not a file of the package")
    return problems


def validate_config(config: Any, package_paths: frozenset[str]) -> dict[str, Any]:
    """Return ``config`` if it is schema-valid and cites only the package; raise otherwise."""
    errors = schema_errors(config)
    if not errors:
        errors = reference_errors(config, package_paths)
    if errors:
        raise AssistantConfigInvalid(
            f"the assistant configuration is refused: {errors[0]}", errors=errors[:20]
        )
    return config


def _strings(value: Any, pointer: str, key: str = "") -> Iterator[tuple[str, str, str]]:
    if isinstance(value, str):
        yield pointer or "/", key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, f"{pointer}/{name}", str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{pointer}/{index}", key)
