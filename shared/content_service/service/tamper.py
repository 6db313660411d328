"""Tamper response: a tamper event is counted and, by tenant policy, revokes the bundle."""

from __future__ import annotations

import logging

from content_service.domain.bundle import Bundle
from content_service.events.models import BundleTamperedV1
from content_service.service.bundles import revoke_for_tamper
from content_service.service.outbox_ports import Metrics
from content_service.service.ports import BundleRepository, Clock
from content_service.service.telemetry import (
    TAMPER_EVENTS,
    TAMPER_TO_REVOCATION,
    UNCORROBORATED_TAMPER_REPORTS,
)

logger = logging.getLogger(__name__)


def respond_to_tamper(
    event: BundleTamperedV1,
    *,
    bundles: BundleRepository,
    clock: Clock,
    metrics: Metrics,
    auto_revoke: bool,
) -> Bundle | None:
    """Count the event and, when it is corroborated and the policy says so, revoke the bundle.

    Idempotent; returns the revoked bundle. An uncorroborated report (its evidence does not contradict
    what the service stored) is counted for the alarm and revokes nothing.
    """
    metrics.count(TAMPER_EVENTS)
    if not event.data.corroborated:
        metrics.count(UNCORROBORATED_TAMPER_REPORTS)
        logger.warning(
            "uncorroborated tamper report: recorded, not revoked",
            extra={"bundle_id": event.data.bundle_id, "device_id": event.data.device_id},
        )
        return None
    if not auto_revoke:
        logger.warning("tamper reported; auto-revoke is off", extra={"bundle_id": event.data.bundle_id})
        return None
    where = event.data.device_id or event.data.object_key or "storage"
    reason = f"tamper: {event.data.kind} ({event.data.source} {where})"
    revoked = revoke_for_tamper(event.tenant_id, event.data.bundle_id, reason, bundles=bundles, clock=clock)
    # A bundle revoked before this tamper event (by an operator, or an earlier report) is not
    # this event's revocation; only time the revocations it caused.
    if revoked is not None and revoked.updated_at >= event.occurred_at:
        metrics.seconds(TAMPER_TO_REVOCATION, (revoked.updated_at - event.occurred_at).total_seconds())
    return revoked
