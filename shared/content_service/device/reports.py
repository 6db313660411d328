"""What the device tells the service about trouble: tamper reports (with evidence) and signals.

Both go through the durable outbox first and are sent at once when the service answers, so a
report raised offline is sent on the next flush. The two never mix:

- a **tamper report** is about one bundle's content on this device (``manifest``, ``container``
  or ``license``) and carries, when the device has it, the evidence the service needs to
  corroborate it (``object``, ``package_id``, ``version``, ``expected_sha256``,
  ``found_sha256``; see ``domain/tamper.py``): only corroborated reports can revoke;
- a **signal** (``device.status_forged``) says the device was sent a status or key set that
  did not verify or was replayed. It names no bundle and revokes nothing: a forged status must
  never become tamper reports against the bundles it governs. ``device.branding_refused`` says
  a branding overlay (fetched or stored) did not verify: the device shows content unbranded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from content_service.client import ApiError
from content_service.device.errors import StatusForged, TamperDetected, TamperKind
from content_service.device.http import DeviceApi, Link
from content_service.device.outbox import FlushResult, Outbox, OutboxItem

STATUS_FORGED = "device.status_forged"
BRANDING_REFUSED = "device.branding_refused"
#: API refusals that say "not for you any more" (revoked, foreign, gone), as opposed to "try later".
REFUSALS = {403, 404, 409, 410, 422}


def container_evidence(package_id: str, version: int, expected: str, found: str) -> dict[str, Any]:
    return {
        "object": "container",
        "package_id": package_id,
        "version": version,
        "expected_sha256": expected,
        "found_sha256": found,
    }


def manifest_evidence(expected: str, found: str) -> dict[str, Any]:
    return {"object": "manifest", "expected_sha256": expected, "found_sha256": found}


class Reporter:
    """Queues and sends tamper reports and signals for the device ``device_id()`` names."""

    def __init__(
        self, outbox: Outbox, api: Callable[[], DeviceApi], device_id: Callable[[], str], link: Link
    ) -> None:
        self.outbox = outbox
        self._api = api
        self._device_id = device_id
        self._link = link

    def tamper(
        self, bundle_id: str, kind: TamperKind, detail: str, evidence: Mapping[str, Any] | None = None
    ) -> TamperDetected:
        """Queue a tamper report (sent at once if the service answers); return the error to raise."""
        body: dict[str, Any] = {"bundle_id": bundle_id, "kind": kind, "detail": detail[:1000]}
        if evidence:
            body["evidence"] = dict(evidence)
        self.outbox.put("tamper", f"tmp-{uuid.uuid4()}", body)
        self._send_now("tamper")
        return TamperDetected(detail, kind=kind, bundle_id=bundle_id)

    def forged(self, error: StatusForged) -> StatusForged:
        """Queue a ``device.status_forged`` signal for ``error``; return it to raise."""
        detail = f"{error.document}: {error}"[:1000]
        self.outbox.put("signal", f"sig-{uuid.uuid4()}", {"type": STATUS_FORGED, "detail": detail})
        self._send_now("signal")
        return error

    def branding_refused(self, detail: str) -> None:
        """Queue a ``device.branding_refused`` signal (sent at once if the service answers)."""
        self.outbox.put("signal", f"sig-{uuid.uuid4()}", {"type": BRANDING_REFUSED, "detail": detail[:1000]})
        self._send_now("signal")

    def flush(self) -> dict[str, FlushResult]:
        return {
            "tamper": self.outbox.flush("tamper", self._send),
            "signal": self.outbox.flush("signal", self._send),
        }

    def _send_now(self, kind: str) -> None:
        if self._link.may_try() and self.outbox.flush(kind, self._send).error:  # type: ignore[arg-type]
            self._link.went_offline()

    def _send(self, item: OutboxItem) -> Mapping[str, Any]:
        body = item.body
        try:
            if item.kind == "signal":
                return self._api().report_signal(
                    self._device_id(), str(body["type"]), str(body.get("detail", ""))
                )
            return self._api().report_tamper_evidence(
                self._device_id(),
                body["bundle_id"],
                body["kind"],
                body.get("detail", ""),
                body.get("evidence"),
            )
        except ApiError as error:
            if error.status in REFUSALS:
                # The service will never accept this item (the bundle is gone or not ours); keeping
                # it would block every item queued after it.
                return {"refused": error.status}
            raise
