"""Withdraw a package version from every device that holds it: the use cases and their ports.

The flow (each arrow is a trigger; docs/withdrawal.md has the why):

    admin --POST .../versions/{v}/revoke--> PlayPackage built -> revoked (one conditional write)
    table stream --> fan_out: ``content.package.revoked.v1`` --> :meth:`Withdrawals.plan`
        lists the holding bundles (the holder index), queues them in chunks (SQS)
    WithdrawalQueue --> withdraw fn (many in parallel) --> :meth:`Withdrawals.run_chunk`
        each bundle built -> revoked (tagged with the withdrawal), ``bundle.revoked`` appended to
        each active device of its user (the same sync feed and projection rule as any revocation)

Bundles are indexed by the versions they hold when their creation is projected
(:meth:`Withdrawals.index_holders`). That index write and the planner's read are ordered against
each other the way the sync projection orders devices and bundles: the indexer writes the holder
and then reads whether the version's withdrawal has started; the planner records the start and
then reads the holders. Whichever runs second sees the other, so a bundle created while its
version is being withdrawn is revoked either by a chunk or by the indexer itself, never by neither.

Every step is at-least-once and idempotent: a bundle already revoked by this withdrawal is only
re-told to its devices (the feed ignores an event it holds), a chunk counts once towards progress.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from content_service.domain.bundle import Bundle, BundleState
from content_service.domain.errors import ConcurrencyConflict, InvalidTransition, NotFound
from content_service.domain.package import PackageState, PlayPackage
from content_service.domain.withdrawal import (
    DEFAULT_CHUNK_SIZE,
    Holder,
    WithdrawalChunk,
    WithdrawalProgress,
    chunked,
    feed_event_id,
    withdrawal_id,
)
from content_service.events.models import BundleCreatedV1, PackageRevokedV1
from content_service.service.outbox_ports import FeedChange, Metrics, SyncStore
from content_service.service.ports import BundleRepository, Clock, PackageRepository
from content_service.service.sync import revoke_for_devices

logger = logging.getLogger(__name__)

DEVICES_NOTIFIED = "WithdrawalDevicesNotified"
BUNDLES_REVOKED = "WithdrawalBundlesRevoked"


# ------------------------------------------------------------------ ports
class HolderIndex(Protocol):
    """Which bundles hold a package version (written when a bundle's creation is projected)."""

    def add(self, tenant_id: str, package_id: str, version: int, holder: Holder) -> None: ...

    def holders(self, tenant_id: str, package_id: str, version: int) -> list[Holder]:
        """Every holder, strongly consistent, in a stable order."""
        ...


class WithdrawalLog(Protocol):
    """The progress record of each withdrawal."""

    def start(self, progress: WithdrawalProgress) -> None:
        """Record that planning began (no-op if it already did)."""
        ...

    def get(self, tenant_id: str, package_id: str, version: int) -> WithdrawalProgress | None: ...

    def planned(
        self, tenant_id: str, package_id: str, version: int, bundles: int, chunks: int, now: datetime
    ) -> None:
        """Every chunk is queued: ``chunks`` of them, for ``bundles`` holders."""
        ...

    def chunk_done(
        self, chunk: WithdrawalChunk, bundles_revoked: int, devices_notified: int, now: datetime
    ) -> None:
        """Count one chunk's work, once per chunk number however often it is delivered."""
        ...


class ChunkQueue(Protocol):
    def send(self, chunks: Sequence[WithdrawalChunk]) -> None:
        """Queue every chunk or raise (the planner is then redelivered and queues them again)."""
        ...


# -------------------------------------------------------------- API cases
def withdraw_version(
    tenant_id: str,
    package_id: str,
    version: int,
    reason: str,
    *,
    packages: PackageRepository,
    clock: Clock,
    attempts: int = 3,
) -> PlayPackage:
    """Revoke a built package version (one conditional write); the fan-out follows from the stream.

    Withdrawing a version that is already revoked returns it unchanged; a version that is still
    building or failed cannot be withdrawn (409).
    """
    for attempt in range(attempts):
        package = packages.get(tenant_id, package_id, version)
        if package.state is PackageState.REVOKED:
            return package
        try:
            return packages.save(package.revoke(reason.strip(), clock.now()))
        except ConcurrencyConflict:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def withdrawal_progress(
    tenant_id: str, package_id: str, version: int, *, packages: PackageRepository, log: WithdrawalLog
) -> WithdrawalProgress:
    """The progress of a version's withdrawal; a version that was never withdrawn has none (404)."""
    package = packages.get(tenant_id, package_id, version)
    if package.state is not PackageState.REVOKED:
        raise NotFound(f"package {package_id} v{version} has not been withdrawn")
    return log.get(tenant_id, package_id, version) or WithdrawalProgress(
        tenant_id, package_id, version, package.revoke_reason or ""
    )


# -------------------------------------------------------- the fan-out work
@dataclass
class Withdrawals:
    """The fan-out of withdrawals: planning (stream), chunks (queue), the holder index (stream)."""

    holders: HolderIndex
    log: WithdrawalLog
    queue: ChunkQueue
    bundles: BundleRepository
    store: SyncStore
    metrics: Metrics
    clock: Clock
    chunk_size: int = DEFAULT_CHUNK_SIZE
    threads: int = 8
    """Bundles of one chunk revoked at once: each is a few round trips, so threads overlap them."""

    def plan(self, event: PackageRevokedV1) -> int:
        """Record the start, list the holders, queue them in chunks, record the totals; returns chunks."""
        tenant, package_id, version = event.tenant_id, event.data.package_id, event.data.version
        self.log.start(
            WithdrawalProgress(tenant, package_id, version, event.data.reason, started_at=self.clock.now())
        )
        holders = self.holders.holders(tenant, package_id, version)
        chunks = list(chunked(tenant, package_id, version, event.data.reason, holders, self.chunk_size))
        if chunks:
            self.queue.send(chunks)
        self.log.planned(tenant, package_id, version, len(holders), len(chunks), self.clock.now())
        logger.info(
            "withdrawal planned",
            extra={"withdrawal_id": withdrawal_id(tenant, package_id, version), "chunks": len(chunks)},
        )
        return len(chunks)

    def run_chunk(self, chunk: WithdrawalChunk) -> int:
        """Revoke the chunk's bundles and tell their devices; returns the devices newly told."""
        if not chunk.holders:
            results: list[tuple[bool, int]] = []
        else:
            # The first bundle alone: the adapters create their clients lazily, and creating a
            # botocore client is not thread-safe; the rest overlap their round trips.
            results = [self._withdraw(chunk, chunk.holders[0])]
            with ThreadPoolExecutor(max_workers=max(1, min(self.threads, len(chunk.holders)))) as pool:
                results += pool.map(lambda holder: self._withdraw(chunk, holder), chunk.holders[1:])
        revoked = sum(1 for was_revoked, _ in results if was_revoked)
        devices = sum(told for _, told in results)
        self.log.chunk_done(chunk, revoked, devices, self.clock.now())
        self.metrics.count(BUNDLES_REVOKED, revoked)
        self.metrics.count(DEVICES_NOTIFIED, devices)
        return devices

    def index_holders(self, event: BundleCreatedV1) -> int:
        """Index a new bundle under each version it holds; revoke it now if one is being withdrawn.

        Returns how many devices were told (non-zero only for a bundle that raced a withdrawal).
        """
        tenant, holder = event.tenant_id, Holder(event.data.bundle_id, event.data.user_id)
        told = 0
        for ref in event.data.packages:
            self.holders.add(tenant, ref.package_id, ref.version, holder)
        for ref in event.data.packages:
            progress = self.log.get(tenant, ref.package_id, ref.version)
            if progress is not None:
                late = WithdrawalChunk(tenant, ref.package_id, ref.version, progress.reason, -1, (holder,))
                logger.info("a bundle raced its version's withdrawal", extra={"bundle_id": holder.bundle_id})
                told += self._withdraw(late, holder)[1]
        return told

    def _withdraw(self, chunk: WithdrawalChunk, holder: Holder) -> tuple[bool, int]:
        """(whether the bundle is revoked by this withdrawal, devices newly told) for one holder."""
        bundle = self._revoked_by(chunk, holder)
        if bundle is None:
            return False, 0
        change = FeedChange(
            "bundle.revoked",
            bundle.bundle_id,
            bundle.updated_at,
            feed_event_id(chunk.withdrawal_id, bundle.bundle_id),
            bundle.revoke_reason,
        )
        return True, revoke_for_devices(chunk.tenant_id, bundle.user_id, change, self.store)

    def _revoked_by(self, chunk: WithdrawalChunk, holder: Holder, attempts: int = 5) -> Bundle | None:
        """The bundle, revoked by this withdrawal; None if it is gone or was revoked otherwise.

        A bundle revoked before (by catalog, by tamper) was told to its devices by its own event.
        """
        for attempt in range(attempts):
            try:
                bundle = self.bundles.get(chunk.tenant_id, holder.bundle_id)
            except NotFound:
                return None
            if bundle.state is BundleState.REVOKED:
                return bundle if bundle.withdrawal_id == chunk.withdrawal_id else None
            try:
                return self.bundles.save(
                    bundle.revoke(chunk.reason, self.clock.now(), withdrawal_id=chunk.withdrawal_id)
                )
            except InvalidTransition:
                return None  # Still building: its creation, once projected, meets the withdrawal.
            except ConcurrencyConflict:
                if attempt == attempts - 1:
                    raise
        return None
