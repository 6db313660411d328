"""Ports of the outbox consumers (fan-out, sync projection, tamper response).

Adapters implement them on EventBridge, DynamoDB and CloudWatch EMF; tests use fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from content_service.events.models import Envelope


class EventBus(Protocol):
    def publish(self, events: Sequence[Envelope]) -> set[str]:
        """Publish every event (retrying failed entries); return the ids that still failed."""
        ...


class Inbox(Protocol):
    """Which events a consumer has finished: redelivered events are recognised and skipped."""

    def seen(self, consumer: str, event_id: str) -> bool: ...

    def mark(self, consumer: str, event_id: str) -> None:
        """Record the event as done for ``consumer`` (a conditional put; a second mark is a no-op)."""
        ...


class Metrics(Protocol):
    """Figures for dashboards and alarms (names in ``content_service.service.telemetry``).

    Keyword dimensions are added to the service dimension every figure carries; keep them to
    bounded sets (a standard, a problem code, an operation), never a tenant, user or id.
    """

    def count(self, name: str, value: float = 1, **dimensions: str) -> None: ...

    def seconds(self, name: str, value: float, **dimensions: str) -> None: ...

    def milliseconds(self, name: str, value: float, **dimensions: str) -> None: ...

    def bytes(self, name: str, value: float, **dimensions: str) -> None: ...


@dataclass(frozen=True)
class FeedChange:
    """One entry of a device's change feed, before it has a sequence number."""

    type: str
    bundle_id: str
    at: datetime
    event_id: str
    reason: str | None = None
    #: What a change that is not about a bundle says (``tenant.migrated``: zone, api_endpoints).
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class FeedEntry:
    seq: int
    change: FeedChange
    written_at: datetime


@dataclass(frozen=True)
class UserBundle:
    """What the projection knows of one of a user's bundles."""

    bundle_id: str
    added_event_id: str
    added_at: datetime
    revoked: bool


class SyncStore(Protocol):
    """The sync projection: per user, its devices and bundles; per device, an ordered change feed."""

    def put_device(self, tenant_id: str, user_id: str, device_id: str) -> None: ...

    def deactivate_device(self, tenant_id: str, user_id: str, device_id: str) -> None: ...

    def active_devices(self, tenant_id: str, user_id: str) -> list[str]:
        """The user's active devices, read strongly consistently (no index lag)."""
        ...

    def put_bundle(self, tenant_id: str, user_id: str, bundle: UserBundle) -> None:
        """Record a bundle as added (a no-op if it is already known, so a revocation is never undone)."""
        ...

    def mark_bundle_revoked(self, tenant_id: str, user_id: str, bundle_id: str) -> None: ...

    def user_bundles(self, tenant_id: str, user_id: str) -> list[UserBundle]: ...

    def append(self, tenant_id: str, device_id: str, change: FeedChange) -> bool:
        """Append a change to the device's feed once per (device, event id); False if already there."""
        ...

    def read(self, tenant_id: str, device_id: str, after: int, limit: int) -> list[FeedEntry]:
        """Entries with a sequence number above ``after``, in order."""
        ...
