"""Outbox fan-out: publish each written row's events to the bus, then hand them to the consumers.

Delivery is at least once (stream retries, bisection, crashes mid-batch), so every step is
idempotent and guarded by the inbox: an event already published, projected or acted upon is
recognised by its deterministic id and skipped. A consumer marks its inbox only after its work,
so a crash in between repeats work that is itself idempotent (feed markers, conditional revoke),
never loses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass

from content_service.domain.bundle import TamperPolicy
from content_service.events.mapping import OutboxRow, envelopes
from content_service.events.models import (
    AssistantConfigApprovedV1,
    BundleCreatedV1,
    BundleRevokedV1,
    BundleTamperedV1,
    Envelope,
    PackageRevokedV1,
)
from content_service.service.outbox_ports import EventBus, Inbox, Metrics, SyncStore
from content_service.service.ports import BundleRepository, Clock, TenantSettingsRepository
from content_service.service.sync import announce_assistant_approval, project
from content_service.service.tamper import respond_to_tamper
from content_service.service.telemetry import record_published
from content_service.service.withdrawal import Withdrawals

logger = logging.getLogger(__name__)

BUS = "bus"
SYNC = "sync"
TAMPER = "tamper"
WITHDRAW = "withdraw"
HOLDERS = "holders"
ASSISTANT = "assistant"


class PublishFailed(RuntimeError):
    """Some of a row's events were refused by the bus; the stream redelivers the row."""


@dataclass
class FanOut:
    bus: EventBus
    inbox: Inbox
    store: SyncStore
    bundles: BundleRepository
    metrics: Metrics
    clock: Clock
    tamper_policy: TamperPolicy
    # A tenant's own tamper policy (its settings) wins over the deployment's default and overrides.
    tenant_settings: TenantSettingsRepository | None = None
    withdrawals: Withdrawals | None = None

    def publish(self, rows: Iterable[OutboxRow]) -> set[str]:
        """Publish the rows' events not yet published (in PutEvents batches); return the failed ids."""
        pending = [event for row in rows for event in envelopes(row) if not self.inbox.seen(BUS, event.id)]
        failed = self.bus.publish(pending) if pending else set()
        record_published(
            self.metrics,
            [event.occurred_at for event in pending],
            len(failed & {event.id for event in pending}),
            self.clock.now(),
        )
        for event in pending:
            if event.id not in failed:
                self.inbox.mark(BUS, event.id)
        return failed

    def consume(self, row: OutboxRow, publish_failed: Container[str] = frozenset()) -> None:
        """Apply one row's events to the projection and the tamper response, once each.

        The consumers run even when publishing failed, so a revocation reaches devices without
        waiting for the bus; the row then fails and is redelivered for the publish alone.
        """
        events = envelopes(row)
        for event in events:
            # A bundle revoked by a withdrawal is told to its devices by the withdrawal's chunks:
            # the projection has nothing to do, so it does not even spend an inbox write on it.
            if not (isinstance(event, BundleRevokedV1) and event.data.withdrawal_id):
                self._once(
                    SYNC,
                    event,
                    lambda e=event: project(e, store=self.store, metrics=self.metrics, clock=self.clock),
                )
            if isinstance(event, BundleTamperedV1):
                self._once(TAMPER, event, lambda e=event: self._respond_to_tamper(e))
            if self.withdrawals is not None:
                self._withdrawal_consumers(event, self.withdrawals)
        unpublished = [event.id for event in events if event.id in publish_failed]
        if unpublished:
            raise PublishFailed(f"the bus refused {unpublished}")

    def _withdrawal_consumers(self, event: Envelope, withdrawals: Withdrawals) -> None:
        """A revoked version is planned into chunks; a new bundle is indexed under its versions."""
        if isinstance(event, PackageRevokedV1):
            self._once(WITHDRAW, event, lambda: withdrawals.plan(event))
        if isinstance(event, BundleCreatedV1):
            self._once(HOLDERS, event, lambda: withdrawals.index_holders(event))
        if isinstance(event, AssistantConfigApprovedV1):
            # The holder index a withdrawal reads tells which bundles (so which devices) hold the version.
            holders = withdrawals.holders
            self._once(
                ASSISTANT,
                event,
                lambda: announce_assistant_approval(
                    event,
                    holders.holders(event.tenant_id, event.data.package_id, event.data.version),
                    self.store,
                    metrics=self.metrics,
                ),
            )

    def _respond_to_tamper(self, event: BundleTamperedV1) -> None:
        respond_to_tamper(
            event,
            bundles=self.bundles,
            clock=self.clock,
            metrics=self.metrics,
            auto_revoke=self._auto_revoke(event.tenant_id),
        )

    def _auto_revoke(self, tenant_id: str) -> bool:
        default = self.tamper_policy.auto_revoke_for(tenant_id)
        stored = self.tenant_settings.get(tenant_id) if self.tenant_settings is not None else None
        return default if stored is None else stored.auto_revoke(default)

    def _once(self, consumer: str, event: Envelope, work: Callable[[], object]) -> None:
        if self.inbox.seen(consumer, event.id):
            logger.info("already done", extra={"consumer": consumer, "event_id": event.id})
            return
        work()
        self.inbox.mark(consumer, event.id)
