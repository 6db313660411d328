"""The reference device agent: enroll, download, verify, mount and read bundles under their licence.

``DeviceAgent`` is the Python API the ``content-service device`` commands drive. It trusts only
what the service signed with a key pinned at enrolment: the bundle manifest pins each
container's size and SHA-256, the licence pins the manifest (``content_hash``) and carries the
content keys wrapped to this device. Content is decrypted on read, in memory; nothing plaintext
is written to disk. The licence is enforced offline with the domain's own rules
(``check_licence_use``) and an anti-rollback clock. Anything that does not match what was
signed raises ``TamperDetected`` and queues a tamper report in the durable outbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, Protocol

import requests

from content_service.client import ApiClient, ApiError
from content_service.crypto import (
    ContainerError,
    ContainerReader,
    LicenceKeyError,
    TokenError,
    UnknownKey,
    device_public_jwk,
    generate_device_key,
    unwrap_content_key,
    verify,
)
from content_service.device.clock import TrustedClock
from content_service.device.errors import (
    AlreadyEnrolled,
    BundleNotFound,
    ClockUntrusted,
    DeviceError,
    DownloadIncomplete,
    LicenceRevoked,
    NotEnrolled,
    Offline,
    TamperDetected,
    TamperKind,
)
from content_service.device.http import DeviceApi, Progress, fetch_resumable, fetch_small
from content_service.device.mount import MountedBundle
from content_service.device.outbox import FlushResult, Outbox, OutboxItem
from content_service.device.store import (
    BundleFiles,
    DeviceRecord,
    DeviceStore,
    read_json,
    write_json,
    write_private,
)
from content_service.device.sync import SyncResult, SyncState, SyncStatus, sync_once
from content_service.domain.licence import LicenceWrongDevice, check_licence_use

MANIFEST_TYPE = "bundle-manifest+jwt"
LICENCE_TYPE = "license+jwt"
#: A manifest lists containers, not content: anything larger is not a manifest.
MANIFEST_LIMIT = 1 << 20
DEFAULT_STATUS_INTERVAL = 12 * 3600
#: After a failed attempt to reach the service, opening content stays offline this long before trying again.
OFFLINE_RETRY_SECONDS = 60.0
_HASH_CHUNK = 1 << 20
#: API refusals that say "not for you any more" (revoked, foreign, gone), as opposed to "try later".
_REFUSALS = {403, 404, 409, 410, 422}

#: ``sink(statement_id, statement)``: deliver one xAPI statement by id (PUT semantics), raise to retry later.
StatementSink = Callable[[str, Mapping[str, Any]], Mapping[str, Any] | None]


class StatusSource(Protocol):
    """Where a device gets a fresh signed status for a bundle when it is online.

    The default is ``sync.SyncStatus`` (a sync of the feed, then a licence renewal); a bare
    licence refresh (``LicenceRefreshStatus``) is the other implementation. ``refresh`` raises
    ``Offline`` when the service cannot be reached and ``LicenceRevoked`` when it refuses; on
    success the agent records the time.
    """

    def refresh(self, agent: DeviceAgent, bundle_id: str) -> None: ...


class LicenceRefreshStatus:
    """A status source without the sync feed: ask the API for the bundle's licence again."""

    def refresh(self, agent: DeviceAgent, bundle_id: str) -> None:
        agent.fetch_licence(bundle_id)


@dataclass(frozen=True)
class BundleInfo:
    """One bundle as the device sees it: on the service (if reachable) and on disk."""

    bundle_id: str
    remote_state: str | None
    downloaded: bool
    licensed: bool
    licence_expires_at: int | None
    grace_ends_at: int | None


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` checked."""

    bundle_id: str
    packages: int
    files: int
    container_bytes: int
    licence_expires_at: int
    grace_ends_at: int


@dataclass(frozen=True)
class _Checked:
    """A bundle whose manifest, licence and containers match what was signed."""

    manifest: dict[str, Any]
    licence: dict[str, Any]
    keys: dict[tuple[str, int], bytes]
    containers: list[tuple[str, int, int, BundleFiles]]
    files: int


class DeviceAgent:
    """One device, living in one private state directory.

    ``session`` carries every network call (API, CDN, tamper reports); ``clock`` is the
    anti-rollback clock (its wall and monotonic sources are injectable); ``status_source``
    decides what counts as a fresh online status; ``statement_sink`` receives queued xAPI
    statements on ``flush``.
    """

    def __init__(
        self,
        store: DeviceStore,
        *,
        clock: TrustedClock | None = None,
        session: requests.Session | None = None,
        token: str | None = None,
        status_source: StatusSource | None = None,
        statement_sink: StatementSink | None = None,
        outbox_retention: timedelta = timedelta(days=7),
        offline_retry_seconds: float = OFFLINE_RETRY_SECONDS,
    ) -> None:
        self.store = store.ensure()
        self.clock = clock or TrustedClock(store.clock_path)
        self.session = session or requests.Session()
        self._token = token
        self.status_source: StatusSource = status_source or SyncStatus()
        # Sync (possibly on a SyncLoop thread) removes bundles; mount and remove take the same lock
        # so a bundle is never opened halfway through its removal.
        self._lock = threading.RLock()
        self.statement_sink = statement_sink
        self.outbox = Outbox(store.outbox_path, clock=self.clock.now, retention=outbox_retention)
        self._offline_retry_seconds = offline_retry_seconds
        self._offline_until = 0.0
        self._mounted: dict[str, MountedBundle] = {}
        self._record: DeviceRecord | None = None
        # An enrolled device whose clock record vanished may have had it deleted to roll time
        # back; until a signed server time arrives, its licences do not open offline.
        self._clock_lost = self.store.is_enrolled() and not self.clock.restored

    # ------------------------------------------------------------ identity and API
    @property
    def record(self) -> DeviceRecord:
        """The enrolment record (``NotEnrolled`` before enrolment), read once per agent."""
        if self._record is None:
            self._record = self.store.record()
        return self._record

    @property
    def device_id(self) -> str:
        return self.record.device_id

    @property
    def api(self) -> DeviceApi:
        """The API of the tenant this device enrolled with, on the agent's session."""
        token = self._token or self.store.token()
        if not token:
            raise NotEnrolled("no API token: pass one (--token) or enroll again")
        return DeviceApi(self.record.api_url, token, session=self.session)

    def enroll(self, api: ApiClient, name: str = "") -> DeviceRecord:
        """Make a key, enroll its public half with the API, pin the service's JWKS, save all (0600).

        The JWKS is fetched over the same authenticated API call path, and pinned: later it
        changes only through an explicit ``refresh_jwks``.
        """
        if self.store.is_enrolled():
            raise AlreadyEnrolled(f"{self.store.home} already holds device {self.device_id}")
        client = DeviceApi(api.base_url, api.token, timeout=api.timeout, session=self.session)
        key = generate_device_key()
        device = client.enroll_device(device_public_jwk(key), name)
        jwks = _checked_jwks(client.jwks())
        record = DeviceRecord(
            device_id=device["device_id"],
            user_id=device["user_id"],
            api_url=api.base_url,
            name=device.get("name", name),
            jwks=jwks,
            enrolled_at=str(device.get("created_at", "")),
        )
        self.store.save_enrolment(key, record)
        self.store.save_token(api.token)
        self._record = record
        # From enrolment on, the clock's record exists; its disappearance is then a signal.
        self.clock.checkpoint()
        self._token = api.token
        return record

    def refresh_jwks(self) -> list[str]:
        """Add the service's new signing keys to the pinned set (explicit; keys are only added).

        Returns the ``kid`` of each key added. A key already pinned is never replaced.
        """
        record = self.record
        fetched = _checked_jwks(self.api.jwks())
        pinned = {key["kid"]: key for key in record.jwks["keys"]}
        added = [key for key in fetched["keys"] if key["kid"] not in pinned]
        if added:
            jwks = {"keys": [*record.jwks["keys"], *added]}
            self._record = replace(record, jwks=jwks)
            self.store.save_record(self._record)
        return [key["kid"] for key in added]

    # ------------------------------------------------------------ bundles
    def list_bundles(self) -> list[BundleInfo]:
        """The bundles on this device and, when the API answers, the user's bundles on the service."""
        remote: dict[str, str] = {}
        try:
            page = self.api.list_bundles(limit=100)
            user = self.record.user_id
            remote = {b["bundle_id"]: b["state"] for b in page["items"] if b.get("user_id", user) == user}
        except (Offline, ApiError):
            # Offline the device still knows what it holds; the service's view is a bonus.
            pass
        infos = []
        for bundle_id in sorted(set(remote) | set(self.store.bundle_ids())):
            files = self.store.bundle(bundle_id)
            claims = _peek_claims(files)
            infos.append(
                BundleInfo(
                    bundle_id=bundle_id,
                    remote_state=remote.get(bundle_id),
                    downloaded=self._downloaded(files),
                    licensed=claims is not None,
                    licence_expires_at=int(claims["exp"]) if claims else None,
                    grace_ends_at=int(claims["exp"]) + int(claims["offline_grace"]) if claims else None,
                )
            )
        return infos

    def fetch_licence(self, bundle_id: str) -> dict[str, Any]:
        """Get this device's licence for a bundle, check it, keep it; it also counts as a fresh status.

        A refusal from the service (revoked bundle or device, another tenant's bundle) raises
        ``LicenceRevoked``; an unreachable service raises ``Offline``.
        """
        files = self.store.bundle_dir(bundle_id)
        try:
            answer = self.api.issue_licence(bundle_id, self.device_id)
        except ApiError as error:
            if error.status in _REFUSALS:
                raise LicenceRevoked(
                    f"the service refused a licence for {bundle_id} (HTTP {error.status})",
                    status=error.status,
                ) from error
            raise
        token = str(answer["license"])
        try:
            claims = verify(token, self.record.jwks, typ=LICENCE_TYPE)
        except UnknownKey as error:
            raise DeviceError(
                "the licence is signed by a key this device has not pinned; run refresh-jwks if the service rotated keys"
            ) from error
        except TokenError as error:
            raise self._tamper(bundle_id, "license", f"a fetched licence does not verify: {error}") from error
        self._check_licence_claims(bundle_id, claims)
        if files.manifest.is_file():
            self._check_content_hash(bundle_id, claims, files.manifest.read_bytes())
        self.clock.observe_server_time(float(claims["server_time"]))
        self._clock_lost = False
        write_private(files.licence, token.encode("ascii"))
        self._record_status(files)
        return claims

    def download(self, bundle_id: str, progress: Progress | None = None) -> list[str]:
        """Download the manifest and every container, resuming partial files; return the package ids.

        The manifest's signature is checked against the pinned JWKS before anything else is
        trusted; each container is held to the manifest's size and SHA-256 and only then
        renamed into place, so a finished ``.cspc`` has always matched once.
        """
        files = self.store.bundle_dir(bundle_id)
        signed = self.api.download_urls(bundle_id, self.device_id)
        manifest_bytes = fetch_small(self.session, signed["manifest_url"], limit=MANIFEST_LIMIT)
        manifest = self._verify_manifest(bundle_id, manifest_bytes)
        write_private(files.manifest, manifest_bytes)
        urls = {(c["package_id"], int(c["version"])): c["url"] for c in signed["containers"]}
        done = []
        for package in manifest["packages"]:
            package_id, version = str(package["package_id"]), int(package["version"])
            container = package["container"]
            final = files.container(package_id, version)
            if not (final.is_file() and final.stat().st_size == int(container["size"])):
                if (package_id, version) not in urls:
                    raise BundleNotFound(f"the download listing has no URL for {package_id} v{version}")
                self._download_container(bundle_id, files, package_id, version, container, urls, progress)
            done.append(package_id)
        return done

    def _download_container(
        self,
        bundle_id: str,
        files: BundleFiles,
        package_id: str,
        version: int,
        container: Mapping[str, Any],
        urls: Mapping[tuple[str, int], str],
        progress: Progress | None,
    ) -> None:
        partial = files.partial(package_id, version)
        size = int(container["size"])
        fetch_resumable(
            self.session, urls[(package_id, version)], partial, size, name=package_id, progress=progress
        )
        if not hmac.compare_digest(_sha256_file(partial), str(container["sha256"])):
            # The bytes are not the signed container. Start the next attempt from zero.
            partial.unlink()
            raise self._tamper(
                bundle_id,
                "container",
                f"the downloaded container of {package_id} v{version} has another SHA-256",
            )
        os.replace(partial, files.container(package_id, version))

    def verify(self, bundle_id: str) -> VerifyReport:
        """Check everything once after a download: signatures, bindings, hashes, every segment and file."""
        checked = self._check(bundle_id, deep=True)
        return VerifyReport(
            bundle_id=bundle_id,
            packages=len(checked.containers),
            files=checked.files,
            container_bytes=sum(size for _, _, size, _ in checked.containers),
            licence_expires_at=int(checked.licence["exp"]),
            grace_ends_at=int(checked.licence["exp"]) + int(checked.licence["offline_grace"]),
        )

    def mount(self, bundle_id: str) -> MountedBundle:
        """Open a bundle for reading: check it, enforce the licence, open each container.

        The returned bundle decrypts on read and enforces the licence on every open.
        """
        with self._lock:
            return self._mount(bundle_id)

    def _mount(self, bundle_id: str) -> MountedBundle:
        if bundle_id in self._mounted and not self._mounted[bundle_id].closed:
            self._enforce(bundle_id)
            return self._mounted[bundle_id]
        checked = self._check(bundle_id, deep=False)
        self._enforce(bundle_id)
        mounted = MountedBundle(
            bundle_id,
            enforce=lambda: self._enforce(bundle_id),
            report_tamper=lambda kind, detail: self._tamper(bundle_id, _kind(kind), detail),
        )
        try:
            for package_id, version, size, files in checked.containers:
                handle: BinaryIO = open(files.container(package_id, version), "rb")  # noqa: SIM115 - closed by unmount.
                try:
                    reader = ContainerReader(handle, checked.keys[(package_id, version)], size=size)
                except ContainerError as error:
                    handle.close()
                    raise self._tamper(bundle_id, "container", f"{package_id} v{version}: {error}") from error
                mounted._add(package_id, version, handle, reader)
        except BaseException:
            mounted.close()
            raise
        self._mounted[bundle_id] = mounted
        return mounted

    def unmount(self, bundle_id: str) -> None:
        """Close a mounted bundle and forget its content keys."""
        with self._lock:
            mounted = self._mounted.pop(bundle_id, None)
            if mounted is not None:
                mounted.close()

    def remove(self, bundle_id: str) -> bool:
        """Unmount and delete a bundle: its licence (and so its wrapped keys) and its ciphertext."""
        with self._lock:
            self.unmount(bundle_id)
            return self.store.remove_bundle(bundle_id)

    # ------------------------------------------------------------ sync
    def sync_once(self) -> SyncResult:
        """Pull the sync feed, verify its signed status, remove revoked bundles, acknowledge (``device.sync``)."""
        with self._lock:
            return sync_once(self)

    def sync_state(self) -> SyncState:
        """What the device last learnt from its feed: cursor, last seq, status time, available bundles."""
        return SyncState.load(self)

    # ------------------------------------------------------------ outbox
    def record_statement(self, statement: Mapping[str, Any]) -> str:
        """Queue an xAPI statement (offline is fine); returns its id. Queuing an id twice keeps one."""
        body = dict(statement)
        statement_id = str(body.get("id") or uuid.uuid4())
        body["id"] = statement_id
        body.setdefault("timestamp", datetime.fromtimestamp(self.clock.now(), UTC).isoformat())
        self.outbox.put("statement", statement_id, body)
        return statement_id

    def flush(self, statement_sink: StatementSink | None = None) -> dict[str, FlushResult]:
        """Send queued tamper reports to the API and statements to the sink; then purge old items.

        Each item is marked sent as soon as it is delivered, so a second flush sends nothing
        twice. Without a sink (none given here or to the agent), statements stay queued.
        """
        results = {"tamper": self.outbox.flush("tamper", self._send_tamper_report)}
        sink = statement_sink or self.statement_sink
        if sink is not None:
            results["statement"] = self.outbox.flush("statement", lambda item: sink(item.id, item.body))
        self.outbox.purge()
        return results

    def _send_tamper_report(self, item: OutboxItem) -> Mapping[str, Any]:
        body = item.body
        try:
            return self.api.report_tamper(
                self.device_id, body["bundle_id"], body["kind"], body.get("detail", "")
            )
        except ApiError as error:
            if error.status in _REFUSALS:
                # The service will never accept this report (the bundle is gone or not ours);
                # keeping it would block every report queued after it.
                return {"refused": error.status}
            raise

    def _tamper(self, bundle_id: str, kind: TamperKind, detail: str) -> TamperDetected:
        """Queue a tamper report (sent at once if the service answers) and return the error to raise."""
        self.outbox.put(
            "tamper", f"tmp-{uuid.uuid4()}", {"bundle_id": bundle_id, "kind": kind, "detail": detail[:1000]}
        )
        if self._may_try_network() and self.outbox.flush("tamper", self._send_tamper_report).error:
            self._went_offline()
        return TamperDetected(detail, kind=kind, bundle_id=bundle_id)

    # ------------------------------------------------------------ checks
    def _verify_manifest(self, bundle_id: str, token: bytes) -> dict[str, Any]:
        try:
            claims = verify(token.decode("ascii"), self.record.jwks, typ=MANIFEST_TYPE)
        except (TokenError, UnicodeError) as error:
            raise self._tamper(
                bundle_id, "manifest", f"the bundle manifest does not verify: {error}"
            ) from error
        if claims.get("bundle_id") != bundle_id or not isinstance(claims.get("packages"), list):
            raise self._tamper(
                bundle_id, "manifest", "the manifest is for another bundle or lists no packages"
            )
        return claims

    def _check_licence_claims(self, bundle_id: str, claims: Mapping[str, Any]) -> None:
        if claims.get("bundle_id") != bundle_id:
            raise self._tamper(bundle_id, "license", "the licence is for another bundle")
        if claims.get("device_id") != self.device_id:
            # Another device's licence is not tampering with this bundle; it simply does not open.
            raise LicenceWrongDevice("the licence was issued to another device")

    def _check_content_hash(self, bundle_id: str, claims: Mapping[str, Any], manifest: bytes) -> None:
        if not hmac.compare_digest(str(claims.get("content_hash", "")), hashlib.sha256(manifest).hexdigest()):
            raise self._tamper(
                bundle_id, "manifest", "the manifest is not the one the licence was issued for"
            )

    def _load_licence(self, bundle_id: str, files: BundleFiles) -> dict[str, Any]:
        if not files.licence.is_file():
            raise BundleNotFound(
                f"no licence for {bundle_id} on this device; fetch one first", bundle_id=bundle_id
            )
        try:
            claims = verify(files.licence.read_text("ascii"), self.record.jwks, typ=LICENCE_TYPE)
        except (TokenError, UnicodeError) as error:
            raise self._tamper(
                bundle_id, "license", f"the stored licence does not verify: {error}"
            ) from error
        self._check_licence_claims(bundle_id, claims)
        return claims

    def _check(self, bundle_id: str, *, deep: bool) -> _Checked:
        """Everything that must hold before content is opened; ``deep`` also opens every segment."""
        files = self.store.bundle(bundle_id)
        if not files.manifest.is_file():
            raise BundleNotFound(
                f"bundle {bundle_id} is not on this device; download it first", bundle_id=bundle_id
            )
        manifest_bytes = files.manifest.read_bytes()
        manifest = self._verify_manifest(bundle_id, manifest_bytes)
        licence = self._load_licence(bundle_id, files)
        self._check_content_hash(bundle_id, licence, manifest_bytes)
        wrapped = {(str(k["package_id"]), int(k["version"])): str(k["jwe"]) for k in licence.get("keys", [])}
        keys: dict[tuple[str, int], bytes] = {}
        containers = []
        file_count = 0
        for package in manifest["packages"]:
            package_id, version = str(package["package_id"]), int(package["version"])
            size = int(package["container"]["size"])
            self._check_container_file(bundle_id, files, package_id, version, package["container"])
            keys[(package_id, version)] = self._unwrap(bundle_id, wrapped, package_id, version)
            if deep:
                file_count += self._verify_segments(
                    bundle_id, files, package_id, version, size, keys[(package_id, version)]
                )
            containers.append((package_id, version, size, files))
        return _Checked(manifest, licence, keys, containers, file_count)

    def _check_container_file(
        self, bundle_id: str, files: BundleFiles, package_id: str, version: int, container: Mapping[str, Any]
    ) -> None:
        path = files.container(package_id, version)
        if not path.is_file():
            raise DownloadIncomplete(f"{package_id} v{version} is not downloaded yet", bundle_id=bundle_id)
        if path.stat().st_size != int(container["size"]):
            # A finished container matched its size and hash once; a change since is tampering.
            raise self._tamper(
                bundle_id, "container", f"the container of {package_id} v{version} changed size"
            )
        if not hmac.compare_digest(_sha256_file(path), str(container["sha256"])):
            raise self._tamper(
                bundle_id, "container", f"the container of {package_id} v{version} has another SHA-256"
            )

    def _unwrap(
        self, bundle_id: str, wrapped: Mapping[tuple[str, int], str], package_id: str, version: int
    ) -> bytes:
        jwe = wrapped.get((package_id, version))
        if jwe is None:
            raise self._tamper(
                bundle_id, "license", f"the licence carries no key for {package_id} v{version}"
            )
        try:
            return unwrap_content_key(
                jwe, self.store.private_key(), bundle_id=bundle_id, device_id=self.device_id
            )
        except LicenceKeyError as error:
            raise self._tamper(
                bundle_id, "license", f"the content key of {package_id} v{version}: {error}"
            ) from error

    def _verify_segments(
        self, bundle_id: str, files: BundleFiles, package_id: str, version: int, size: int, key: bytes
    ) -> int:
        """Authenticate every segment and check every file hash of one container; return its file count."""
        with open(files.container(package_id, version), "rb") as handle:
            try:
                reader = ContainerReader(handle, key, size=size)
                reader.verify()
            except ContainerError as error:
                raise self._tamper(bundle_id, "container", f"{package_id} v{version}: {error}") from error
            return len(reader.files())

    # ------------------------------------------------------------ licence enforcement
    def _enforce(self, bundle_id: str) -> None:
        """Raise unless the licence allows opening the bundle now (offline rules, online status)."""
        files = self.store.bundle(bundle_id)
        claims = self._load_licence(bundle_id, files)
        # The licence was signed at server_time, so now cannot be earlier, whatever the clock file says.
        self.clock.observe_server_time(float(claims["server_time"]))
        interval = _status_interval(claims)
        now = self.clock.now_int()
        last_status = self._last_status(files)
        online = last_status is not None and now - last_status <= interval
        if not online and self._may_try_network():
            try:
                self.status_source.refresh(self, bundle_id)
            except (Offline, ApiError):
                # Unreachable, or unable to answer (an expired token, a server error): no fresh
                # status, so the offline rules apply, exactly as in airplane mode.
                self._went_offline()
            except LicenceRevoked:
                self.unmount(bundle_id)
                raise
            else:
                # The refresh may have renewed the licence; what opens is what is stored now.
                online = True
                claims = self._load_licence(bundle_id, files)
                interval = _status_interval(claims)
                now = self.clock.now_int()
                last_status = self._last_status(files)
        if self._clock_lost:
            raise ClockUntrusted("the device's clock record is missing; connect once to restore it")
        check_licence_use(
            claims,
            device_id=self.device_id,
            trusted_now=now,
            online=online,
            last_status_at=last_status,
            status_interval=interval,
        )

    def _record_status(self, files: BundleFiles) -> None:
        write_json(files.status, {"last_status_at": self.clock.now_int()})

    def _last_status(self, files: BundleFiles) -> int | None:
        """The latest fresh status for this bundle: its own licence refresh or the device's last sync."""
        times = [SyncState.load(self).status_at]
        if files.status.is_file():
            times.append(read_json(files.status).get("last_status_at"))
        known = [int(t) for t in times if isinstance(t, int | float)]
        return max(known) if known else None

    def _may_try_network(self) -> bool:
        return self.clock.now() >= self._offline_until

    def _went_offline(self) -> None:
        self._offline_until = self.clock.now() + self._offline_retry_seconds

    def _downloaded(self, files: BundleFiles) -> bool:
        if not files.manifest.is_file():
            return False
        try:
            manifest = verify(files.manifest.read_text("ascii"), self.record.jwks, typ=MANIFEST_TYPE)
        except (TokenError, UnicodeError):
            return False
        return all(
            files.container(str(p["package_id"]), int(p["version"])).is_file() for p in manifest["packages"]
        )


def _checked_jwks(jwks: Any) -> dict[str, Any]:
    """A JWKS worth pinning: an object with a non-empty list of keys, each with a ``kid``."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) and k.get("kid") for k in keys):
        raise DeviceError("the service's JWKS holds no usable key")
    return {"keys": keys}


def _status_interval(claims: Mapping[str, Any]) -> int:
    """How long a status stays fresh: the licence's ``status_deadline - server_time``."""
    try:
        return max(0, int(claims["status_deadline"]) - int(claims["server_time"]))
    except (KeyError, TypeError, ValueError):
        return DEFAULT_STATUS_INTERVAL


def _peek_claims(files: BundleFiles) -> dict[str, Any] | None:
    """The stored licence's claims for display only (not verified; nothing is opened on them)."""
    if not files.licence.is_file():
        return None
    try:
        payload = files.licence.read_text("ascii").split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (ValueError, IndexError, UnicodeError):
        return None


def _sha256_file(path: os.PathLike[str] | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _kind(kind: str) -> TamperKind:
    if kind == "manifest":
        return "manifest"
    if kind == "license":
        return "license"
    return "container"


__all__ = [
    "BundleInfo",
    "DeviceAgent",
    "LicenceRefreshStatus",
    "StatementSink",
    "StatusSource",
    "VerifyReport",
]
