"""The device side of the sync feed: pull changes, verify the signed status, remove revoked bundles.

``sync_once`` reads ``GET /v1/devices/{id}/sync`` from the stored cursor until the feed has no
more pages. Each page's status is verified against the JWKS pinned at enrolment before anything
in the page is believed: a status that does not verify is tampering (a man in the middle hiding
revocations), so it raises ``TamperDetected`` and nothing is applied. A verified status raises
the anti-rollback clock to its signed ``server_time`` and becomes the device's fresh status for
the licence rules.

Revocations are applied before they are acknowledged: a bundle named by a ``bundle.revoked``
change, listed in the status's ``revoked_bundles``, or held by a device whose status says
``revoked`` is unmounted and deleted (licence, so its wrapped keys, and ciphertext; no plaintext
ever existed), and only then is the cursor persisted. A crash in between replays the page on the
next sync, and removing an absent bundle is a no-op, so the replay is harmless.

``SyncLoop`` runs ``sync_once`` every few seconds in a background thread; ``SyncStatus`` is the
agent's default way to get a fresh status before opening content.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from content_service.client import ApiError
from content_service.crypto import TokenError, UnknownKey, verify
from content_service.device.errors import DeviceError, LicenceRevoked, Offline, TamperDetected
from content_service.device.store import BUNDLE_ID, read_json, write_json

if TYPE_CHECKING:
    from content_service.device.agent import DeviceAgent

STATUS_TYPE = "device-status+jwt"
#: How often a running device syncs by default: a revocation reaches a device in at most one
#: interval plus the feed delay, so 3 s keeps revoke → unmount under 5 s at p95 (BENCHMARKS.md).
DEFAULT_SYNC_INTERVAL = 3.0
MAX_SYNC_INTERVAL = 15.0
PAGE_LIMIT = 100
#: A feed that keeps saying ``has_more`` past this many pages in one sync is read on the next one.
MAX_PAGES = 1000


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


@dataclass
class SyncState:
    """What the device remembers of its feed, persisted in ``sync.json`` (0600, atomic, fsynced)."""

    cursor: str | None = None
    last_seq: int = 0
    status_at: int | None = None
    server_time: int = 0
    device_state: str = "active"
    available: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, agent: DeviceAgent) -> SyncState:
        path = agent.store.sync_path
        if not path.is_file():
            return cls()
        data = read_json(path)
        return cls(
            cursor=data.get("cursor") or None,
            last_seq=int(data.get("last_seq", 0)),
            status_at=int(data["status_at"]) if isinstance(data.get("status_at"), int | float) else None,
            server_time=int(data.get("server_time", 0)),
            device_state=str(data.get("device_state", "active")),
            available=[str(b) for b in data.get("available", [])],
        )

    def save(self, agent: DeviceAgent) -> None:
        write_json(
            agent.store.sync_path,
            {
                "cursor": self.cursor,
                "last_seq": self.last_seq,
                "status_at": self.status_at,
                "server_time": self.server_time,
                "device_state": self.device_state,
                "available": sorted(set(self.available)),
            },
        )


def sync_once(agent: DeviceAgent, *, limit: int = PAGE_LIMIT) -> SyncResult:
    """Pull every pending page of the feed, apply it, acknowledge it; see the module docstring.

    Raises ``Offline`` when the service cannot be reached, ``ApiError`` when it refuses, and
    ``TamperDetected`` when a status does not verify. Nothing is acknowledged past a failure.
    """
    state = SyncState.load(agent)
    applied: list[AppliedChange] = []
    removed: list[str] = []
    claims: dict[str, Any] = {}
    pages = 0
    while pages < MAX_PAGES:
        page = agent.api.sync_device(agent.device_id, state.cursor, limit)
        pages += 1
        claims = verify_status(agent, page.get("status"))
        server_time = int(claims["server_time"])
        agent.clock.observe_server_time(float(server_time))
        agent._clock_lost = False
        # Removal first, acknowledgement second: the cursor must never pass an unapplied revocation.
        doomed = _doomed(agent, claims, page.get("changes", []))
        for bundle_id in sorted(doomed):
            if agent.remove(bundle_id):
                removed.append(bundle_id)
        for change in page.get("changes", []):
            applied.append(_apply(state, change, doomed))
        state.cursor = str(page["next_cursor"])
        state.server_time = max(state.server_time, server_time)
        state.device_state = str(claims.get("device_state", "active"))
        state.available = [b for b in state.available if b not in doomed]
        # The status counts as fresh only now that everything it announced has been applied.
        state.status_at = agent.clock.now_int()
        state.save(agent)
        if not page.get("has_more"):
            break
    return SyncResult(
        changes=applied,
        removed=removed,
        device_state=state.device_state,
        server_time=state.server_time,
        last_seq=state.last_seq,
        pages=pages,
    )


def verify_status(agent: DeviceAgent, token: Any) -> dict[str, Any]:
    """The claims of a device status signed by a pinned key for this device, or ``TamperDetected``.

    A key the device has not pinned is a rotation, not tampering (``refresh-jwks`` fixes it);
    a signature that does not verify, or another device's status, is tampering.
    """
    try:
        claims = verify(str(token), agent.record.jwks, typ=STATUS_TYPE)
    except UnknownKey as error:
        raise DeviceError(
            "the sync status is signed by a key this device has not pinned; run refresh-jwks if the service rotated keys"
        ) from error
    except TokenError as error:
        raise status_tamper(agent, f"the sync status does not verify: {error}") from error
    if (
        claims.get("iss") != "content-service"
        or claims.get("ver") != 1
        or claims.get("device_id") != agent.device_id
        or not isinstance(claims.get("server_time"), int | float)
        or not isinstance(claims.get("revoked_bundles", []), list)
    ):
        raise status_tamper(agent, "the sync status is not a version 1 status of this device")
    return claims


def status_tamper(agent: DeviceAgent, detail: str) -> TamperDetected:
    """Report a forged status against each bundle it governs here, and return the error to raise.

    A status is not about one bundle, but the API's tamper reports are, and every bundle on the
    device is what a forged status would keep open; so each is reported (kind ``license``: the
    status is the licence's online half).
    """
    held = agent.store.bundle_ids()
    errors = [agent._tamper(bundle_id, "license", detail) for bundle_id in held]
    return errors[0] if errors else TamperDetected(detail, kind="license", bundle_id="")


def _doomed(agent: DeviceAgent, claims: Mapping[str, Any], changes: list[Mapping[str, Any]]) -> set[str]:
    """Every bundle this page says must go: revoked by the feed or the status, or all on a revoked device."""
    doomed = {str(b) for b in claims.get("revoked_bundles", []) if BUNDLE_ID.fullmatch(str(b))}
    doomed |= {
        str(c["bundle_id"])
        for c in changes
        if c.get("type") == "bundle.revoked" and BUNDLE_ID.fullmatch(str(c.get("bundle_id", "")))
    }
    if claims.get("device_state") == "revoked":
        doomed |= set(agent.store.bundle_ids())
    return doomed


def _apply(state: SyncState, change: Mapping[str, Any], doomed: set[str]) -> AppliedChange:
    """Record one change in the state (removals were done by the caller)."""
    seq, kind, bundle_id = int(change["seq"]), str(change["type"]), str(change["bundle_id"])
    state.last_seq = max(state.last_seq, seq)
    if kind == "bundle.added" and bundle_id not in doomed and bundle_id not in state.available:
        # Downloading stays explicit; the device only learns that the bundle is there for it.
        state.available.append(bundle_id)
    return AppliedChange(seq, kind, bundle_id, removed=bundle_id in doomed, reason=change.get("reason"))


class SyncStatus:
    """The default status source: sync (learning every revocation), then renew the licence if possible.

    A bundle the sync removed raises ``LicenceRevoked``. A sync the service cannot answer
    (``ApiError``: an older service without the feed) falls back to a licence refresh, which is
    a fresh status too. Once the sync succeeded, a failed licence renewal is not fatal: the
    status is fresh and the stored licence's own dates still apply.
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


class SyncLoop:
    """``sync_once`` every ``interval`` seconds in a daemon thread, until ``stop``.

    Offline (or refused) attempts are recorded in ``last_error`` and retried at the next tick;
    meanwhile the licences' offline grace rules apply as always. ``on_result`` sees every
    successful sync (the CLI prints from it).
    """

    def __init__(
        self,
        agent: DeviceAgent,
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
    "AppliedChange",
    "SyncLoop",
    "SyncResult",
    "SyncState",
    "SyncStatus",
    "sync_once",
    "verify_status",
]
