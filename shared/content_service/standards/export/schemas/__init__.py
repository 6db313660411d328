"""The standard schema files SCORM exports ship at their root (package data, see SOURCES.md)."""

from __future__ import annotations

from functools import cache
from importlib import resources

_FOLDERS = {"scorm12": "scorm12", "scorm2004": "scorm2004"}


@cache
def schema_files(fmt: str) -> dict[str, bytes]:
    """Package-relative path -> bytes of every schema file a SCORM format ships, sorted."""
    root = resources.files(__name__).joinpath(_FOLDERS[fmt])
    found: dict[str, bytes] = {}

    def walk(folder, prefix: str) -> None:  # type: ignore[no-untyped-def]
        for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
            if item.is_dir():
                walk(item, f"{prefix}{item.name}/")
            elif item.name.endswith((".xsd", ".dtd")):
                found[f"{prefix}{item.name}"] = item.read_bytes()

    walk(root, "")
    return dict(sorted(found.items()))


def all_schema_names() -> frozenset[str]:
    """The root-level schema names of every format (what a source's old schemas are called)."""
    return frozenset(name for fmt in _FOLDERS for name in schema_files(fmt) if "/" not in name)
