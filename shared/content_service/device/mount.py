"""A mounted bundle: its containers opened for reading, decrypted on read, never written out.

A ``MountedBundle`` holds the content keys in memory and one ``ContainerReader`` per package
over the still-encrypted file on disk. Every call that exposes content (or its file list)
first asks the agent to enforce the licence, with the trusted clock, so a bundle mounted
yesterday stops opening the moment its licence and grace run out. A segment or file that
fails authentication on read is reported as tampering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import BinaryIO, TypeVar

from content_service.crypto import (
    ContainerError,
    ContainerFile,
    ContainerPathNotFound,
    ContainerReader,
    IndexEntry,
)
from content_service.device.errors import BundleNotFound, TamperDetected

T = TypeVar("T")

#: Raises unless the licence allows opening the bundle's content now.
Enforce = Callable[[], None]
#: Queues a tamper report and returns the error to raise.
ReportTamper = Callable[[str, str], TamperDetected]


@dataclass
class _Package:
    package_id: str
    version: int
    handle: BinaryIO
    reader: ContainerReader


class MountedBundle:
    """Read access to one verified, licensed bundle (see ``DeviceAgent.mount``)."""

    def __init__(self, bundle_id: str, enforce: Enforce, report_tamper: ReportTamper) -> None:
        self.bundle_id = bundle_id
        self._enforce = enforce
        self._report_tamper = report_tamper
        self._packages: dict[str, _Package] = {}

    def _add(self, package_id: str, version: int, handle: BinaryIO, reader: ContainerReader) -> None:
        self._packages[package_id] = _Package(package_id, version, handle, reader)

    @property
    def package_ids(self) -> list[str]:
        """The packages of the bundle, in manifest order."""
        return list(self._packages)

    @property
    def closed(self) -> bool:
        return not self._packages

    def _package(self, package_id: str) -> _Package:
        if self.closed:
            raise BundleNotFound(f"bundle {self.bundle_id} is not mounted", bundle_id=self.bundle_id)
        try:
            return self._packages[package_id]
        except KeyError:
            raise BundleNotFound(
                f"bundle {self.bundle_id} holds no package {package_id!r}", bundle_id=self.bundle_id
            ) from None

    def files(self, package_id: str) -> list[IndexEntry]:
        """Every file of a package: path, size and SHA-256 (the licence is enforced first)."""
        package = self._package(package_id)
        self._enforce()
        return list(package.reader.files())

    def read(self, package_id: str, path: str) -> bytes:
        """A whole file, decrypted in memory and checked against its SHA-256."""
        package = self._package(package_id)
        self._enforce()
        return self._guard(lambda: package.reader.read_file(path))

    def read_range(self, package_id: str, path: str, start: int, length: int) -> bytes:
        """Bytes ``[start, start + length)`` of a file; only the segments covering them are decrypted."""
        package = self._package(package_id)
        self._enforce()
        return self._guard(lambda: package.reader.read_range(path, start, length))

    def open(self, package_id: str, path: str) -> ContainerFile:
        """A seekable, read-only file object over one file (decrypting as it is read)."""
        package = self._package(package_id)
        self._enforce()
        return self._guard(lambda: package.reader.open(path))

    def _guard(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except ContainerPathNotFound:
            raise
        except ContainerError as error:
            raise self._report_tamper("container", f"{type(error).__name__}: {error}") from error

    def close(self) -> None:
        """Forget the content keys and close the container files."""
        packages, self._packages = self._packages, {}
        for package in packages.values():
            package.handle.close()

    def __enter__(self) -> MountedBundle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
