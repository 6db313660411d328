"""The residency migration aggregate: its order of steps, its progress, what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from content_service.domain.errors import InvalidTransition, ValidationFailed
from content_service.domain.migration import MigrationState, TenantMigration, device_event_id
from content_service.domain.zones import DEFAULT_ZONES, Zones

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
ZONES = Zones.parse(DEFAULT_ZONES)


def _requested(grace: timedelta = timedelta(hours=1)) -> TenantMigration:
    return TenantMigration.request(
        tenant_id="acme", source_zone="eu", target_zone="us", zones=ZONES, by="admin-1", now=NOW, grace=grace
    )


def _switched() -> TenantMigration:
    migration = _requested().start_copying(NOW)
    migration = migration.copied(objects=2, items=3, size=10, cursor="k", now=NOW).copy_finished(NOW)
    migration = migration.verified_batch(objects=2, items=3, recopied=0, cursor="k", now=NOW)
    return migration.verification_finished(NOW).switch(NOW)


def test_a_migration_goes_through_every_step_in_order_and_records_an_event_for_each() -> None:
    # Given a requested migration
    migration = _requested()
    assert migration.state is MigrationState.REQUESTED and migration.step == "copy"
    # When it copies, verifies, switches, tells devices, waits out the grace and cleans
    migration = migration.start_copying(NOW).copied(objects=2, items=5, size=100, cursor="o/2", now=NOW)
    migration = migration.copied(objects=1, items=0, size=7, cursor="o/3", now=NOW).copy_finished(NOW)
    assert (migration.state, migration.objects_total, migration.items_total) == (MigrationState.VERIFYING, 3, 5)
    assert migration.cursor is None and migration.step == "verify"
    migration = migration.verified_batch(objects=3, items=6, recopied=1, cursor="i/6", now=NOW)
    migration = migration.verification_finished(NOW)
    assert (migration.objects_total, migration.items_total) == (3, 6)
    migration = migration.switch(NOW)
    assert migration.step == "notify" and migration.clean_after == NOW + timedelta(hours=1)
    migration = migration.devices_told(devices=4, cursor="d", now=NOW).notify_finished(NOW)
    assert migration.step == "clean"
    later = NOW + timedelta(hours=1)
    migration = migration.start_cleaning(later).cleaned(objects=3, items=6, cursor="x", now=later).finish(later)
    # Then it is done, its counters say what it did and each state change is an event
    assert migration.state is MigrationState.DONE and migration.completed_at == later
    assert migration.progress()["bytes_copied"] == 107
    assert migration.progress()["recopied"] == 1 and migration.progress()["devices_notified"] == 4
    assert [e.name for e in migration.events] == [
        "content.tenant.migration_requested.v1",
        "content.tenant.migration_copying.v1",
        "content.tenant.migration_verifying.v1",
        "content.tenant.migration_verified.v1",
        "content.tenant.migrated.v1",
        "content.tenant.migration_cleaning.v1",
        "content.tenant.migration_done.v1",
    ]


def test_a_migration_to_the_same_or_an_unknown_zone_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="already in zone eu"):
        TenantMigration.request(tenant_id="a", source_zone="eu", target_zone="eu", zones=ZONES, by="x", now=NOW)
    with pytest.raises(ValidationFailed, match="unknown residency zone"):
        TenantMigration.request(tenant_id="a", source_zone="eu", target_zone="ap", zones=ZONES, by="x", now=NOW)


def test_the_switch_needs_a_verified_migration() -> None:
    copying = _requested().start_copying(NOW)
    with pytest.raises(InvalidTransition, match="is copying, not verified"):
        copying.switch(NOW)
    with pytest.raises(InvalidTransition, match="not verified"):
        copying.copy_finished(NOW).switch(NOW)


def test_a_step_cannot_be_skipped_or_repeated() -> None:
    migration = _requested()
    with pytest.raises(InvalidTransition):
        migration.copy_finished(NOW)
    with pytest.raises(InvalidTransition):
        migration.start_copying(NOW).start_copying(NOW)
    with pytest.raises(InvalidTransition):
        migration.verified_batch(objects=1, items=1, recopied=0, cursor="c", now=NOW)


def test_cleaning_waits_for_every_device_and_the_grace_period() -> None:
    switched = _switched()
    with pytest.raises(InvalidTransition, match="has not told every device"):
        switched.start_cleaning(NOW + timedelta(days=30))
    told = switched.notify_finished(NOW)
    with pytest.raises(InvalidTransition, match="keeps the source copies until"):
        told.start_cleaning(NOW + timedelta(minutes=59))
    assert told.start_cleaning(NOW + timedelta(hours=1)).state is MigrationState.CLEANING


def test_a_migration_can_fail_before_the_switch_but_not_after() -> None:
    failed = _requested().start_copying(NOW).fail("target unreachable", NOW)
    assert failed.state is MigrationState.FAILED and failed.is_final and failed.failure == "target unreachable"
    with pytest.raises(InvalidTransition, match="can no longer fail"):
        failed.fail("again", NOW)
    with pytest.raises(InvalidTransition, match="can no longer fail"):
        _switched().fail("too late", NOW)


def test_counters_never_go_down() -> None:
    with pytest.raises(ValueError, match="cannot go down"):
        _requested().start_copying(NOW).copied(objects=-1, items=0, size=0, cursor="c", now=NOW)


def test_the_same_request_names_the_same_migration_and_each_device_gets_its_own_event_id() -> None:
    assert _requested().migration_id == _requested().migration_id
    ident = _requested().migration_id
    assert device_event_id(ident, "dev_a") != device_event_id(ident, "dev_b")
    assert device_event_id(ident, "dev_a") == device_event_id(ident, "dev_a")
