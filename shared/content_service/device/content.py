"""Checks on a bundle's content: the signed manifest, its binding to the licence, each container.

The manifest pins each container's size and SHA-256; the licence pins the manifest
(``content_hash``) and carries the content keys wrapped to this device. Anything that does not
match what was signed is reported as tampering, with the evidence the service needs to
corroborate it where the device has it (the digest it expected and the one it found).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from content_service.crypto import (
    ContainerError,
    ContainerReader,
    LicenceKeyError,
    TokenError,
    unwrap_content_key,
)
from content_service.device.delta import check_objects, is_version_2, open_package
from content_service.device.errors import DownloadIncomplete
from content_service.device.reports import Reporter, container_evidence, manifest_evidence
from content_service.device.store import BundleFiles, read_private
from content_service.device.trust import Trust

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Checked:
    """A bundle whose manifest, licence and containers match what was signed."""

    manifest: dict[str, Any]
    licence: dict[str, Any]
    keys: dict[tuple[str, int], bytes]
    containers: list[tuple[str, int, int, BundleFiles]]
    files: int


class ContentChecks:
    """The content checks of one device (its trust, its reporter, its private key)."""

    def __init__(
        self,
        trust: Trust,
        reporter: Reporter,
        private_key: Callable[[], X25519PrivateKey],
        device_id: Callable[[], str],
    ) -> None:
        self._trust = trust
        self._reporter = reporter
        self._private_key = private_key
        self._device_id = device_id

    def manifest(self, bundle_id: str, token: bytes, *, expected_sha256: str | None = None) -> dict[str, Any]:
        """The verified manifest; tampering otherwise (with evidence when the licence's hash is known)."""
        try:
            return self._trust.manifest(bundle_id, token)
        except TokenError as error:
            evidence = manifest_evidence(expected_sha256, sha256(token)) if expected_sha256 else None
            raise self._reporter.tamper(
                bundle_id, "manifest", f"the bundle manifest does not verify: {error}", evidence
            ) from error

    def content_hash(self, bundle_id: str, licence: Mapping[str, Any], manifest: bytes) -> None:
        """The manifest on disk is the one the licence was issued for."""
        expected = str(licence.get("content_hash", ""))
        found = sha256(manifest)
        if not hmac.compare_digest(expected, found):
            raise self._reporter.tamper(
                bundle_id,
                "manifest",
                "the manifest is not the one the licence was issued for",
                manifest_evidence(expected, found) if expected else None,
            )

    def container_file(
        self, bundle_id: str, files: BundleFiles, package_id: str, version: int, container: Mapping[str, Any]
    ) -> None:
        """A finished container still has the signed size and SHA-256 (it matched once; a change is tampering)."""
        path = files.container(package_id, version)
        if not path.is_file():
            raise DownloadIncomplete(f"{package_id} v{version} is not downloaded yet", bundle_id=bundle_id)
        expected = str(container["sha256"])
        found = sha256_file(path)
        if path.stat().st_size != int(container["size"]) or not hmac.compare_digest(found, expected):
            raise self._reporter.tamper(
                bundle_id,
                "container",
                f"the container of {package_id} v{version} has another size or SHA-256",
                container_evidence(package_id, version, expected, found),
            )

    def unwrap(self, bundle_id: str, licence: Mapping[str, Any], package_id: str, version: int) -> bytes:
        wrapped = {(str(k["package_id"]), int(k["version"])): str(k["jwe"]) for k in licence.get("keys", [])}
        jwe = wrapped.get((package_id, version))
        if jwe is None:
            raise self._reporter.tamper(
                bundle_id, "license", f"the licence carries no key for {package_id} v{version}"
            )
        try:
            return unwrap_content_key(
                jwe, self._private_key(), bundle_id=bundle_id, device_id=self._device_id()
            )
        except LicenceKeyError as error:
            raise self._reporter.tamper(
                bundle_id, "license", f"the content key of {package_id} v{version}: {error}"
            ) from error

    def segments(
        self, bundle_id: str, files: BundleFiles, package_id: str, version: int, size: int, key: bytes
    ) -> int:
        """Authenticate every segment and check every file hash of one container; return its file count."""
        if is_version_2(files.container(package_id, version)):
            try:
                package = open_package(files, package_id, version, key)
                package.verify()
            except ContainerError as error:
                raise self._reporter.tamper(bundle_id, "container", f"{package_id} v{version}: {error}") from error
            return len(package.files())
        with open(files.container(package_id, version), "rb") as handle:
            try:
                reader = ContainerReader(handle, key, size=size)
                reader.verify()
            except ContainerError as error:
                # The file has the signed SHA-256 (checked first), so the service's own container is
                # bad: reported, but the evidence would not contradict what the service stored.
                raise self._reporter.tamper(
                    bundle_id, "container", f"{package_id} v{version}: {error}"
                ) from error
            return len(reader.files())

    def bundle(self, bundle_id: str, files: BundleFiles, licence: dict[str, Any], *, deep: bool) -> Checked:
        """Everything that must hold before content is opened; ``deep`` also opens every segment."""
        manifest_bytes = read_private(files.manifest)
        manifest = self.manifest(
            bundle_id, manifest_bytes, expected_sha256=str(licence.get("content_hash", "")) or None
        )
        self.content_hash(bundle_id, licence, manifest_bytes)
        keys: dict[tuple[str, int], bytes] = {}
        containers = []
        file_count = 0
        for package in manifest["packages"]:
            package_id, version = str(package["package_id"]), int(package["version"])
            size = int(package["container"]["size"])
            self.container_file(bundle_id, files, package_id, version, package["container"])
            if int(package["container"].get("format", 1)) == 2:
                check_objects(self._reporter, bundle_id, files, package_id, version)
            keys[(package_id, version)] = self.unwrap(bundle_id, licence, package_id, version)
            if deep:
                file_count += self.segments(
                    bundle_id, files, package_id, version, size, keys[(package_id, version)]
                )
            containers.append((package_id, version, size, files))
        return Checked(manifest, licence, keys, containers, file_count)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: os.PathLike[str] | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
