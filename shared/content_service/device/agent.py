"""The reference device agent: the one place that composes the device's parts.

``DeviceAgent`` is the Python API the ``content-service device`` commands drive. It holds no
rule of its own; each part calls only downward:

- ``store``: the private state directory (paths, atomic writes, the key file);
- ``state``: the sealed enrolment record and state root (clock floor, status, sync cursor,
  tombstones, licence index), MACed under a key derived from the device key;
- ``clock``: the anti-rollback clock, persisted in the state root;
- ``trust``: tokens verified against the pinned keys, claims held to the enrolment;
- ``reports``: tamper reports (with evidence) and ``device.status_forged`` signals, via the outbox;
- ``content``: manifest, licence binding, container and segment checks;
- ``licences``: which licence a bundle holds and whether it opens now;
- ``downloads``: manifest and containers, resumed;
- ``sync``: the feed, the signed status, revocations (tombstone, then removal);
- ``renewals``: licences renewed before expiry and on ``licence.renewed``, with back-off;
- ``mount``: decrypt-on-read access under the licence;
- ``branding``: the tenant's signed branding overlay, kept sealed and injected at ``launch``.

Content is decrypted on read, in memory; nothing plaintext is written to disk.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, Protocol

import requests

from content_service.client import ApiClient, ApiError
from content_service.crypto import (
    ContainerError,
    ContainerReader,
    TokenError,
    device_public_jwk,
    generate_device_key,
    verify,
)
from content_service.device.assistant import OverlayInvalid, fetch_assistant
from content_service.device.branding import (
    AppliedBranding,
    applied_branding,
    brand_page,
    fetch_branding,
    held_revision,
    is_page,
)
from content_service.device.clock import MonotonicClock, TrustedClock, WallClock
from content_service.device.content import Checked, ContentChecks
from content_service.device.delta import is_version_2, open_package
from content_service.device.downloads import Downloads
from content_service.device.errors import (
    AlreadyEnrolled,
    BundleNotFound,
    DeviceError,
    InsecureStateDir,
    LicenceRevoked,
    LicenceUnknown,
    NotEnrolled,
    Offline,
    StatusForged,
)
from content_service.device.http import DeviceApi, Link, Progress
from content_service.device.licences import LicenceRules
from content_service.device.mount import MountedBundle
from content_service.device.outbox import DEFAULT_MAX_BYTES, FlushResult, Outbox, OutboxUsage
from content_service.device.renewals import RenewalOutcome, RenewalPolicy, Renewals
from content_service.device.reports import REFUSALS, Reporter
from content_service.device.state import DeviceState
from content_service.device.store import BundleFiles, DeviceRecord, DeviceStore, read_private
from content_service.device.sync import Syncer, SyncResult, SyncState, enrolment_endpoints
from content_service.device.trust import MANIFEST_TYPE, KeySetChange, Trust, UntrustedKey, first_key_set

#: After a failed attempt to reach the service, opening content stays offline this long before trying again.
OFFLINE_RETRY_SECONDS = 60.0

#: The namespace of statement ids derived from a caller's key (``record_statement(key=...)``).
STATEMENT_NAMESPACE = uuid.UUID("6f1c1f52-4d0e-5b8a-9a57-3c1e0f6d2b11")

#: ``sink(statement_id, statement)``: deliver one xAPI statement by id (PUT semantics), raise to retry later.
StatementSink = Callable[[str, Mapping[str, Any]], Mapping[str, Any] | None]


class StatusSource(Protocol):
    """Where a device gets a fresh signed status for a bundle when it is online.

    The default is ``SyncStatus`` (a sync of the feed, then a licence renewal); a bare licence
    refresh (``LicenceRefreshStatus``) is the other implementation. ``refresh`` raises ``Offline``
    when the service cannot be reached and ``LicenceRevoked`` when it refuses.
    """

    def refresh(self, agent: DeviceAgent, bundle_id: str) -> None: ...


class LicenceRefreshStatus:
    """A status source without the sync feed: ask the API for the bundle's licence again."""

    def refresh(self, agent: DeviceAgent, bundle_id: str) -> None:
        agent.fetch_licence(bundle_id)


class SyncStatus:
    """The default status source: sync (learning every revocation), then renew the licence if possible.

    A bundle the sync removed raises ``LicenceRevoked``. A sync the service cannot answer
    (``ApiError``: an older service without the feed) falls back to a licence refresh. Once the
    sync succeeded, a failed licence renewal is not fatal: the status is fresh and the stored
    licence's own dates still apply.
    """

    def refresh(self, agent: DeviceAgent, bundle_id: str) -> None:
        try:
            agent.sync_once()
        except ApiError:
            agent.fetch_licence(bundle_id)
            return
        if not agent.store.bundle(bundle_id).root.exists():
            raise LicenceRevoked(f"the service revoked {bundle_id}; it was removed from this device")
        # Renewal is best effort here: the sync already gave a fresh status.
        with contextlib.suppress(Offline, ApiError):
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
class Launch:
    """What the launcher serves for a launch entry: the page (branded), the content's own SHA-256."""

    page: bytes
    content_sha256: str
    branding: AppliedBranding


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` checked."""

    bundle_id: str
    packages: int
    files: int
    container_bytes: int
    licence_expires_at: int
    grace_ends_at: int


class DeviceAgent:
    """One device, living in one private state directory.

    ``session`` carries every network call (API, CDN, reports); ``wall`` and ``monotonic`` are the
    anti-rollback clock's sources (injectable, so tests set the clock back without waiting);
    ``status_source`` decides what counts as a fresh online status; ``statement_sink`` receives
    queued xAPI statements on ``flush``.
    """

    def __init__(
        self,
        store: DeviceStore,
        *,
        wall: WallClock | None = None,
        monotonic: MonotonicClock | None = None,
        session: requests.Session | None = None,
        token: str | None = None,
        status_source: StatusSource | None = None,
        statement_sink: StatementSink | None = None,
        outbox_retention: timedelta = timedelta(days=7),
        outbox_max_bytes: int = DEFAULT_MAX_BYTES,
        offline_retry_seconds: float = OFFLINE_RETRY_SECONDS,
        renewal: RenewalPolicy | None = None,
        renewal_draw: Callable[[], float] = random.random,
    ) -> None:
        self.store = store.ensure()
        clock_sources: dict[str, Any] = {}
        if wall is not None:
            clock_sources["wall"] = wall
        if monotonic is not None:
            clock_sources["monotonic"] = monotonic
        self.clock = TrustedClock(**clock_sources)
        self.session = session or requests.Session()
        self._token = token
        self.status_source: StatusSource = status_source or SyncStatus()
        # Sync (possibly on a SyncLoop thread) removes bundles; mount and remove take the same lock
        # so a bundle is never opened halfway through its removal.
        self._lock = threading.RLock()
        self.statement_sink = statement_sink
        self.renewal_policy = renewal or RenewalPolicy()
        self._renewal_draw = renewal_draw
        # Unsent items age on the newest signed server time: a wall clock set ahead purges nothing.
        self.outbox = Outbox(
            store.outbox_path,
            clock=self.clock.now,
            retention=outbox_retention,
            max_bytes=outbox_max_bytes,
            age_clock=lambda: self.clock.last_server_time,
        )
        # The back-off runs on the monotonic clock: trusted time may be corrected back by a sync.
        self.link = Link(monotonic or time.monotonic, offline_retry_seconds)
        self.reporter = Reporter(self.outbox, lambda: self.api, lambda: self.device_id, self.link)
        self._mounted: dict[str, MountedBundle] = {}
        self._parts: _Parts | None = None
        if self.store.has_key():
            self._compose()

    # ------------------------------------------------------------ composition
    def _compose(self) -> _Parts:
        state = DeviceState.open(self.store)
        self.clock.bind(state)
        # An outbox damaged, removed, swapped or rolled back is noted here, reported by the next flush.
        self.outbox.bind(state)
        trust = Trust(state.record, observe=self.clock.observe_server_time)
        checks = ContentChecks(trust, self.reporter, self.store.private_key, lambda: self.device_id)
        parts = _Parts(
            state=state,
            trust=trust,
            checks=checks,
            licences=LicenceRules(self.store, state, trust, self.clock, self.reporter),
            downloads=Downloads(
                self.store,
                checks,
                self.reporter,
                api=lambda: self.api,
                session=lambda: self.session,
                device_id=lambda: self.device_id,
                now=self.clock.now,
            ),
            syncer=Syncer(
                api=lambda: self.api,
                device_id=lambda: self.device_id,
                trust=trust,
                state=state,
                clock=self.clock,
                reporter=self.reporter,
                remove=self.remove,
                held=self.store.bundle_ids,
                refresh_assistant=self._refresh_assistant,
            ),
        )
        parts.renewals = Renewals(
            parts.licences,
            self.clock,
            held=self._licensed,
            renew=self.fetch_licence,
            refused=self.unmount,
            policy=self.renewal_policy,
            draw=self._renewal_draw,
        )
        self._parts = parts
        return parts

    @property
    def parts(self) -> _Parts:
        if self._parts is None:
            raise NotEnrolled(
                f"no device is enrolled in {self.store.home}; run `content-service device enroll`"
            )
        return self._parts

    @property
    def state(self) -> DeviceState:
        return self.parts.state

    # ------------------------------------------------------------ identity and API
    @property
    def record(self) -> DeviceRecord:
        """The sealed enrolment record (``NotEnrolled`` before enrolment)."""
        return self.parts.state.record()

    @property
    def device_id(self) -> str:
        return self.record.device_id

    @property
    def api(self) -> DeviceApi:
        """The API of the tenant this device enrolled with, on the agent's session."""
        token = self._token or self.store.token()
        if not token:
            raise NotEnrolled("no API token: pass one (--token) or enroll again")
        # The enrolment's endpoints (the zone's primary, then its secondary), or the new zone's
        # after a residency migration (a tenant.migrated change in its feed); DeviceApi fails over.
        endpoints = [str(url) for url in self.parts.state.read().get("api_endpoints") or ()]
        base_url = endpoints[0] if endpoints else self.record.api_url
        return DeviceApi(base_url, token, session=self.session, endpoints=tuple(endpoints))

    def enroll(self, api: ApiClient, name: str = "") -> DeviceRecord:
        """Make a key, enroll its public half, pin the service's keys and identity, seal it all (0600).

        The key set must be signed by one of its own keys; the tenant and issuer are pinned from
        the first signed status (it must name this device and user). Later the keys change only
        through ``refresh_jwks``, signed by a key already pinned.
        """
        if self.store.is_enrolled() or self.store.has_key():
            raise AlreadyEnrolled(f"{self.store.home} already holds a device")
        client = DeviceApi(api.base_url, api.token, timeout=api.timeout, session=self.session)
        key = generate_device_key()
        device = client.enroll_device(device_public_jwk(key), name)
        jwks, retired, jwks_time = first_key_set(client.jwks())
        record = DeviceRecord(
            device_id=device["device_id"],
            user_id=device["user_id"],
            api_url=api.base_url,
            name=device.get("name", name),
            jwks=jwks,
            enrolled_at=str(device.get("created_at", "")),
            retired_kids=retired,
            jwks_time=jwks_time,
        )
        self.store.save_key(key)
        parts = self._compose()
        parts.state.save_record(record)
        parts.state.create()
        endpoints = enrolment_endpoints(api.base_url, device.get("api_endpoints"))
        parts.state.update(lambda root: root.__setitem__("api_endpoints", endpoints))
        self.store.save_token(api.token)
        self._token = api.token
        # The tenant is pinned from a signed status answering our own nonce.
        _, claims = parts.syncer.status()
        record = DeviceRecord(**{**record.to_json(), "tenant_id": str(claims.get("tenant_id", ""))})
        parts.state.save_record(record)
        self.clock.observe_server_time(float(claims["server_time"]))
        self.clock.checkpoint()
        # Best effort: a service without branding, or a failed fetch, leaves the device unbranded
        # until the next sync whose status names a revision.
        with contextlib.suppress(Offline, ApiError):
            fetch_branding(self)
        return record

    def refresh_jwks(self) -> list[str]:
        """Take the service's signed key set: returns the kids added (retired keys are dropped).

        The set must be signed by a key this device already trusts and be no older than the one
        it holds; otherwise ``StatusForged`` (and a ``device.status_forged`` signal).
        """
        try:
            change: KeySetChange = self.parts.trust.take_key_set(self.api.jwks())
        except StatusForged as error:
            raise self.reporter.forged(error) from error
        self.parts.state.save_record(change.record)
        return change.added

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
            try:
                files = self.store.bundle(bundle_id)
            except InsecureStateDir:
                # A link where the bundle's folder belongs: nothing of it is the device's.
                infos.append(BundleInfo(bundle_id, remote.get(bundle_id), False, False, None, None))
                continue
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
        licences = self.parts.licences
        licences.refuse_if_revoked(bundle_id)
        try:
            answer = self.api.issue_licence(bundle_id, self.device_id)
        except ApiError as error:
            if error.status in REFUSALS:
                raise LicenceRevoked(
                    f"the service refused a licence for {bundle_id} (HTTP {error.status})",
                    status=error.status,
                ) from error
            raise
        return licences.keep(bundle_id, str(answer["license"]))

    def download(self, bundle_id: str, progress: Progress | None = None) -> list[str]:
        """Download the manifest and every container, resuming partial files; return the package ids.

        The bundle's approved assistant overlays come with it: a bundle created or downloaded after
        an approval was announced holds no feed entry for it, so getting the bundle is when the
        device asks. An overlay that does not verify is not kept, and the content still is; an API
        that cannot answer for the overlays (offline, an error) leaves the download done, and the
        next download of the bundle (it resumes at once: nothing is missing) asks again.
        """
        self.parts.licences.refuse_if_revoked(bundle_id)
        packages = self.parts.downloads.download(bundle_id, progress)
        with contextlib.suppress(ApiError, Offline):
            self._refresh_assistant(bundle_id)
        return packages

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
            report_tamper=lambda kind, detail: self.reporter.tamper(bundle_id, "container", detail),
        )
        try:
            for package_id, version, size, files in checked.containers:
                if is_version_2(files.container(package_id, version)):
                    mounted._add(package_id, version, *self._open_delta(bundle_id, files, package_id, version, checked))
                    continue
                handle: BinaryIO = open(files.container(package_id, version), "rb")  # noqa: SIM115 - closed by unmount.
                try:
                    reader = ContainerReader(handle, checked.keys[(package_id, version)], size=size)
                except ContainerError as error:
                    handle.close()
                    raise self.reporter.tamper(
                        bundle_id, "container", f"{package_id} v{version}: {error}"
                    ) from error
                mounted._add(package_id, version, handle, reader)
        except BaseException:
            mounted.close()
            raise
        self._mounted[bundle_id] = mounted
        return mounted

    def _open_delta(
        self, bundle_id: str, files: BundleFiles, package_id: str, version: int, checked: Checked
    ) -> tuple[Any, Any]:
        """A version 2 package's reader, which is also the handle unmount closes (its object files)."""
        try:
            reader = open_package(files, package_id, version, checked.keys[(package_id, version)])
        except ContainerError as error:
            raise self.reporter.tamper(bundle_id, "container", f"{package_id} v{version}: {error}") from error
        return reader, reader

    def unmount(self, bundle_id: str) -> None:
        """Close a mounted bundle and forget its content keys."""
        with self._lock:
            mounted = self._mounted.pop(bundle_id, None)
            if mounted is not None:
                mounted.close()

    def _refresh_assistant(self, bundle_id: str) -> str | None:
        """Fetch and verify a held bundle's assistant overlays (a download, or a sync told of an approval).

        Returns why an overlay was refused, or None; being offline or refused by the API raises.
        """
        try:
            fetch_assistant(self, bundle_id)
        except OverlayInvalid as refused:
            return f"assistant overlay refused: {refused}"
        return None

    def remove(self, bundle_id: str) -> bool:
        """Unmount and delete a bundle: its licence (and so its wrapped keys) and its ciphertext."""
        with self._lock:
            self.unmount(bundle_id)
            removed = self.store.remove_bundle(bundle_id)
            self.parts.licences.forget(bundle_id)
            return removed

    # ------------------------------------------------------------ sync
    def sync_once(self) -> SyncResult:
        """Pull the sync feed, verify its signed status, remove revoked bundles, acknowledge;
        then renew the licences the feed announced as renewed and those in their renewal window.

        A renewal the service refused unmounts its bundle; a second sync then applies the signed
        revocation, and its changes are part of the result.
        """
        with self._lock:
            result = self.parts.syncer.sync_once()
            self._sync_branding(result.branding_revision)
            announced = [c.bundle_id for c in result.changes if c.type == "licence.renewed" and not c.removed]
            renewals = self.parts.renewals.run(announced=announced)
            result = dataclasses.replace(result, renewals=renewals)
            if any(o.outcome == "refused" for o in renewals):
                result = _merged(result, self._sync_after_refusal())
            return result

    def _sync_branding(self, revision: int | None) -> None:
        """Fetch the tenant's branding overlay when the signed status names another revision.

        Best effort: offline or refused, the held branding stays and the next sync tries again.
        """
        if revision is None or revision == held_revision(self):
            return
        with contextlib.suppress(Offline, ApiError):
            fetch_branding(self)

    def branding(self) -> AppliedBranding:
        """The branding a launch applies now, checked again (offline too); refused means unbranded."""
        return applied_branding(self)

    def launch(self, bundle_id: str, package_id: str, path: str) -> Launch:
        """Open a launch entry of a bundle under its licence, as the device's launcher serves it.

        The entry's bytes are read from the mounted bundle (checked against their signed SHA-256);
        a page gets the tenant's branding injected into what is served, never into the content.
        """
        with self._lock:
            content = self._mount(bundle_id).read(package_id, path)
        applied = self.branding() if is_page(path) else AppliedBranding(None, 0)
        return Launch(
            brand_page(content, applied.branding, applied.logo), hashlib.sha256(content).hexdigest(), applied
        )

    def renew_licences(self) -> list[RenewalOutcome]:
        """Renew every held licence in its renewal window (not waiting out a back-off); one try each."""
        with self._lock:
            outcomes = self.parts.renewals.run()
            if any(o.outcome == "refused" for o in outcomes):
                self._sync_after_refusal()
            return outcomes

    def _licensed(self) -> list[str]:
        return [b for b in self.store.bundle_ids() if self.store.bundle(b).licence.is_file()]

    def _sync_after_refusal(self) -> SyncResult | None:
        """A sync that applies the revocation behind a refused renewal (best effort: offline, later)."""
        try:
            return self.parts.syncer.sync_once()
        except (Offline, ApiError, StatusForged, UntrustedKey):
            return None

    def sync_state(self) -> SyncState:
        """What the device last learnt from its feed: cursor, last seq, status time, available bundles."""
        return SyncState.of(self.parts.state.read())

    # ------------------------------------------------------------ outbox
    def record_statement(self, statement: Mapping[str, Any], *, key: str | None = None) -> str:
        """Queue an xAPI statement (offline is fine); returns its id. Queuing an id twice keeps one.

        The id is the statement's own ``id``; else, with ``key`` (the caller's name for the event,
        e.g. ``attempt-7/completed``), a UUIDv5 of this device and the key, so recording the same
        event again after a crash yields the same id; else a fresh UUID. ``OutboxFull`` when the
        outbox is at its disk cap (nothing queued is dropped; docs/offline-statements.md).
        """
        body = dict(statement)
        if body.get("id"):
            statement_id = str(body["id"])
        elif key is not None:
            statement_id = str(uuid.uuid5(STATEMENT_NAMESPACE, f"{self.device_id}/{key}"))
        else:
            statement_id = str(uuid.uuid4())
        body["id"] = statement_id
        body.setdefault("timestamp", datetime.fromtimestamp(self.clock.now(), UTC).isoformat())
        self.outbox.put("statement", statement_id, body)
        return statement_id

    def outbox_usage(self) -> OutboxUsage:
        """How full the outbox is (what to tell the learner: ``nearly_full``, the oldest unsent)."""
        return self.outbox.usage()

    def flush(self, statement_sink: StatementSink | None = None) -> dict[str, FlushResult]:
        """Send queued tamper reports and signals to the API and statements to the sink; then purge.

        Each item is marked sent as soon as it is delivered, so a second flush sends nothing
        twice. Without a sink (none given here or to the agent), statements stay queued.
        """
        results = self.reporter.flush()
        sink = statement_sink or self.statement_sink
        if sink is not None:
            results["statement"] = self.outbox.flush("statement", lambda item: sink(item.id, item.body))
        purged = self.outbox.purge()
        notices = self.parts.state.take_outbox_notices() if self._parts is not None else []
        if notices:
            # What the device found wrong with its queue since the last flush, reported once.
            results["outbox"] = FlushResult(sent=[], pending=0, error="; ".join(notices))
        if purged.unsent:
            # Never silent: the caller (the CLI exits 1) learns that queued items were given up.
            results["purged"] = FlushResult(
                sent=[],
                pending=0,
                error=f"{purged.unsent} unsent items older than {self.outbox.max_age.days} days were dropped",
            )
        return results

    # ------------------------------------------------------------ checks and enforcement
    def _check(self, bundle_id: str, *, deep: bool) -> Checked:
        files = self.store.bundle(bundle_id)
        if not files.manifest.is_file():
            raise BundleNotFound(
                f"bundle {bundle_id} is not on this device; download it first", bundle_id=bundle_id
            )
        # A bundle that is here again after its revocation (a restored folder) meets its tombstone.
        licence = self._licence(bundle_id)
        return self.parts.checks.bundle(bundle_id, files, licence, deep=deep)

    def _licence(self, bundle_id: str) -> dict[str, Any]:
        """The stored licence's claims; online, a lost state or a licence missing from the index is
        mended first (a nonce-bound sync, a fresh licence), offline they are refused."""
        licences = self.parts.licences
        if self.state.untrusted() and self.link.may_try():
            try:
                self.sync_once()
            except (Offline, ApiError, StatusForged, UntrustedKey):
                self.link.went_offline()
        try:
            return licences.load(bundle_id)
        except LicenceUnknown as unknown:
            if not self.link.may_try():
                raise
            try:
                self.fetch_licence(bundle_id)
            except (Offline, ApiError) as error:
                self.link.went_offline()
                raise unknown from error
            return licences.load(bundle_id)

    def _enforce(self, bundle_id: str) -> None:
        """Raise unless the licence allows opening the bundle now (offline rules, online status)."""
        licences = self.parts.licences
        claims = self._licence(bundle_id)
        online = licences.fresh(bundle_id, claims)
        if not online and self.link.may_try():
            try:
                self.status_source.refresh(self, bundle_id)
            except (Offline, ApiError, StatusForged, UntrustedKey):
                # Unreachable, unable to answer, or answering with a status that cannot be trusted:
                # no fresh status, so the offline rules apply, exactly as in airplane mode.
                self.link.went_offline()
            except LicenceRevoked:
                self.unmount(bundle_id)
                raise
            else:
                # The refresh may have renewed the licence; what opens is what is stored now.
                online = True
                claims = licences.load(bundle_id)
        licences.check(bundle_id, claims, online=online)

    def _downloaded(self, files: BundleFiles) -> bool:
        if not files.manifest.is_file():
            return False
        try:
            manifest = verify(read_private(files.manifest).decode("ascii"), self.record.jwks, typ=MANIFEST_TYPE)
        except (OSError, TokenError, UnicodeError, DeviceError):
            return False
        return all(
            files.container(str(p["package_id"]), int(p["version"])).is_file() for p in manifest["packages"]
        )


@dataclass
class _Parts:
    """The parts of an enrolled device, composed once (see the module docstring)."""

    state: DeviceState
    trust: Trust
    checks: ContentChecks
    licences: LicenceRules
    downloads: Downloads
    syncer: Syncer
    renewals: Renewals = dataclasses.field(init=False)


def _merged(first: SyncResult, then: SyncResult | None) -> SyncResult:
    """One result for two syncs in a row (the second one's state is the latest)."""
    if then is None:
        return first
    return dataclasses.replace(
        then,
        changes=first.changes + then.changes,
        removed=first.removed + [b for b in then.removed if b not in first.removed],
        pages=first.pages + then.pages,
        renewals=first.renewals,
    )


def _peek_claims(files: BundleFiles) -> dict[str, Any] | None:
    """The stored licence's claims for display only (not verified; nothing is opened on them)."""
    try:
        payload = read_private(files.licence).decode("ascii").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        int(claims["exp"]), int(claims["offline_grace"])  # what the listing shows must be numbers
        return dict(claims)
    except (OSError, DeviceError, ValueError, IndexError, KeyError, TypeError, UnicodeError):
        return None


__all__ = [
    "BundleInfo",
    "DeviceAgent",
    "Launch",
    "LicenceRefreshStatus",
    "StatementSink",
    "StatusSource",
    "SyncStatus",
    "VerifyReport",
]
