"""In-memory fakes of the outbox consumers' ports (bus, inbox, sync store, metrics)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from content_service.events.models import Envelope
from content_service.service.outbox_ports import FeedChange, FeedEntry, UserBundle


class FakeBus:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.published: list[Envelope] = []
        self.calls: list[int] = []
        self.refuse = refuse or set()

    def publish(self, events: Sequence[Envelope]) -> set[str]:
        self.calls.append(len(events))
        refused = {e.id for e in events if e.id in self.refuse}
        self.published.extend(e for e in events if e.id not in refused)
        return refused


class FakeInbox:
    def __init__(self) -> None:
        self.done: set[tuple[str, str]] = set()

    def seen(self, consumer: str, event_id: str) -> bool:
        return (consumer, event_id) in self.done

    def mark(self, consumer: str, event_id: str) -> None:
        self.done.add((consumer, event_id))


class FakeMetrics:
    def __init__(self) -> None:
        self.values: list[tuple[str, float]] = []
        self.dimensions: list[tuple[str, dict[str, str]]] = []

    def _add(self, name: str, value: float, dimensions: dict[str, str]) -> None:
        self.values.append((name, value))
        self.dimensions.append((name, dimensions))

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        self._add(name, value, dimensions)

    def seconds(self, name: str, value: float, **dimensions: str) -> None:
        self._add(name, value, dimensions)

    def milliseconds(self, name: str, value: float, **dimensions: str) -> None:
        self._add(name, value, dimensions)

    def bytes(self, name: str, value: float, **dimensions: str) -> None:
        self._add(name, value, dimensions)

    def named(self, name: str) -> list[float]:
        return [value for metric, value in self.values if metric == name]


class FakeSyncStore:
    """Behaves like DynamoSyncStore: gapless per-device sequences, one entry per (device, event)."""

    def __init__(self) -> None:
        self.devices: dict[tuple[str, str], dict[str, str]] = {}
        self.bundles: dict[tuple[str, str], dict[str, UserBundle]] = {}
        self.feeds: dict[tuple[str, str], list[FeedEntry]] = {}
        self.applied: set[tuple[str, str, str]] = set()
        self.writes = 0

    def put_device(self, tenant_id: str, user_id: str, device_id: str) -> None:
        self.devices.setdefault((tenant_id, user_id), {}).setdefault(device_id, "active")

    def deactivate_device(self, tenant_id: str, user_id: str, device_id: str) -> None:
        self.devices.setdefault((tenant_id, user_id), {})[device_id] = "revoked"

    def active_devices(self, tenant_id: str, user_id: str) -> list[str]:
        return [d for d, state in self.devices.get((tenant_id, user_id), {}).items() if state == "active"]

    def put_bundle(self, tenant_id: str, user_id: str, bundle: UserBundle) -> None:
        self.bundles.setdefault((tenant_id, user_id), {}).setdefault(bundle.bundle_id, bundle)

    def mark_bundle_revoked(self, tenant_id: str, user_id: str, bundle_id: str) -> None:
        known = self.bundles.setdefault((tenant_id, user_id), {})
        current = known.get(bundle_id, UserBundle(bundle_id, "", datetime(1970, 1, 1, tzinfo=UTC), False))
        known[bundle_id] = replace(current, revoked=True)

    def user_bundles(self, tenant_id: str, user_id: str) -> list[UserBundle]:
        return list(self.bundles.get((tenant_id, user_id), {}).values())

    def append(self, tenant_id: str, device_id: str, change: FeedChange) -> bool:
        if (tenant_id, device_id, change.event_id) in self.applied:
            return False
        self.applied.add((tenant_id, device_id, change.event_id))
        feed = self.feeds.setdefault((tenant_id, device_id), [])
        feed.append(FeedEntry(len(feed) + 1, change, datetime.now(UTC)))
        self.writes += 1
        return True

    def read(self, tenant_id: str, device_id: str, after: int, limit: int) -> list[FeedEntry]:
        return [e for e in self.feeds.get((tenant_id, device_id), []) if e.seq > after][:limit]

    def feed(self, tenant_id: str, device_id: str) -> list[tuple[str, str]]:
        return [(e.change.type, e.change.bundle_id) for e in self.feeds.get((tenant_id, device_id), [])]
