"""The sync projection: what each device should hold, as an ordered change feed, and the sync read.

Rules (server-authoritative):
- ``bundle.added``: a bundle created for a user goes to every active device of that user; a
  device enrolled later gets the user's non-revoked bundles when its enrolment is projected.
- ``bundle.revoked``: goes to every active device of the user (a licence is only ever issued to a
  device of the bundle's user, so these are all the devices that can hold it). A revoked device
  gets no more entries; its signed status says ``device_state: revoked`` and it drops everything.
  A bundle revoked by a package-version withdrawal is told to devices by that withdrawal's chunked
  fan-out (:mod:`content_service.service.withdrawal`), through :func:`revoke_for_devices` too.

Each handler writes the user index before it reads it (devices for bundles, bundles for devices),
with strongly consistent reads, so a bundle and a device that race are always matched by at least
one of the two handlers; the feed's per-event marker makes the other one append nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from content_service.domain.errors import NotFound, TenantMoved, ValidationFailed
from content_service.domain.principal import Principal
from content_service.domain.withdrawal import Holder
from content_service.events.models import (
    AssistantConfigApprovedV1,
    BundleCreatedV1,
    BundleRevokedV1,
    DeviceEnrolledV1,
    DeviceRevokedV1,
    Envelope,
    LicenceIssuedV1,
)
from content_service.service.access import device_for
from content_service.service.outbox_ports import FeedChange, FeedEntry, Metrics, SyncStore, UserBundle
from content_service.service.ports import (
    Clock,
    CursorSeal,
    DeviceRepository,
    TenantSettingsRepository,
    TokenSigner,
)
from content_service.service.telemetry import REVOCATION_LAG

logger = logging.getLogger(__name__)

STATUS_TYPE = "device-status+jwt"


def project(event: Envelope, *, store: SyncStore, metrics: Metrics, clock: Clock) -> int:
    """Apply one event to the projection; returns how many feed entries were appended."""
    if isinstance(event, BundleCreatedV1):
        return _bundle_created(event, store)
    if isinstance(event, BundleRevokedV1):
        if event.data.withdrawal_id is not None:
            return 0  # The withdrawal's chunks append it, in parallel, under their own event id.
        appended = _bundle_revoked(event, store)
        metrics.seconds(REVOCATION_LAG, max(0.0, (clock.now() - event.occurred_at).total_seconds()))
        return appended
    if isinstance(event, DeviceEnrolledV1):
        return _device_enrolled(event, store)
    if isinstance(event, DeviceRevokedV1):
        store.deactivate_device(event.tenant_id, event.data.user_id, event.data.device_id)
    if isinstance(event, LicenceIssuedV1):
        # Only the device the licence was issued to learns of it: it may fetch the renewed licence.
        change = FeedChange("licence.renewed", event.data.bundle_id, event.occurred_at, event.id)
        return int(store.append(event.tenant_id, event.data.device_id, change))
    return 0


def _bundle_created(event: BundleCreatedV1, store: SyncStore) -> int:
    tenant, user, bundle_id = event.tenant_id, event.data.user_id, event.data.bundle_id
    store.put_bundle(tenant, user, UserBundle(bundle_id, event.id, event.occurred_at, revoked=False))
    change = FeedChange("bundle.added", bundle_id, event.occurred_at, event.id)
    return sum(store.append(tenant, device, change) for device in store.active_devices(tenant, user))


def _bundle_revoked(event: BundleRevokedV1, store: SyncStore) -> int:
    change = FeedChange(
        "bundle.revoked", event.data.bundle_id, event.occurred_at, event.id, event.data.reason
    )
    return revoke_for_devices(event.tenant_id, event.data.user_id, change, store)


#: The most holding bundles one approval's fan-out tells in its single run (docs/assistant.md
#: "Fan-out"): two reads per user and two round trips per (bundle, device), eight users at
#: once, is some 15 s at 10 ms a round trip, well inside the fan_out function's 60-second
#: timeout. A version held by more is over the bound: the run tells the first
#: APPROVAL_FAN_OUT_LIMIT holders and logs and counts the rest (``AssistantApprovalHoldersUntold``),
#: whose devices get the overlay only when they next download the bundle.
APPROVAL_FAN_OUT_LIMIT = 2000
APPROVAL_FAN_OUT_THREADS = 8
APPROVAL_HOLDERS_UNTOLD = "AssistantApprovalHoldersUntold"


def approval_feed_event_id(event_id: str, bundle_id: str) -> str:
    """The id under which one approval enters a device's feed for one bundle.

    One per (approval, bundle): a device holding two bundles of the version gets an entry for each
    (the feed keeps one entry per id), and a redelivered approval appends none a second time.
    """
    return "evt_" + hashlib.sha256(f"{event_id}\x00{bundle_id}".encode()).hexdigest()[:32]


def announce_assistant_approval(
    event: AssistantConfigApprovedV1,
    holders: list[Holder],
    store: SyncStore,
    *,
    metrics: Metrics | None = None,
    limit: int = APPROVAL_FAN_OUT_LIMIT,
    threads: int = APPROVAL_FAN_OUT_THREADS,
) -> int:
    """Tell every active device of each holder of the version that an assistant config was approved.

    ``holders`` are the bundles holding the package version (the withdrawal's holder index). A
    revoked bundle is skipped; the entry names the bundle, so the device fetches that bundle's
    overlay, and each bundle a device holds gets its own entry. Returns the entries appended.
    """
    tenant = event.tenant_id
    data = event.data
    detail = {
        "package_id": data.package_id,
        "version": data.version,
        "config_id": data.config_id,
        "revision": int(data.config_id.rsplit("r", 1)[1]),
    }
    told, untold = holders[:limit], holders[limit:]
    if untold:
        logger.error(
            "assistant approval held by more bundles than one fan-out run tells",
            extra={
                "config_id": data.config_id,
                "untold": [h.bundle_id for h in untold[:100]],
                "count": len(untold),
            },
        )
        if metrics is not None:
            metrics.count(APPROVAL_HOLDERS_UNTOLD, len(untold))
    by_user: dict[str, list[str]] = {}
    for holder in told:
        by_user.setdefault(holder.user_id, []).append(holder.bundle_id)
    if not by_user:
        return 0

    def tell(user: str) -> int:
        # The user's index is read once, however many of the version's bundles they hold.
        revoked = {b.bundle_id for b in store.user_bundles(tenant, user) if b.revoked}
        devices = store.active_devices(tenant, user)
        appended = 0
        for bundle_id in by_user[user]:
            if bundle_id in revoked:
                continue
            change = FeedChange(
                "assistant_config.approved",
                bundle_id,
                event.occurred_at,
                approval_feed_event_id(event.id, bundle_id),
                None,
                detail,
            )
            appended += sum(store.append(tenant, device, change) for device in devices)
        return appended

    users = sorted(by_user)
    # The first user alone: the store's client may be created lazily, which is not thread-safe.
    appended = tell(users[0])
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(users)))) as pool:
        appended += sum(pool.map(tell, users[1:]))
    return appended


def revoke_for_devices(tenant_id: str, user_id: str, change: FeedChange, store: SyncStore) -> int:
    """Mark the user's bundle revoked, then append ``change`` to each of the user's active devices.

    Returns how many feeds it was appended to (a feed that already holds the event counts 0).
    """
    store.mark_bundle_revoked(tenant_id, user_id, change.bundle_id)
    return sum(store.append(tenant_id, device, change) for device in store.active_devices(tenant_id, user_id))


def _device_enrolled(event: DeviceEnrolledV1, store: SyncStore) -> int:
    tenant, user, device = event.tenant_id, event.data.user_id, event.data.device_id
    store.put_device(tenant, user, device)
    appended = 0
    for bundle in store.user_bundles(tenant, user):
        if not bundle.revoked:
            # The bundle's own creation event id: the bundle-created handler appends under the same id.
            change = FeedChange("bundle.added", bundle.bundle_id, bundle.added_at, bundle.added_event_id)
            appended += store.append(tenant, device, change)
    return appended


# ------------------------------------------------------------------ the sync read
@dataclass(frozen=True)
class SyncPage:
    entries: list[FeedEntry]
    next_cursor: str
    has_more: bool
    server_time: datetime
    status: str


def sync_device(
    principal: Principal,
    device_id: str,
    cursor: str | None,
    limit: int,
    *,
    devices: DeviceRepository,
    store: SyncStore,
    signer: TokenSigner,
    clock: Clock,
    cursors: CursorSeal,
    nonce: str | None = None,
    settings: TenantSettingsRepository | None = None,
    zone: str | None = None,
    zone_endpoints: Callable[[str], Sequence[str]] | None = None,
) -> SyncPage:
    """The device's changes after ``cursor``, a cursor to continue from, and a signed fresh status.

    Another tenant's or another user's device is not found. An old cursor keeps working: entries
    are never rewritten or removed, and a cursor is only a position in this device's feed, sealed
    by ``cursors`` so that it can be neither read nor changed (a changed one is a 422).

    The status names the device, its tenant and user, and carries the signed ``server_time`` (the
    status epoch: devices refuse a status older than the newest they have seen). ``nonce``, a
    random value the device sent with this request, is echoed in the status so that a captured
    status cannot be replayed to the device as the answer to a later request. With ``settings``
    the status also carries ``branding_revision`` (0: unbranded), so a device fetches the
    tenant's branding overlay only when it changed.

    With ``zone`` (this deployment's) and ``zone_endpoints``, a device this zone does not know, of
    a tenant whose settings here name another zone (a residency migration cleaned up while the
    device was offline), is a ``TenantMoved`` naming that zone's API endpoints instead of a 404.
    """
    try:
        device = device_for(principal, device_id, devices, owner_only=True)
    except NotFound:
        _refuse_if_moved(principal.tenant_id, settings, zone, zone_endpoints)
        raise
    tenant_id, user_id = principal.tenant_id, principal.principal_id
    after = decode_sync_cursor(cursor, device_id, cursors)
    entries = store.read(tenant_id, device_id, after, limit + 1)
    page, has_more = entries[:limit], len(entries) > limit
    now = clock.now()
    revoked = sorted(b.bundle_id for b in store.user_bundles(tenant_id, user_id) if b.revoked)
    claims = {
        "iss": "content-service",
        "ver": 1,
        "device_id": device_id,
        "tenant_id": tenant_id,
        "sub": user_id,
        "device_state": device.state.value,
        "server_time": int(now.timestamp()),
        "revoked_bundles": revoked,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if settings is not None:
        stored = settings.get(tenant_id)
        claims["branding_revision"] = stored.branding_revision if stored is not None else 0
    return SyncPage(
        entries=page,
        next_cursor=encode_sync_cursor(device_id, page[-1].seq if page else after, cursors),
        has_more=has_more,
        server_time=now,
        status=signer.sign(claims, typ=STATUS_TYPE),
    )


def _refuse_if_moved(
    tenant_id: str,
    settings: TenantSettingsRepository | None,
    zone: str | None,
    zone_endpoints: Callable[[str], Sequence[str]] | None,
) -> None:
    if settings is None or zone is None or zone_endpoints is None:
        return
    stored = settings.get(tenant_id)
    if stored is None or stored.zone == zone:
        return
    raise TenantMoved(
        f"the tenant is served by zone {stored.zone} now; its devices sync there",
        zone=stored.zone,
        api_endpoints=list(zone_endpoints(stored.zone)),
    )


def encode_sync_cursor(device_id: str, seq: int, cursors: CursorSeal) -> str:
    """An opaque, sealed position in one device's feed (versioned, bound to the device)."""
    return cursors.seal({"v": 1, "d": device_id, "s": seq})


def decode_sync_cursor(cursor: str | None, device_id: str, cursors: CursorSeal) -> int:
    """The sequence number a cursor names; refuses cursors of other devices or other formats."""
    if not cursor:
        return 0
    position = cursors.open(cursor)
    version, owner, seq = position.get("v"), position.get("d"), position.get("s")
    if version != 1 or owner != device_id or not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValidationFailed("the cursor is not one this service issued for this device")
    return seq
