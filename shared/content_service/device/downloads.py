"""Downloads: the signed manifest first, then each container, resumed with HTTP Range.

The manifest's signature is checked against the pinned keys before anything else is trusted;
each container is held to the manifest's size and SHA-256 and only then renamed into place, so a
finished ``.cspc`` has always matched once.

The signed URLs of a download are kept beside its files until it finishes. A resumed download
uses them while they are valid, without asking the API: the URLs name the zone's distribution,
whose origin group fails over, so a download survives its region's API failing. Only URLs that
expired (or that the CDN refuses) are asked for again, through the device's API endpoints, which
fail over themselves.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import requests

from content_service.device.content import ContentChecks
from content_service.device.delta import DeltaObjects, DeltaReport
from content_service.device.errors import BundleNotFound, InsecureStateDir
from content_service.device.http import DeviceApi, Progress, RemoteRefused, fetch_small, fetch_verified
from content_service.device.reports import Reporter, container_evidence
from content_service.device.store import (
    BundleFiles,
    DeviceStore,
    bundle_lock,
    move_into_place,
    read_private,
    write_private,
)

#: A manifest lists containers, not content: anything larger is not a manifest.
MANIFEST_LIMIT = 1 << 20
#: Held signed URLs with less than this many seconds left are asked for again, not used.
URL_EXPIRY_MARGIN = 10.0
#: The CDN's answer to a signed URL it no longer accepts (expired, or signed by a retired key).
_URL_REFUSED = 403


class Downloads:
    """The downloads of one device."""

    def __init__(
        self,
        store: DeviceStore,
        checks: ContentChecks,
        reporter: Reporter,
        *,
        api: Callable[[], DeviceApi],
        session: Callable[[], requests.Session],
        device_id: Callable[[], str],
        now: Callable[[], float],
    ) -> None:
        """``now``: the device's trusted time (epoch seconds), against which held URLs expire."""
        self._store = store
        self._checks = checks
        self._reporter = reporter
        self._api = api
        self._session = session
        self._device_id = device_id
        self._now = now
        self._delta = DeltaObjects(store, reporter, session=session)
        #: Per package of the last download, what its version 2 objects cost (empty for version 1).
        self.delta_reports: dict[tuple[str, int], DeltaReport] = {}

    def download(self, bundle_id: str, progress: Progress | None = None) -> list[str]:
        """Download the manifest and every container, resuming partial files; return the package ids.

        A download in progress resumes with the signed URLs it holds while they are valid; expired
        ones, or ones the CDN refuses, are asked for again once.
        """
        files = self._store.bundle_dir(bundle_id)
        # Two device processes downloading one bundle would interleave their writes to one
        # partial file; the second waits and then finds the first one's work done.
        with bundle_lock(files):
            held = self._held_urls(files)
            signed = held or self._fresh_urls(bundle_id, files)
            try:
                done = self._download(bundle_id, files, signed, progress)
            except RemoteRefused as refused:
                if held is None or refused.extensions.get("status") != _URL_REFUSED:
                    raise
                done = self._download(bundle_id, files, self._fresh_urls(bundle_id, files), progress)
            files.signed_urls.unlink(missing_ok=True)
            return done

    def _held_urls(self, files: BundleFiles) -> dict[str, Any] | None:
        """The signed URLs of the download in progress, if there are any and they are still valid."""
        try:
            signed = json.loads(read_private(files.signed_urls))
            expires_at = datetime.fromisoformat(str(signed["expires_at"])).timestamp()
        except (OSError, InsecureStateDir, ValueError, KeyError, TypeError):
            return None
        if expires_at - URL_EXPIRY_MARGIN <= self._now():
            return None
        return signed

    def _fresh_urls(self, bundle_id: str, files: BundleFiles) -> dict[str, Any]:
        signed = self._api().download_urls(bundle_id, self._device_id())
        # Kept (0600) so that a dropped download resumes without the API while the URLs are valid.
        write_private(files.signed_urls, json.dumps(signed).encode())
        return signed

    def _download(
        self, bundle_id: str, files: BundleFiles, signed: Mapping[str, Any], progress: Progress | None
    ) -> list[str]:
        manifest_bytes = fetch_small(self._session(), signed["manifest_url"], limit=MANIFEST_LIMIT)
        manifest = self._checks.manifest(bundle_id, manifest_bytes)
        write_private(files.manifest, manifest_bytes)
        urls = {(c["package_id"], int(c["version"])): c["url"] for c in signed["containers"]}
        objects_urls = {(c["package_id"], int(c["version"])): c.get("objects_url") for c in signed["containers"]}
        self.delta_reports = {}
        done = []
        for package in manifest["packages"]:
            package_id, version = str(package["package_id"]), int(package["version"])
            container = package["container"]
            final = files.container(package_id, version)
            if not (final.is_file() and final.stat().st_size == int(container["size"])):
                if (package_id, version) not in urls:
                    raise BundleNotFound(f"the download listing has no URL for {package_id} v{version}")
                self._container(bundle_id, files, package_id, version, container, urls, progress)
            if int(container.get("format", 1)) == 2:
                self.delta_reports[(package_id, version)] = self._delta.fetch(
                    bundle_id, files, package_id, version, objects_urls.get((package_id, version)), progress
                )
            done.append(package_id)
        return done

    def _container(
        self,
        bundle_id: str,
        files: BundleFiles,
        package_id: str,
        version: int,
        container: Mapping[str, object],
        urls: Mapping[tuple[str, int], str],
        progress: Progress | None,
    ) -> None:
        partial = files.partial(package_id, version)
        size = int(str(container["size"]))
        expected = str(container["sha256"])
        found = fetch_verified(
            self._session(), urls[(package_id, version)], partial, size, expected, name=package_id, progress=progress
        )
        if not hmac.compare_digest(found, expected):
            # The bytes are not the signed container. Start the next attempt from zero.
            partial.unlink()
            raise self._reporter.tamper(
                bundle_id,
                "container",
                f"the downloaded container of {package_id} v{version} has another SHA-256",
                container_evidence(package_id, version, expected, found),
            )
        move_into_place(partial, files.container(package_id, version))
