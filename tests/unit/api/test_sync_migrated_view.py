"""How the sync route shows a tenant.migrated change: the new zone, its endpoints, where to read on after."""

from __future__ import annotations

from datetime import UTC, datetime

from content_service.api.sync_routes import ChangeView
from content_service.service.outbox_ports import FeedChange, FeedEntry

AT = datetime(2026, 12, 2, 12, tzinfo=UTC)
DEVICE = "dev_" + "a" * 32


def test_a_tenant_migrated_entry_carries_the_endpoints_and_the_position_just_before_it() -> None:
    change = FeedChange(
        "tenant.migrated", "", AT, "evt_1", detail={"zone": "us", "api_endpoints": ["https://us.example/prod"]}
    )
    view = ChangeView.of(FeedEntry(7, change, AT), DEVICE)
    assert (view.type, view.zone, view.api_endpoints) == ("tenant.migrated", "us", ["https://us.example/prod"])
    assert view.resume_after_seq == 6


def test_a_bundle_change_shows_no_migration_fields() -> None:
    view = ChangeView.of(FeedEntry(3, FeedChange("bundle.added", "bun_1", AT, "evt_2"), AT), DEVICE)
    assert view.bundle_id == "bun_1" and view.api_endpoints is None and view.resume_after_seq is None
