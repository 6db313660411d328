"""The device side of the sync feed: pull changes, verify the signed status, remove revoked bundles.

``Syncer.sync_once`` reads ``GET /v1/devices/{id}/sync`` from the stored cursor until the feed has
no more pages. Each request carries a fresh random nonce, and each page's status must be signed
by a pinned key, name this device, its user and tenant, echo that nonce, and be no older (by its
signed ``server_time``, the status epoch) than the newest status accepted before. A status that
fails any of this is ``StatusForged``: nothing in the page is applied, nothing counts as fresh,
and a ``device.status_forged`` signal is queued (never tamper reports: a forged status says
nothing about the bundles). A verified status raises the clock floor to its ``server_time``,
becomes the device's fresh status, and restores trust in a state root that was lost.

Revocations are applied before they are acknowledged: a bundle named by a ``bundle.revoked``
change, listed in the status's ``revoked_bundles``, or held by a device whose status says
``revoked`` first gets a tombstone in the sealed state (so a restored copy stays refused), then
is unmounted and deleted (licence, so its wrapped keys, and ciphertext; no plaintext ever
existed), and only then is the cursor persisted. A crash in between replays the page on the next
sync, and removing an absent bundle is a no-op, so the replay is harmless.

``SyncLoop`` runs ``sync_once`` every few seconds in a background thread.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from content_service.client import ApiError, InvalidApiUrl
from content_service.device.clock import TrustedClock
from content_service.device.errors import DeviceError, StatusForged
from content_service.device.http import DeviceApi
from content_service.device.reports import Reporter
from content_service.device.state import DeviceState
from content_service.device.store import BUNDLE_ID
from content_service.device.trust import STATUS_TYPE, Trust

#: How often a running device syncs by default: a revocation reaches a device in at most one
#: interval plus the feed delay, so 3 s keeps revoke → unmount under 5 s at p95 (BENCHMARKS.md).
DEFAULT_SYNC_INTERVAL = 3.0
MAX_SYNC_INTERVAL = 15.0
PAGE_LIMIT = 100
#: A feed that keeps saying ``has_more`` past this many pages in one sync is read on the next one.
MAX_PAGES = 1000
#: The status of a `tenant-moved` problem: the old zone of a migrated tenant no longer knows the device.
MOVED_STATUS = 421
#: Where a ``tenant.migrated`` change may point a device: https, or plain http on loopback (local stack).
_API_URL = re.compile(
    r"^(https://[A-Za-z0-9.-]+(:\d+)?|http://(127\.0\.0\.1|localhost)(:\d+)?)(/[A-Za-z0-9._~/-]*)?$"
)


@dataclass(frozen=True)
class AppliedChange:
    """One feed change as the device applied it."""

    seq: int
    type: str
    bundle_id: str
    removed: bool
    reason: str | None = None


@dataclass(frozen=True)
class SyncResult:
    """What one ``sync_once`` did."""

    changes: list[AppliedChange]
    removed: list[str]
    device_state: str
    server_time: int
    last_seq: int
    pages: int
    #: Filled in by the agent: the licence renewals run after this sync (``renewals.RenewalOutcome``).
    renewals: list[Any] = field(default_factory=list)
    #: The tenant's branding revision the last signed status named (None: the service names none).
    branding_revision: int | None = None


@dataclass
class SyncState:
    """What the device remembers of its feed (the ``sync`` and ``status`` sections of the state root)."""

    cursor: str | None = None
    last_seq: int = 0
    status_at: int | None = None
    device_state: str = "active"
    available: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, root: Mapping[str, Any]) -> SyncState:
        sync, status = root.get("sync", {}), root.get("status", {})
        status_at = int(status.get("server_time", 0))
        return cls(
            cursor=sync.get("cursor") or None,
            last_seq=int(sync.get("last_seq", 0)),
            status_at=status_at or None,
            device_state=str(status.get("device_state", "active")),
            available=[str(b) for b in sync.get("available", [])],
        )


class Syncer:
    """The sync of one device; ``remove`` unmounts and deletes a bundle (the agent's, under its lock)."""

    def __init__(
        self,
        *,
        api: Callable[[], DeviceApi],
        device_id: Callable[[], str],
        trust: Trust,
        state: DeviceState,
        clock: TrustedClock,
        reporter: Reporter,
        remove: Callable[[str], bool],
        held: Callable[[], list[str]],
        refresh_assistant: Callable[[str], str | None] | None = None,
    ) -> None:
        self._api = api
        self._device_id = device_id
        self._trust = trust
        self._state = state
        self._clock = clock
        self._reporter = reporter
        self._remove = remove
        self._held = held
        self._refresh_assistant = refresh_assistant

    def status(self, *, cursor: str | None = None, limit: int = 1) -> tuple[dict[str, Any], dict[str, Any]]:
        """One page and its verified status claims (``StatusForged``, signalled, if it does not verify)."""
        nonce = secrets.token_urlsafe(32)
        page = self._api().sync_with_nonce(self._device_id(), cursor, limit, nonce)
        try:
            claims = self._trust.status(page.get("status"), nonce=nonce, newest=self._state.newest_status())
        except StatusForged as error:
            raise self._reporter.forged(error) from error
        return page, claims

    def sync_once(self, *, limit: int = PAGE_LIMIT) -> SyncResult:
        """Pull every pending page of the feed, apply it, acknowledge it; see the module docstring.

        Raises ``Offline`` when the service cannot be reached, ``ApiError`` when it refuses, and
        ``StatusForged`` when a status cannot be trusted. Nothing is acknowledged past a failure.
        """
        state = SyncState.of(self._state.read())
        applied: list[AppliedChange] = []
        removed: list[str] = []
        server_time = 0
        pages = 0
        branding_revision = None
        while pages < MAX_PAGES:
            try:
                page, claims = self.status(cursor=state.cursor, limit=limit)
            except ApiError as refused:
                # Offline through a whole migration's grace period: the old zone no longer knows
                # this device, and says where its tenant went (421). Re-point there and read the
                # new zone's copy of the feed from its start, as a tenant.migrated change would.
                moved = self._moved(refused)
                if moved is None:
                    raise
                pages += 1
                state.cursor = None
                self._acknowledge(state, set(), endpoints=moved)
                continue
            pages += 1
            server_time = int(claims["server_time"])
            branding_revision = _revision(claims.get("branding_revision"))
            # The status answers this request's nonce: its time is the present, not just a floor.
            self._clock.resync(float(server_time))
            # Positions at or before the last one applied are skipped: after a zone move the new
            # zone's copy of the feed is read from its start, with the same positions.
            changes = [
                c for c in page.get("changes", []) if isinstance(c, Mapping) and _seq(c) > state.last_seq
            ]
            migrated = _first_migration(changes, self._state.read().get("api_endpoints"))
            if migrated is not None:
                # Nothing after the move is read here: the new zone's feed holds it.
                changes = changes[: changes.index(migrated) + 1]
            doomed = self._doomed(claims, changes)
            # Tombstones first, removal second, acknowledgement last: the cursor must never pass an
            # unapplied revocation, and a copy restored later must find the tombstone.
            if doomed:
                self._bury(doomed, server_time)
            for bundle_id in sorted(doomed):
                if self._remove(bundle_id):
                    removed.append(bundle_id)
            for change in changes:
                applied.append(self._assistant(_apply(state, change, doomed)))
            state.cursor = str(page["next_cursor"])
            state.device_state = str(claims.get("device_state", "active"))
            state.available = [b for b in state.available if b not in doomed]
            state.status_at = server_time
            if migrated is not None:
                # The tenant moved zones: read the new zone's copy of the feed from its start (a
                # cursor sealed here does not open there); what was applied already is skipped.
                state.cursor = None
                self._acknowledge(state, doomed, endpoints=[str(u) for u in migrated["api_endpoints"]])
                continue
            self._acknowledge(state, doomed)
            if not page.get("has_more"):
                break
        return SyncResult(
            changes=applied,
            removed=removed,
            device_state=state.device_state,
            server_time=server_time,
            last_seq=state.last_seq,
            pages=pages,
            branding_revision=branding_revision,
        )

    def _assistant(self, applied: AppliedChange) -> AppliedChange:
        """On ``assistant_config.approved`` for a held bundle, fetch and verify its overlays.

        Before the page is acknowledged: a device offline (or refused) raises, and reads the change
        again next time. An overlay that does not verify is not kept; the refusal is the change's
        ``reason`` and the feed goes on (a later approval is another change).
        """
        if (
            applied.type != "assistant_config.approved"
            or applied.removed
            or self._refresh_assistant is None
            or applied.bundle_id not in self._held()
        ):
            return applied
        refused = self._refresh_assistant(applied.bundle_id)
        return replace(applied, reason=refused) if refused else applied

    def _bury(self, doomed: set[str], at: int) -> None:
        def change(root: dict[str, Any]) -> None:
            for bundle_id in doomed:
                root["tombstones"].setdefault(bundle_id, at)

        self._state.update(change)

    def _moved(self, refused: ApiError) -> list[str] | None:
        """The endpoints a ``tenant-moved`` problem (421) names, if they are a well-formed move."""
        if refused.status != MOVED_STATUS:
            return None
        return _moved_endpoints(refused.problem.get("api_endpoints"), self._state.read().get("api_endpoints"))

    def _acknowledge(self, state: SyncState, doomed: set[str], endpoints: list[str] | None = None) -> None:
        """Persist the cursor and the status; the status counts as fresh only now that it is applied.

        ``endpoints`` (a ``tenant.migrated`` change) re-points the device: from now on its API calls
        go to the new zone's endpoints, in the same sealed write as the cursor that continues there.
        """

        def change(root: dict[str, Any]) -> None:
            if endpoints:
                root["api_endpoints"] = endpoints
            root["sync"] = {
                "cursor": state.cursor,
                "last_seq": max(int(root["sync"].get("last_seq", 0)), state.last_seq),
                "available": sorted(set(state.available)),
            }
            status = root["status"]
            status["server_time"] = max(int(status.get("server_time", 0)), int(state.status_at or 0))
            status["device_state"] = state.device_state
            for bundle_id in doomed:
                root["licences"].pop(bundle_id, None)
            # A status answering this device's own nonce is the signed time a lost state waits for.
            root["untrusted"] = None

        self._state.update(change)

    def _doomed(self, claims: Mapping[str, Any], changes: list[Mapping[str, Any]]) -> set[str]:
        """Every bundle this page says must go: revoked by the feed or the status, or all on a revoked device."""
        doomed = {str(b) for b in claims.get("revoked_bundles", []) if BUNDLE_ID.fullmatch(str(b))}
        doomed |= {
            str(c["bundle_id"])
            for c in changes
            if c.get("type") == "bundle.revoked" and BUNDLE_ID.fullmatch(str(c.get("bundle_id", "")))
        }
        if claims.get("device_state") == "revoked":
            doomed |= set(self._held())
        return doomed


def enrolment_endpoints(enrolled_through: str, offered: Any) -> list[str]:
    """The API endpoints a device keeps at enrolment: the URL it enrolled through first, then the
    well-formed (https, or http on loopback) ``api_endpoints`` of the reply in their order (the
    zone's primary, then its secondary). A malformed entry is dropped, not followed."""
    endpoints = [enrolled_through.rstrip("/")]
    for url in offered if isinstance(offered, list) else ():
        if isinstance(url, str) and _API_URL.fullmatch(url) and url.rstrip("/") not in endpoints:
            endpoints.append(url.rstrip("/"))
    return endpoints


def _first_migration(changes: list[Mapping[str, Any]], current: Any) -> Mapping[str, Any] | None:
    """The first well-formed ``tenant.migrated`` change (https endpoints, or http on loopback) that
    points elsewhere than ``current``: the new zone's feed repeats the change, and there it is only
    acknowledged."""
    for change in changes:
        if change.get("type") == "tenant.migrated" and _moved_endpoints(change.get("api_endpoints"), current):
            return change
    return None


def _moved_endpoints(endpoints: Any, current: Any) -> list[str] | None:
    """``endpoints`` if they are a move: a non-empty list of well-formed API URLs (https, or http on
    loopback) other than ``current``."""
    if (
        isinstance(endpoints, list)
        and endpoints
        and endpoints != current
        and all(isinstance(u, str) and _API_URL.fullmatch(u) for u in endpoints)
    ):
        return [str(u) for u in endpoints]
    return None


def _revision(value: Any) -> int | None:
    """A signed status's ``branding_revision``, if it is a revision (an int, 0 or more)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _seq(change: Mapping[str, Any]) -> int:
    """A change's feed position (0 for one without a usable position: never newer than what was applied)."""
    seq = change.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0


def _apply(state: SyncState, change: Mapping[str, Any], doomed: set[str]) -> AppliedChange:
    """Record one change in the state (removals were done by the caller)."""
    seq, kind, bundle_id = int(change["seq"]), str(change["type"]), str(change["bundle_id"])
    state.last_seq = max(state.last_seq, seq)
    if kind == "bundle.added" and bundle_id not in doomed and bundle_id not in state.available:
        # Downloading stays explicit; the device only learns that the bundle is there for it.
        state.available.append(bundle_id)
    return AppliedChange(seq, kind, bundle_id, removed=bundle_id in doomed, reason=change.get("reason"))


class Syncs(Protocol):
    """Anything with a ``sync_once`` (the agent): what a ``SyncLoop`` drives."""

    def sync_once(self) -> SyncResult: ...


class SyncLoop:
    """``sync_once`` every ``interval`` seconds in a daemon thread, until ``stop``.

    Offline (or refused) attempts are recorded in ``last_error`` and retried at the next tick
    (an API URL no request can be sent to, ``InvalidApiUrl``, is recorded and ends the loop);
    meanwhile the licences' offline grace rules apply as always. ``on_result`` sees every
    successful sync (the CLI prints from it), ``on_error`` every failure the loop survives.
    """

    def __init__(
        self,
        agent: Syncs,
        interval: float = DEFAULT_SYNC_INTERVAL,
        *,
        on_result: Callable[[SyncResult], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        if not 0 < interval <= MAX_SYNC_INTERVAL:
            raise ValueError(f"the sync interval must be in (0, {MAX_SYNC_INTERVAL:.0f}] seconds")
        self.agent = agent
        self.interval = interval
        self.on_result = on_result
        self.on_error = on_error
        self.last_result: SyncResult | None = None
        self.last_error: Exception | None = None
        self.syncs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SyncLoop:
        self._thread = threading.Thread(target=self._run, name="device-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the loop to end (it ends only on ``stop``); Ctrl-C interrupts the wait."""
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> SyncLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.agent.sync_once()
            except InvalidApiUrl as error:
                # A configuration error no tick can heal: the loop ends (``running`` turns False)
                # and leaves it to its owner, in ``last_error``.
                self.last_error = error
                return
            except (DeviceError, ApiError, OSError) as error:
                # Offline, refused or tampered: keep the loop alive; the next tick tries again.
                self.last_error = error
                if self.on_error:
                    self.on_error(error)
            else:
                self.last_result, self.last_error = result, None
                self.syncs += 1
                if self.on_result:
                    self.on_result(result)
            self._stop.wait(self.interval)


__all__ = [
    "DEFAULT_SYNC_INTERVAL",
    "MAX_SYNC_INTERVAL",
    "STATUS_TYPE",
    "AppliedChange",
    "SyncLoop",
    "SyncResult",
    "SyncState",
    "Syncer",
    "Syncs",
]
