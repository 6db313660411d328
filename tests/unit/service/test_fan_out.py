"""Fan-out and the sync projection on fakes: who gets which change, once, whatever the redelivery."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from cryptography.fernet import Fernet

from content_service.adapters.cursors import FernetCursorSeal
from content_service.domain.bundle import Bundle, BundlePackage, BundleState, TamperPolicy
from content_service.domain.device import Device
from content_service.domain.errors import NotFound, TenantMoved, ValidationFailed
from content_service.domain.package import ContainerRef
from content_service.domain.principal import Principal
from content_service.domain.tenant import Branding, TenantSettings
from content_service.events.mapping import OutboxRow, envelopes
from content_service.service.fan_out import FanOut, PublishFailed
from content_service.service.sync import decode_sync_cursor, encode_sync_cursor, sync_device
from tests.fakes import FakeBundleRepository, FakeClock, FakeDeviceRepository, FakeTenantSettings
from tests.outbox_fakes import FakeBus, FakeInbox, FakeMetrics, FakeSyncStore

SEAL = FernetCursorSeal(Fernet(Fernet.generate_key()))
KEY = {"kty": "OKP", "crv": "X25519", "x": "A" * 43}


class World:
    def __init__(self, policy: TamperPolicy | None = None) -> None:
        self.clock = FakeClock()
        self.bus, self.inbox, self.store = FakeBus(), FakeInbox(), FakeSyncStore()
        self.metrics, self.bundles, self.devices = (
            FakeMetrics(),
            FakeBundleRepository(),
            FakeDeviceRepository(),
        )
        self.fan_out = FanOut(
            bus=self.bus,
            inbox=self.inbox,
            store=self.store,
            bundles=self.bundles,
            metrics=self.metrics,
            clock=self.clock,
            tamper_policy=policy or TamperPolicy(),
        )
        self.revisions: dict[str, int] = {}

    def row(self, pk: str, aggregate) -> OutboxRow:
        self.revisions[pk] = self.revisions.get(pk, 0) + 1
        return OutboxRow(pk, "X", self.revisions[pk], tuple(e.as_dict() for e in aggregate.events))

    def deliver(self, *rows: OutboxRow) -> None:
        refused = self.fan_out.publish(rows)
        for row in rows:
            self.fan_out.consume(row, refused)

    def enroll(self, device_id: str, user: str = "u") -> OutboxRow:
        device = Device.enroll(
            tenant_id="t", device_id=device_id, user_id=user, name="d", public_key=KEY, now=self.clock.now()
        )
        self.devices.add(device)
        return self.row(device_id, device)

    def create_bundle(self, bundle_id: str, user: str = "u") -> OutboxRow:
        member = BundlePackage("pkg", 1, "h" * 64, ContainerRef("k", 1, "s" * 64))
        bundle = Bundle.create(
            tenant_id="t",
            bundle_id=bundle_id,
            user_id=user,
            residency_zone="eu",
            packages=(member,),
            now=self.clock.now(),
        )
        built = bundle.mark_built("m", "s", self.clock.now())
        self.bundles.add(replace(built, events=()))
        return self.row(bundle_id, replace(built, events=built.events[-1:]))

    def revoke_bundle(self, bundle_id: str) -> OutboxRow:
        saved = self.bundles.get("t", bundle_id)
        revoked = saved.revoke("withdrawn", self.clock.now())
        self.bundles.save(revoked)
        return self.row(bundle_id, revoked)


def test_a_new_bundle_reaches_every_active_device_of_its_user_only() -> None:
    w = World()
    w.deliver(w.enroll("d1"), w.enroll("d2"), w.enroll("d3", user="other"))
    w.deliver(w.create_bundle("b1"))
    assert w.store.feed("t", "d1") == [("bundle.added", "b1")]
    assert w.store.feed("t", "d2") == [("bundle.added", "b1")]
    assert w.store.feed("t", "d3") == []


def test_a_device_enrolled_later_gets_the_current_non_revoked_bundles() -> None:
    w = World()
    w.deliver(w.create_bundle("b1"), w.create_bundle("b2"))
    w.deliver(w.revoke_bundle("b1"))
    w.deliver(w.enroll("late"))
    assert w.store.feed("t", "late") == [("bundle.added", "b2")]


def test_a_revocation_reaches_every_device_and_measures_its_lag() -> None:
    w = World()
    w.deliver(w.enroll("d1"), w.enroll("d2"))
    w.deliver(w.create_bundle("b1"))
    revocation = w.revoke_bundle("b1")
    w.clock.advance(2)
    w.deliver(revocation)
    for device in ("d1", "d2"):
        assert w.store.feed("t", device) == [("bundle.added", "b1"), ("bundle.revoked", "b1")]
    assert w.metrics.named("RevocationLag") == [2.0]


def test_a_bundle_and_a_device_racing_are_matched_exactly_once_in_either_order() -> None:
    for first_device in (True, False):
        w = World()
        enrolled, created = w.enroll("d1"), w.create_bundle("b1")
        rows = (enrolled, created) if first_device else (created, enrolled)
        w.deliver(*rows)
        # Whichever handler ran second, a redelivery of both appends nothing.
        w.deliver(*rows)
        assert w.store.feed("t", "d1") == [("bundle.added", "b1")]


def test_redelivering_a_batch_changes_nothing() -> None:
    w = World()
    rows = (w.enroll("d1"), w.create_bundle("b1"))
    w.deliver(*rows)
    published, writes, marks = len(w.bus.published), w.store.writes, set(w.inbox.done)
    w.deliver(*rows)
    assert (len(w.bus.published), w.store.writes, w.inbox.done) == (published, writes, marks)


def test_a_crash_after_the_work_but_before_the_inbox_mark_duplicates_nothing() -> None:
    w = World()
    w.deliver(w.enroll("d1"))
    row = w.create_bundle("b1")
    w.deliver(row)
    w.inbox.done = {(c, e) for c, e in w.inbox.done if c != "sync"}  # the marks were lost in the crash
    w.deliver(row)
    assert w.store.feed("t", "d1") == [("bundle.added", "b1")]


def test_a_refused_publish_fails_the_row_but_still_projects_and_is_retried() -> None:
    w = World()
    w.deliver(w.enroll("d1"))
    row = w.create_bundle("b1")
    event_id = envelopes(row)[0].id
    w.bus.refuse = {event_id}
    refused = w.fan_out.publish([row])
    with pytest.raises(PublishFailed):
        w.fan_out.consume(row, refused)
    assert w.store.feed("t", "d1") == [("bundle.added", "b1")]
    w.bus.refuse = set()
    w.deliver(row)
    assert [e.id for e in w.bus.published].count(event_id) == 1


def test_publishing_sends_the_batch_in_one_call_per_batch() -> None:
    w = World()
    rows = [w.enroll(f"d{i}") for i in range(12)]
    w.fan_out.publish(rows)
    assert w.bus.calls == [12]  # The adapter splits into PutEvents calls of at most 10.


def _tamper_row(w: World, bundle_id: str, report: str = "tmp_1", corroborated: bool = True) -> OutboxRow:
    event = {
        "name": "content.bundle.tampered.v1",
        "tenant_id": "t",
        "subject_id": bundle_id,
        "occurred_at": w.clock.now().isoformat(),
        "data": {"device_id": "d1", "kind": "container", "report_id": report, "corroborated": corroborated},
    }
    return OutboxRow("TENANT#t#DEVICE#d1", f"TAMPER#{report}", 0, (event,))


def test_a_tamper_report_revokes_the_bundle_once_and_counts() -> None:
    w = World()
    w.deliver(w.enroll("d1"))
    w.deliver(w.create_bundle("b1"))
    w.deliver(_tamper_row(w, "b1"), _tamper_row(w, "b1", "tmp_2"))
    assert w.bundles.get("t", "b1").state is BundleState.REVOKED
    assert w.bundles.get("t", "b1").revoke_reason.startswith("tamper: container")
    assert w.metrics.named("TamperEvents") == [1, 1]
    w.deliver(_tamper_row(w, "b1"))
    assert w.metrics.named("TamperEvents") == [1, 1]


def test_an_uncorroborated_tamper_report_is_counted_for_the_alarm_and_revokes_nothing() -> None:
    w = World()
    w.deliver(w.create_bundle("b1"))
    w.deliver(_tamper_row(w, "b1", corroborated=False))
    assert w.bundles.get("t", "b1").state is BundleState.BUILT
    assert w.metrics.named("TamperEvents") == [1]
    assert w.metrics.named("TamperReportsUncorroborated") == [1]


def test_tamper_is_only_counted_when_the_tenants_policy_is_off() -> None:
    w = World(TamperPolicy(default=True, overrides=(("t", False),)))
    w.deliver(w.create_bundle("b1"))
    w.deliver(_tamper_row(w, "b1"))
    assert w.bundles.get("t", "b1").state is BundleState.BUILT
    assert w.metrics.named("TamperEvents") == [1]


@pytest.mark.parametrize(
    ("deployment_default", "tenant_choice", "revoked"), [(True, False, False), (False, True, True)]
)
def test_a_tenants_own_tamper_policy_wins_over_the_deployments(
    deployment_default: bool, tenant_choice: bool, revoked: bool
) -> None:
    w = World(TamperPolicy(default=deployment_default))
    w.fan_out.tenant_settings = FakeTenantSettings()
    w.fan_out.tenant_settings.save(TenantSettings("t", "eu", tamper_auto_revoke=tenant_choice))
    w.deliver(w.create_bundle("b1"))
    w.deliver(_tamper_row(w, "b1"))
    assert (w.bundles.get("t", "b1").state is BundleState.REVOKED) is revoked


class FakeSigner:
    kid = "k"

    def sign(self, claims, *, typ):
        self.last = (claims, typ)
        return "signed"


def test_sync_pages_with_an_opaque_cursor_bound_to_the_device() -> None:
    w = World()
    w.deliver(w.enroll("d1"), w.enroll("d2"))
    w.deliver(w.create_bundle("b1"), w.create_bundle("b2"), w.create_bundle("b3"))
    w.deliver(w.revoke_bundle("b2"))
    signer = FakeSigner()

    def page(cursor, device="d1", user="u"):
        return sync_device(
            Principal.user("t", user),
            device,
            cursor,
            2,
            devices=w.devices,
            store=w.store,
            signer=signer,
            clock=w.clock,
            cursors=SEAL,
        )

    first = page(None)
    assert [e.change.bundle_id for e in first.entries] == ["b1", "b2"] and first.has_more
    second = page(first.next_cursor)
    assert [(e.change.type, e.change.bundle_id) for e in second.entries] == [
        ("bundle.added", "b3"),
        ("bundle.revoked", "b2"),
    ]
    assert page(first.next_cursor).entries == second.entries
    assert page(second.next_cursor).entries == [] and decode_sync_cursor(
        page(second.next_cursor).next_cursor, "d1", SEAL
    ) == decode_sync_cursor(second.next_cursor, "d1", SEAL)
    claims, typ = signer.last
    assert typ == "device-status+jwt" and claims["revoked_bundles"] == ["b2"] and claims["device_id"] == "d1"
    with pytest.raises(ValidationFailed):
        page(page(None, device="d2").next_cursor)
    with pytest.raises(NotFound):
        page(None, user="someone-else")


def test_the_signed_status_carries_the_tenants_branding_revision() -> None:
    w = World()
    w.deliver(w.enroll("d1"))
    signer, settings = FakeSigner(), FakeTenantSettings()

    def status() -> dict:
        sync_device(
            Principal.user("t", "u"), "d1", None, 2, devices=w.devices, store=w.store, signer=signer,
            clock=w.clock, cursors=SEAL, settings=settings,
        )
        return signer.last[0]

    assert status()["branding_revision"] == 0
    branded = settings.save(TenantSettings("t", "eu", branding=Branding("Acme", "#0a5cff")))
    assert status()["branding_revision"] == branded.revision >= 1
    settings.save(replace(branded, branding=None))
    assert status()["branding_revision"] == 0


def test_an_unknown_device_of_a_tenant_that_moved_zones_is_told_where_it_went() -> None:
    w = World()
    w.deliver(w.enroll("d1"))
    settings = FakeTenantSettings()
    endpoints = {"us": ("https://api.us.example/prod",)}

    def sync(device: str, zone: str | None = "eu") -> None:
        sync_device(
            Principal.user("t", "u"), device, None, 2, devices=w.devices, store=w.store, signer=FakeSigner(),
            clock=w.clock, cursors=SEAL, settings=settings, zone=zone,
            zone_endpoints=lambda name: endpoints.get(name, ()),
        )

    # A tenant at home: an unknown device is a plain 404, a known one syncs
    settings.save(TenantSettings("t", "eu"))
    with pytest.raises(NotFound):
        sync("d-gone")
    sync("d1")
    # Moved to us (the settings item stays in eu, naming us): an unknown device learns where to go
    settings.save(replace(settings.get("t"), zone="us"))
    with pytest.raises(TenantMoved) as moved:
        sync("d-gone")
    assert moved.value.status == 421
    assert moved.value.extensions == {"zone": "us", "api_endpoints": ["https://api.us.example/prod"]}
    # A device this zone still knows (the grace period) syncs here as before; without a zone, a 404
    sync("d1")
    with pytest.raises(NotFound):
        sync("d-gone", zone=None)


def test_a_sync_cursor_round_trips_and_garbage_or_a_changed_byte_is_refused() -> None:
    cursor = encode_sync_cursor("d1", 7, SEAL)
    assert decode_sync_cursor(cursor, "d1", SEAL) == 7
    flipped = cursor[:20] + ("A" if cursor[20] != "A" else "B") + cursor[21:]
    unsealed = base64.urlsafe_b64encode(b'{"v":1,"d":"d1","s":7}').decode().rstrip("=")
    foreign = encode_sync_cursor("d1", 7, FernetCursorSeal(Fernet(Fernet.generate_key())))
    for garbage in ("!!", "e30", cursor[:-3], flipped, unsealed, foreign, encode_sync_cursor("d2", 7, SEAL)):
        with pytest.raises(ValidationFailed):
            decode_sync_cursor(garbage, "d1", SEAL)


def test_a_sync_cursor_does_not_show_the_device_or_its_position() -> None:
    cursor = encode_sync_cursor("dev_0123456789abcdef", 424242, SEAL)
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert b"dev_0123456789abcdef" not in decoded and b"424242" not in decoded


def test_another_tenants_override_does_not_switch_this_tenants_revocation_off() -> None:
    w = World(TamperPolicy(default=True, overrides=(("other", False),)))
    w.deliver(w.create_bundle("b1"))
    w.deliver(_tamper_row(w, "b1"))
    assert w.bundles.get("t", "b1").state is BundleState.REVOKED
