"""The build's ports on a local directory, for ``content-service build`` (offline, no stack).

The offline build calls the very use case the build Lambda runs
(``service.packages.build_uploaded_package``); only where things go differs. Here:

- the upload is a zip on disk (``LocalUpload``);
- files are stored content-addressed under ``files/<sha256>`` (``DirectoryPackageStore``), and
  the manifest is ``manifest.json``, the same JSON the packages bucket holds;
- the sealed container is ``content.cspc`` (``DirectoryContainerStore``);
- the content key is made locally (``FileContentKeys``, 256 random bits from the OS) instead of by
  KMS, and written beside the container as ``content.key``, mode 0600: a JSON Web Key (RFC 7517,
  ``kty`` ``oct``) naming the package version it seals;
- the package's state lives in memory for the one build (``MemoryPackages``).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from content_service.crypto.keys import CONTENT_KEY_BYTES, DataKey
from content_service.domain.errors import ConcurrencyConflict, NotFound, ValidationFailed
from content_service.domain.package import PackageManifest, PlayPackage
from content_service.service.ports import StoredUpload

MANIFEST_NAME = "manifest.json"
FILES_DIR = "files"
CONTAINER_NAME = "content.cspc"
KEY_NAME = "content.key"
_COPY_CHUNK = 1024 * 1024


class LocalUpload:
    """The upload store of one local zip: every key names that file."""

    def __init__(self, path: Path, content_type: str = "application/zip") -> None:
        self._path = path
        self._content_type = content_type

    def presign_put(self, key: str, content_type: str, content_length: int, ttl_seconds: int) -> Any:
        raise NotImplementedError("an offline build has nothing to upload")

    def head(self, key: str) -> StoredUpload:
        return StoredUpload(size=self._path.stat().st_size, content_type=self._content_type)

    def download(self, key: str, destination: Path, max_bytes: int) -> int:
        """Copy the zip to the build's private work file, refusing past ``max_bytes``."""
        copied = 0
        with self._path.open("rb") as source, destination.open("wb") as sink:
            while chunk := source.read(_COPY_CHUNK):
                copied += len(chunk)
                if copied > max_bytes:
                    raise ValidationFailed(f"the upload is larger than the limit of {max_bytes} bytes")
                sink.write(chunk)
        return copied


class _DirectoryBlobs:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        target = self._folder / sha256
        if target.exists():
            return
        partial = target.with_name(f".{sha256}.partial")
        with partial.open("wb") as sink:
            shutil.copyfileobj(spool, sink, _COPY_CHUNK)
        os.replace(partial, target)

    def put_file(self, sha256: str, size: int, media_type: str, path: Path) -> None:
        """Take the build's spool itself when it is on the same file system (the content is written once)."""
        target = self._folder / sha256
        if target.exists():
            return
        try:
            path.chmod(0o644)
            os.replace(path, target)
        except OSError:  # another file system: copy, as put does
            with path.open("rb") as spool:
                self.put(sha256, size, media_type, spool)


class DirectoryPackageStore:
    """Content-addressed files under ``files/`` and the manifest as ``manifest.json``."""

    def __init__(self, root: Path) -> None:
        self._root = root
        (root / FILES_DIR).mkdir(parents=True, exist_ok=True)

    def blobs(self, tenant_id: str) -> _DirectoryBlobs:
        return _DirectoryBlobs(self._root / FILES_DIR)

    def put_manifest(self, tenant_id: str, package_id: str, version: int, manifest: PackageManifest) -> str:
        # The same bytes the packages bucket stores (adapters.s3), so tools read either alike.
        body = json.dumps(manifest.as_dict(), sort_keys=True, separators=(",", ":")).encode()
        (self._root / MANIFEST_NAME).write_bytes(body)
        return MANIFEST_NAME

    def get_manifest(self, tenant_id: str, package_id: str, version: int) -> PackageManifest:
        return PackageManifest.from_dict(json.loads((self._root / MANIFEST_NAME).read_bytes()))


class DirectoryContainerStore:
    """The sealed container as ``content.cspc``."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def put_container(
        self, tenant_id: str, package_id: str, version: int, content_hash: str, path: Path
    ) -> str:
        shutil.copyfile(path, self._root / CONTAINER_NAME)
        return CONTAINER_NAME

    def put_manifest(self, tenant_id: str, bundle_id: str, token: str) -> str:
        raise NotImplementedError("an offline build makes no bundles")


class FileContentKeys:
    """Content keys made locally and written as a JSON Web Key file, readable by its owner only."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def generate(self, tenant_id: str, package_id: str, version: int) -> DataKey:
        key = secrets.token_bytes(CONTENT_KEY_BYTES)
        document = {
            "kty": "oct",
            "alg": "A256GCM",
            "use": "enc",
            "k": base64.urlsafe_b64encode(key).rstrip(b"=").decode(),
            "kid": f"{package_id}/v{version}",
        }
        path = self._root / KEY_NAME
        # Created 0600 from the start: the key is never readable by others, not even briefly.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as sink:
            json.dump(document, sink, indent=2)
            sink.write("\n")
        # Nothing wraps the key offline: the "wrapped" form names the file that holds it.
        return DataKey(plaintext=key, wrapped=f"file:{KEY_NAME}".encode())

    def unwrap(self, wrapped: bytes, tenant_id: str, package_id: str, version: int) -> bytes:
        return read_key(self._root / KEY_NAME)


def read_key(path: Path) -> bytes:
    """The content key in a ``content.key`` file."""
    document = json.loads(path.read_text())
    encoded = document["k"]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


class MemoryPackages:
    """The package repository of one offline build: one version, in memory, same concurrency rule."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, int], PlayPackage] = {}

    def add(self, package: PlayPackage) -> PlayPackage:
        key = (package.tenant_id, package.package_id, package.version)
        if key in self._items:
            raise ConcurrencyConflict(f"package {package.package_id} v{package.version} exists")
        stored = replace(package, revision=1, events=())
        self._items[key] = stored
        return stored

    def save(self, package: PlayPackage) -> PlayPackage:
        key = (package.tenant_id, package.package_id, package.version)
        current = self._items.get(key)
        if current is None or current.revision != package.revision:
            raise ConcurrencyConflict(f"package {package.package_id} v{package.version} changed")
        stored = replace(package, revision=package.revision + 1, events=())
        self._items[key] = stored
        return stored

    def get(self, tenant_id: str, package_id: str, version: int | None = None) -> PlayPackage:
        found = [p for (t, i, _), p in self._items.items() if t == tenant_id and i == package_id]
        if version is not None:
            found = [p for p in found if p.version == version]
        if not found:
            raise NotFound(f"package {package_id} not found")
        return max(found, key=lambda p: p.version)
