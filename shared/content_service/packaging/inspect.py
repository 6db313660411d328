"""From an uploaded zip to a validation report or a built PlayPackage manifest.

Both paths run the same checks in the same order: the sandbox checks the central directory,
the standard's parser reads the descriptor through the sandbox, and every file is streamed
through SHA-256 with its size and CRC verified. Building also spools each file to a private
work directory while hashing and hands it to the blob store, one file at a time.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from content_service.domain.errors import InvariantViolated
from content_service.domain.package import FileEntry, PackageManifest, Problem
from content_service.packaging.boundary import (
    BUILD_CRASHED,
    VALIDATION_CRASHED,
    guarded,
    internal_problem,
    package_boundary,
)
from content_service.packaging.limits import ImportLimits
from content_service.packaging.media_types import media_type
from content_service.packaging.model import Descriptor, DescriptorSource, PackageRejected
from content_service.packaging.zipsafe import SafeEntry, SafeZip

Parser = Callable[[DescriptorSource], Descriptor]

logger = logging.getLogger(__name__)


class BlobStore(Protocol):
    """Where a package's files go, content-addressed by SHA-256."""

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        """Store one file; ``spool`` is a seekable temporary file at position 0.

        A store that already holds ``sha256`` may skip the upload.
        """
        ...


@dataclass
class ValidationReport:
    """What ``content-service validate`` prints: whether the package would build, and why not."""

    valid: bool
    standard: str | None = None
    title: str | None = None
    launches: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)

    def as_json_dict(self) -> dict[str, Any]:
        """The report in the CLI's documented JSON shape."""
        return {
            "valid": self.valid,
            "standard": self.standard,
            "title": self.title,
            "launches": self.launches,
            "files": self.files,
            "bytes": self.bytes,
            "problems": [problem.as_dict() for problem in self.problems],
        }


class SandboxSource:
    """The descriptor parser's view of a checked archive: names, and bounded reads."""

    def __init__(self, archive: SafeZip, max_bytes: int) -> None:
        self._archive = archive
        self._max_bytes = max_bytes

    @property
    def names(self) -> frozenset[str]:
        return self._archive.names

    def read(self, path: str) -> bytes:
        return self._archive.read_bounded(path, self._max_bytes)


def default_parser() -> Parser:
    # Imported on first use so the sandbox does not depend on every standard's parser
    # being importable (and so tests can inject a fake parser instead).
    from content_service.standards import detect_and_parse

    return detect_and_parse


def validate_zip(path: Path, limits: ImportLimits, *, parser: Parser | None = None) -> ValidationReport:
    """Check a package completely without storing anything; never raises for anything in the package.

    An unexpected error is the last-resort case of ``boundary``: logged with its stack, and
    reported as an ``internal.validation_crashed`` problem instead of a traceback.
    """
    try:
        return _validate(path, limits, parser)
    except Exception as error:
        logger.exception("unexpected error while validating %s", path)
        return ValidationReport(valid=False, problems=[internal_problem(VALIDATION_CRASHED, error)])


def _validate(path: Path, limits: ImportLimits, parser: Parser | None) -> ValidationReport:
    try:
        archive = SafeZip.open(path, limits)
    except PackageRejected as rejected:
        return ValidationReport(valid=False, problems=list(rejected.problems))
    with archive:
        parse = parser or default_parser()
        report = ValidationReport(valid=False, files=len(archive.files), bytes=archive.total_bytes)
        descriptor = _parse_collecting(archive, limits, parse, report.problems)
        if descriptor is not None:
            report.standard = descriptor.standard.value
            report.title = descriptor.title
            report.launches = [launch.as_dict() for launch in descriptor.launches]
        files = _hash_all_collecting(archive, report.problems)
    if descriptor is not None and not report.problems:
        try:
            make_manifest(descriptor, files)
        except PackageRejected as rejected:
            report.problems.extend(rejected.problems)
    report.valid = not report.problems
    return report


def _parse_collecting(
    archive: SafeZip, limits: ImportLimits, parse: Parser, problems: list[Problem]
) -> Descriptor | None:
    try:
        return parse(SandboxSource(archive, limits.max_descriptor_bytes))
    except PackageRejected as rejected:
        problems.extend(rejected.problems)
        return None


def _hash_all_collecting(archive: SafeZip, problems: list[Problem]) -> list[FileEntry]:
    files: list[FileEntry] = []
    for entry in archive.files:
        digest = hashlib.sha256()
        try:
            for chunk in archive.iter_chunks(entry):
                digest.update(chunk)
        except PackageRejected as rejected:
            problems.extend(rejected.problems)
            continue
        files.append(FileEntry(entry.name, entry.size, media_type(entry.name), digest.hexdigest()))
    return files


def build_from_zip(
    path: Path, limits: ImportLimits, store: BlobStore, *, workdir: Path, parser: Parser | None = None
) -> PackageManifest:
    """Check a package, store every file content-addressed, and return its manifest.

    Raises ``PackageRejected`` at the first file that fails; files already stored are
    harmless, being addressed by their content. Reading the package is guarded by the
    last-resort boundary (``internal.build_crashed``); the store's own errors propagate so
    that the delivery is retried.
    """
    subject = f"building {path.name}"
    with package_boundary(BUILD_CRASHED, subject):
        archive = SafeZip.open(path, limits)
    with archive:
        with package_boundary(BUILD_CRASHED, subject):
            parse = parser or default_parser()
            descriptor = parse(SandboxSource(archive, limits.max_descriptor_bytes))
        files = [_store_one(archive, entry, store, workdir) for entry in archive.files]
    with package_boundary(BUILD_CRASHED, subject):
        return make_manifest(descriptor, files)


def _store_one(archive: SafeZip, entry: SafeEntry, store: BlobStore, workdir: Path) -> FileEntry:
    digest = hashlib.sha256()
    with tempfile.TemporaryFile(dir=workdir) as spool:
        for chunk in guarded(archive.iter_chunks(entry), BUILD_CRASHED, f"reading {entry.name!r}"):
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        entry_media_type = media_type(entry.name)
        sha256 = digest.hexdigest()
        store.put(sha256, entry.size, entry_media_type, spool)
    return FileEntry(entry.name, entry.size, entry_media_type, sha256)


def make_manifest(descriptor: Descriptor, files: list[FileEntry]) -> PackageManifest:
    """The domain manifest; a broken invariant is a rejection, not a crash."""
    try:
        return PackageManifest(
            standard=descriptor.standard,
            title=descriptor.title,
            language=descriptor.language,
            launches=descriptor.launches,
            files=tuple(files),
            metadata=dict(descriptor.metadata),
        )
    except InvariantViolated as violated:
        raise PackageRejected([Problem("package.invalid_manifest", violated.detail)]) from None
