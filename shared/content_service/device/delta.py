"""Delta updates: a version 2 package's file objects, fetched only when the device lacks them.

A version 2 package is an index (downloaded and held to the signed manifest's size and SHA-256
like a version 1 container) plus one content-addressed file object per distinct file. The index
lists the objects it needs in clear; the device takes each one, in this order, from:

1. this bundle's own ``objects/`` folder (a resumed or repeated download);
2. another bundle on the device that holds the same object (version N of the package, when
   this bundle carries version N+1), hard-linked (copied where links are not possible);
3. the CDN, through the lineage's signed ``objects_url``, resumed with HTTP Range.

Every object is checked against the SHA-256 that names it before it is renamed into place, so a
reused object is as verified as a downloaded one; mounting and ``verify`` then open each one
under its own file key. The functions here are apart from ``downloads.py`` so that changes to how
one object is fetched (the ``fetch_resumable`` path) and to which objects are fetched stay apart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit, urlunsplit

import requests

from content_service.crypto.delta import (
    FORMAT_VERSION_2,
    DeltaPackageReader,
    IndexObject,
    format_version,
    index_objects,
    open_index,
)
from content_service.crypto.errors import ContainerError
from content_service.device.errors import DownloadIncomplete
from content_service.device.http import Progress, fetch_verified
from content_service.device.reports import Reporter
from content_service.device.store import BundleFiles, DeviceStore, move_into_place, private_dir


@dataclass
class DeltaReport:
    """What fetching one package's objects cost: objects and bytes downloaded, and reused."""

    downloaded: int = 0
    downloaded_bytes: int = 0
    reused: int = 0
    reused_bytes: int = 0


def objects_dir(files: BundleFiles) -> Path:
    """Where a bundle keeps its version 2 file objects (removed with the bundle's folder)."""
    return files.root / "objects"


def is_version_2(path: Path) -> bool:
    """Whether the finished container at ``path`` is a version 2 index (by its version marker)."""
    with path.open("rb") as handle:
        try:
            return format_version(handle.read(5)) == FORMAT_VERSION_2
        except ContainerError:
            return False


def object_url(objects_url: str, name: str) -> str:
    """The URL of one object: its name after the signed prefix URL's path, the query kept."""
    parts = urlsplit(objects_url)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path + name, parts.query, ""))


class DeltaObjects:
    """Fetches and checks the file objects of version 2 packages for one device."""

    def __init__(
        self, store: DeviceStore, reporter: Reporter, *, session: Callable[[], requests.Session]
    ) -> None:
        self._store = store
        self._reporter = reporter
        self._session = session

    def fetch(
        self,
        bundle_id: str,
        files: BundleFiles,
        package_id: str,
        version: int,
        objects_url: str | None,
        progress: Progress | None = None,
    ) -> DeltaReport:
        """Make every object the (already hash-checked) index names present and checked."""
        index = files.container(package_id, version).read_bytes()
        try:
            needed = index_objects(index)
        except ContainerError as error:
            raise self._reporter.tamper(bundle_id, "container", f"{package_id} v{version}: {error}") from error
        folder = objects_dir(files)
        private_dir(folder)
        report = DeltaReport()
        for item in needed:
            final = folder / item.name
            if _matches(final, item):
                report.reused += 1
                report.reused_bytes += item.size
                continue
            if self._reuse(bundle_id, item, final):
                report.reused += 1
                report.reused_bytes += item.size
                continue
            if objects_url is None:
                raise DownloadIncomplete(
                    f"{package_id} v{version} needs object {item.name} and the listing gives no objects URL",
                    bundle_id=bundle_id,
                )
            self._download(bundle_id, item, final, objects_url, progress)
            report.downloaded += 1
            report.downloaded_bytes += item.size
        return report

    def _reuse(self, bundle_id: str, item: IndexObject, final: Path) -> bool:
        """Take the object from another bundle on the device; True if it was there and checked."""
        for other in self._store.bundle_ids():
            if other == bundle_id:
                continue
            held = objects_dir(self._store.bundle(other)) / item.name
            if not held.is_file() or held.stat().st_size != item.size:
                continue
            partial = final.with_name(final.name + ".part")
            partial.unlink(missing_ok=True)
            try:
                os.link(held, partial)
            except OSError:
                shutil.copyfile(held, partial)
            if hmac.compare_digest(sha256_file(partial), item.sha256):
                move_into_place(partial, final)
                return True
            # The other bundle's copy was altered; its own checks will report it. Fetch instead.
            partial.unlink()
        return False

    def _download(
        self, bundle_id: str, item: IndexObject, final: Path, objects_url: str, progress: Progress | None
    ) -> None:
        partial = final.with_name(final.name + ".part")
        found = fetch_verified(
            self._session(),
            object_url(objects_url, item.name),
            partial,
            item.size,
            item.sha256,
            name=item.name,
            progress=progress,
        )
        if not hmac.compare_digest(found, item.sha256):
            partial.unlink()
            raise self._reporter.tamper(
                bundle_id, "container", f"the downloaded object {item.name} has another SHA-256 ({found})"
            )
        move_into_place(partial, final)



def check_objects(reporter: Reporter, bundle_id: str, files: BundleFiles, package_id: str, version: int) -> None:
    """Every object the index names is on disk with its SHA-256 (a change since is tampering).

    The index itself was checked against the signed manifest first, as a version 1 container is.
    """
    index = files.container(package_id, version).read_bytes()
    try:
        needed = index_objects(index)
    except ContainerError as error:
        raise reporter.tamper(bundle_id, "container", f"{package_id} v{version}: {error}") from error
    folder = objects_dir(files)
    for item in needed:
        path = folder / item.name
        if not path.is_file():
            raise DownloadIncomplete(f"{package_id} v{version} is not downloaded yet", bundle_id=bundle_id)
        if not _matches(path, item):
            raise reporter.tamper(
                bundle_id, "container", f"the object {item.name} of {package_id} v{version} was altered"
            )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(path: Path, item: IndexObject) -> bool:
    return path.is_file() and path.stat().st_size == item.size and hmac.compare_digest(sha256_file(path), item.sha256)


def open_package(files: BundleFiles, package_id: str, version: int, key: bytes) -> DeltaPackageReader:
    """A version 2 package opened for reading (index authenticated; objects opened on first use).

    Raises a ``ContainerError`` if the index does not open under ``key``.
    """
    index = open_index(files.container(package_id, version).read_bytes(), key)
    folder = objects_dir(files)

    def open_object(entry: object) -> BinaryIO:
        return (folder / entry.object_name).open("rb")  # type: ignore[attr-defined]

    return DeltaPackageReader(index, open_object)
