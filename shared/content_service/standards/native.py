"""The native format: a zip of HTML5 files with a ``playpackage.json`` at its root.

The descriptor is JSON only (no YAML: one parser, no tags, no surprises), UTF-8 (a BOM is
tolerated), at most ``MAX_DESCRIPTOR_BYTES``, with no repeated keys, and it must match
``PlayPackageDescriptor``. docs/package-format.md documents the format for authors.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from content_service.domain.package import Launch, Standard
from content_service.packaging.model import Descriptor, DescriptorSource
from content_service.standards import problems
from content_service.standards.common import ProblemList, reject
from content_service.standards.hrefs import HrefRefused, resolve

MAX_DESCRIPTOR_BYTES = 64 * 1024
FORMAT = "playpackage/1"


class NativeLaunch(BaseModel):
    """One extra launchable page of a native package."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    title: str = Field(min_length=1, max_length=300)
    entry: str = Field(min_length=1, max_length=1024)


class PlayPackageDescriptor(BaseModel):
    """The fields of playpackage.json (format ``playpackage/1``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    format: Literal["playpackage/1"] = FORMAT
    title: str = Field(min_length=1, max_length=300)
    language: str = Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length=35)
    entry: str = Field(min_length=1, max_length=1024)
    description: str | None = Field(default=None, max_length=5000)
    version: str | None = Field(default=None, min_length=1, max_length=64)
    launches: list[NativeLaunch] | None = Field(default=None, min_length=1, max_length=500)

    @field_validator("launches")
    @classmethod
    def _unique_ids(cls, launches: list[NativeLaunch] | None) -> list[NativeLaunch] | None:
        if launches is not None:
            ids = [launch.id for launch in launches]
            if len(set(ids)) != len(ids):
                raise ValueError("launch ids must be unique")
        return launches

    @model_validator(mode="after")
    def _entry_is_a_launch(self) -> PlayPackageDescriptor:
        if self.launches is not None and self.entry not in {launch.entry for launch in self.launches}:
            raise ValueError("when launches are listed, entry must be the entry of one of them")
        return self


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"repeated key {repeated[0]!r}")
    return dict(pairs)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load(data: bytes, path: str) -> PlayPackageDescriptor:
    """Decode and validate playpackage.json bytes, or raise PackageRejected."""
    if len(data) > MAX_DESCRIPTOR_BYTES:
        raise reject(
            problems.NATIVE_DESCRIPTOR_TOO_LARGE,
            f"{path} is {len(data)} bytes; the limit is {MAX_DESCRIPTOR_BYTES}",
            path,
        )
    try:
        raw = json.loads(
            data.decode("utf-8-sig"), object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        detail = f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise reject(problems.NATIVE_INVALID_JSON, detail, path) from exc
    except RecursionError as exc:
        # 64 KiB of "[" is within the size limit but deeper than the decoder's recursion limit.
        detail = f"{path} nests arrays or objects too deeply to be a descriptor"
        raise reject(problems.NATIVE_INVALID_JSON, detail, path) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise reject(problems.NATIVE_INVALID_JSON, f"{path} is not valid UTF-8 JSON: {exc}", path) from exc
    try:
        return PlayPackageDescriptor.model_validate(raw)
    except ValidationError as exc:
        found = ProblemList()
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            found.add(problems.NATIVE_INVALID_DESCRIPTOR, f"{path}: {where}: {error['msg']}", path)
        found.raise_if_any()
        raise  # pragma: no cover - raise_if_any always raises here


def parse(source: DescriptorSource, path: str) -> Descriptor:
    """Read a native package's playpackage.json into a Descriptor."""
    model = load(source.read(path), path)
    pages = model.launches or [NativeLaunch(id="main", title=model.title, entry=model.entry)]
    found = ProblemList()
    launches: list[Launch] = []
    for page in pages:
        try:
            target = resolve(page.entry, source.names, descriptor=path, subject=f"launch {page.id!r}")
        except HrefRefused as refusal:
            found.add_refusal(refusal)
            continue
        launches.append(
            Launch(
                id=page.id,
                title=page.title,
                href=target.path,
                parameters=target.parameters,
                kind="entry",
                attributes={"default": page.entry == model.entry},
            )
        )
    found.raise_if_any()
    return Descriptor(
        standard=Standard.NATIVE,
        title=model.title,
        language=model.language,
        launches=tuple(launches),
        metadata={
            "format": model.format,
            "entry": model.entry,
            "description": model.description,
            "version": model.version,
        },
    )
