"""Security signals a device raises about what it was sent (not about the content it holds).

A device that receives a status or key set that fails verification has been sent something the
service did not sign: a man in the middle, a broken proxy, or an attacker replaying old documents.
That is not tampering with any bundle, so it is never a tamper report (which could revoke
bundles); it is a ``device.status_forged`` signal, counted and logged for the operators.
A branding overlay that fails verification (fetched or stored) is ``device.branding_refused``:
the device shows the content unbranded, and no bundle is at stake either.
"""

from __future__ import annotations

import logging
from typing import Literal

from content_service.domain.principal import Principal
from content_service.service.access import device_for
from content_service.service.outbox_ports import Metrics
from content_service.service.ports import DeviceRepository
from content_service.service.telemetry import DEVICE_BRANDING_REFUSED, DEVICE_STATUS_FORGED

SignalType = Literal["device.status_forged", "device.branding_refused"]

logger = logging.getLogger(__name__)


def record_signal(
    principal: Principal,
    device_id: str,
    signal: SignalType,
    detail: str,
    *,
    devices: DeviceRepository,
    metrics: Metrics,
) -> None:
    """Count and log a device's signal; only the device's owner may raise one (else NotFound)."""
    device = device_for(principal, device_id, devices, owner_only=True)
    # docs/runbook.md; each figure named at its call, so the dashboards' agreement test can read it.
    if signal == "device.branding_refused":
        metrics.count(DEVICE_BRANDING_REFUSED)
    else:
        metrics.count(DEVICE_STATUS_FORGED)
    logger.warning(
        "device signal %s",
        signal,
        extra={
            "tenant_id": device.tenant_id,
            "device_id": device.device_id,
            "user_id": device.user_id,
            "signal": signal,
            "detail": detail[:1000],
        },
    )
