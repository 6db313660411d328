"""Withdrawing a package version on fakes: which bundles are revoked, which feeds are told, once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from content_service.domain.bundle import Bundle, BundlePackage, BundleState
from content_service.domain.errors import InvalidTransition, NotFound, ValidationFailed
from content_service.domain.package import (
    ContainerRef,
    FileEntry,
    Launch,
    PackageManifest,
    PackageState,
    PlayPackage,
    Standard,
)
from content_service.domain.withdrawal import (
    Holder,
    WithdrawalChunk,
    WithdrawalProgress,
    WithdrawalState,
    chunked,
    feed_event_id,
    withdrawal_id,
)
from content_service.events.models import (
    BundleCreatedData,
    BundleCreatedV1,
    BundleRevokedData,
    BundleRevokedV1,
    PackageRef,
    PackageRevokedData,
    PackageRevokedV1,
)
from content_service.service.sync import project
from content_service.service.withdrawal import Withdrawals, withdraw_version, withdrawal_progress
from tests.fakes import FakeBundleRepository, FakeClock, FakePackageRepository
from tests.outbox_fakes import FakeMetrics, FakeSyncStore

TENANT, PACKAGE = "t", "pkg_1"


class FakeHolders:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], dict[str, Holder]] = {}

    def add(self, tenant_id: str, package_id: str, version: int, holder: Holder) -> None:
        self.rows.setdefault((tenant_id, package_id, version), {})[holder.bundle_id] = holder

    def holders(self, tenant_id: str, package_id: str, version: int) -> list[Holder]:
        return sorted(self.rows.get((tenant_id, package_id, version), {}).values(), key=lambda h: h.bundle_id)


class FakeLog:
    """Like DynamoWithdrawalLog: start once, a chunk counted once per number, done when all counted."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], WithdrawalProgress] = {}
        self.counted: set[tuple[str, int]] = set()

    def start(self, progress: WithdrawalProgress) -> None:
        self.rows.setdefault((progress.tenant_id, progress.package_id, progress.version), progress)

    def get(self, tenant_id: str, package_id: str, version: int) -> WithdrawalProgress | None:
        return self.rows.get((tenant_id, package_id, version))

    def planned(
        self, tenant_id: str, package_id: str, version: int, bundles: int, chunks: int, now: datetime
    ) -> None:
        key = (tenant_id, package_id, version)
        self.rows[key] = replace(self.rows[key], bundles_total=bundles, chunks_total=chunks, planned_at=now)
        self._complete_if_done(key, now)

    def chunk_done(
        self, chunk: WithdrawalChunk, bundles_revoked: int, devices_notified: int, now: datetime
    ) -> None:
        if chunk.number < 0 or (chunk.withdrawal_id, chunk.number) in self.counted:
            return
        self.counted.add((chunk.withdrawal_id, chunk.number))
        key = (chunk.tenant_id, chunk.package_id, chunk.version)
        row = self.rows[key]
        self.rows[key] = replace(
            row,
            chunks_done=row.chunks_done + 1,
            bundles_revoked=row.bundles_revoked + bundles_revoked,
            devices_notified=row.devices_notified + devices_notified,
        )
        self._complete_if_done(key, now)

    def _complete_if_done(self, key: tuple[str, str, int], now: datetime) -> None:
        row = self.rows[key]
        if row.chunks_total is not None and row.chunks_done >= row.chunks_total and row.completed_at is None:
            self.rows[key] = replace(row, completed_at=now)


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[WithdrawalChunk] = []

    def send(self, chunks: Sequence[WithdrawalChunk]) -> None:
        self.sent.extend(chunks)


class World:
    def __init__(self, chunk_size: int = 2) -> None:
        self.clock = FakeClock()
        self.bundles, self.store, self.holders = FakeBundleRepository(), FakeSyncStore(), FakeHolders()
        self.log, self.queue = FakeLog(), FakeQueue()
        self.withdrawals = Withdrawals(
            holders=self.holders,
            log=self.log,
            queue=self.queue,
            bundles=self.bundles,
            store=self.store,
            metrics=FakeMetrics(),
            clock=self.clock,
            chunk_size=chunk_size,
            threads=1,
        )

    def bundle(self, user: str, devices: int, package: str = PACKAGE, index: bool = True) -> Bundle:
        bundle_id = f"bnd_{user}_{package}"
        member = BundlePackage(package, 1, "c" * 64, ContainerRef("k", 1, "s" * 64))
        made = Bundle.create(
            tenant_id=TENANT,
            bundle_id=bundle_id,
            user_id=user,
            residency_zone="eu",
            packages=(member,),
            now=self.clock.now(),
        ).mark_built("m", "h", self.clock.now())
        stored = self.bundles.add(made)
        for n in range(devices):
            self.store.put_device(TENANT, user, f"dev_{user}_{n}")
        if index:
            self.holders.add(TENANT, package, 1, Holder(bundle_id, user))
        return stored

    def revoked_event(self) -> PackageRevokedV1:
        return PackageRevokedV1(
            id="evt_pkg",
            tenant_id=TENANT,
            occurred_at=self.clock.now(),
            data=PackageRevokedData(package_id=PACKAGE, version=1, reason="takedown"),
        )

    def run_everything(self) -> None:
        for chunk in list(self.queue.sent):
            self.withdrawals.run_chunk(chunk)

    def revocations(self, device: str) -> list[tuple[str, str]]:
        return [entry for entry in self.store.feed(TENANT, device) if entry[0] == "bundle.revoked"]

    def progress(self) -> WithdrawalProgress:
        found = self.log.get(TENANT, PACKAGE, 1)
        assert found is not None
        return found


def test_a_withdrawal_revokes_every_holding_bundle_and_tells_every_active_device_once() -> None:
    world = World(chunk_size=2)
    for user in ("u1", "u2", "u3"):
        world.bundle(user, devices=2)
    kept = world.bundle("u4", devices=1, package="pkg_other")

    assert world.withdrawals.plan(world.revoked_event()) == 2
    assert world.progress().state is WithdrawalState.FANNING_OUT
    world.run_everything()

    wid = withdrawal_id(TENANT, PACKAGE, 1)
    for user in ("u1", "u2", "u3"):
        bundle = world.bundles.get(TENANT, f"bnd_{user}_{PACKAGE}")
        assert bundle.state is BundleState.REVOKED and bundle.withdrawal_id == wid
        for n in range(2):
            assert world.revocations(f"dev_{user}_{n}") == [("bundle.revoked", bundle.bundle_id)]
    assert world.bundles.get(TENANT, kept.bundle_id).state is BundleState.BUILT
    assert world.revocations("dev_u4_0") == []
    progress = world.progress()
    assert progress.state is WithdrawalState.DONE
    assert (progress.bundles_total, progress.bundles_revoked, progress.devices_notified) == (3, 3, 6)


def test_redelivered_plans_and_chunks_append_and_count_nothing_twice() -> None:
    world = World(chunk_size=2)
    for user in ("u1", "u2", "u3"):
        world.bundle(user, devices=2)
    world.withdrawals.plan(world.revoked_event())
    world.run_everything()
    writes, before = world.store.writes, world.progress()

    world.withdrawals.plan(world.revoked_event())
    world.run_everything()

    assert world.store.writes == writes
    assert world.progress().devices_notified == before.devices_notified == 6
    assert world.progress().chunks_done == 2
    assert world.revocations("dev_u1_0") == [("bundle.revoked", f"bnd_u1_{PACKAGE}")]


def test_a_chunk_that_crashed_after_revoking_tells_the_devices_on_redelivery() -> None:
    world = World(chunk_size=5)
    bundle = world.bundle("u1", devices=2)
    world.withdrawals.plan(world.revoked_event())
    # The first delivery revoked the bundle, then its container died before any feed was written.
    wid = withdrawal_id(TENANT, PACKAGE, 1)
    world.bundles.save(bundle.revoke("takedown", world.clock.now(), withdrawal_id=wid))

    world.run_everything()

    assert world.revocations("dev_u1_0") == [("bundle.revoked", bundle.bundle_id)]
    assert world.progress().state is WithdrawalState.DONE


def test_a_bundle_revoked_before_by_catalog_is_left_to_its_own_revocation() -> None:
    world = World()
    bundle = world.bundle("u1", devices=1)
    world.bundles.save(bundle.revoke("catalog said so", world.clock.now()))
    world.withdrawals.plan(world.revoked_event())
    world.run_everything()
    assert world.revocations("dev_u1_0") == []
    assert world.progress().bundles_revoked == 0 and world.progress().state is WithdrawalState.DONE


def test_a_version_nobody_holds_is_done_as_soon_as_it_is_planned() -> None:
    world = World()
    assert world.withdrawals.plan(world.revoked_event()) == 0
    assert world.queue.sent == [] and world.progress().state is WithdrawalState.DONE


def test_a_bundle_created_while_its_version_is_withdrawn_is_revoked_when_it_is_indexed() -> None:
    world = World()
    world.withdrawals.plan(world.revoked_event())  # nobody held it yet
    late = world.bundle("late", devices=2, index=False)
    created = BundleCreatedV1(
        id="evt_created",
        tenant_id=TENANT,
        occurred_at=world.clock.now(),
        data=BundleCreatedData(
            bundle_id=late.bundle_id,
            user_id="late",
            residency_zone="eu",
            packages=[PackageRef(package_id=PACKAGE, version=1)],
        ),
    )

    assert world.withdrawals.index_holders(created) == 2

    assert world.bundles.get(TENANT, late.bundle_id).state is BundleState.REVOKED
    assert world.revocations("dev_late_1") == [("bundle.revoked", late.bundle_id)]
    assert world.holders.holders(TENANT, PACKAGE, 1) == [Holder(late.bundle_id, "late")]


def test_a_bundle_of_a_version_not_withdrawn_is_only_indexed() -> None:
    world = World()
    bundle = world.bundle("u1", devices=1, index=False)
    created = BundleCreatedV1(
        id="evt_c",
        tenant_id=TENANT,
        occurred_at=world.clock.now(),
        data=BundleCreatedData(
            bundle_id=bundle.bundle_id,
            user_id="u1",
            residency_zone="eu",
            packages=[PackageRef(package_id=PACKAGE, version=1)],
        ),
    )
    assert world.withdrawals.index_holders(created) == 0
    assert world.bundles.get(TENANT, bundle.bundle_id).state is BundleState.BUILT
    assert world.holders.holders(TENANT, PACKAGE, 1) == [Holder(bundle.bundle_id, "u1")]


def test_the_stream_projection_leaves_a_withdrawn_bundle_to_the_withdrawal() -> None:
    store, clock = FakeSyncStore(), FakeClock()
    store.put_device(TENANT, "u1", "d1")
    event = BundleRevokedV1(
        id="evt_r",
        tenant_id=TENANT,
        occurred_at=clock.now(),
        data=BundleRevokedData(bundle_id="b1", user_id="u1", reason="takedown", withdrawal_id="wdr_x"),
    )
    assert project(event, store=store, metrics=FakeMetrics(), clock=clock) == 0
    assert store.feed(TENANT, "d1") == []


# ------------------------------------------------------------ the API cases
def _packages(built: bool) -> tuple[FakePackageRepository, FakeClock, PlayPackage]:
    packages, clock = FakePackageRepository(), FakeClock()
    package = PlayPackage.start_building(
        tenant_id=TENANT, package_id=PACKAGE, version=1, source_key="uploads/k", now=clock.now()
    )
    if built:
        manifest = PackageManifest(
            standard=Standard.NATIVE,
            title="t",
            language=None,
            launches=(Launch("l", "t", "index.html"),),
            files=(FileEntry("index.html", 1, "text/html", "a" * 64),),
        )
        package = package.mark_built(manifest, clock.now())
    return packages, clock, packages.add(package)


@pytest.fixture
def package_world() -> tuple[FakePackageRepository, FakeClock, PlayPackage]:
    return _packages(built=True)


@pytest.fixture
def building_world() -> tuple[FakePackageRepository, FakeClock, PlayPackage]:
    return _packages(built=False)


def test_withdrawing_a_version_twice_revokes_it_once_and_keeps_the_first_reason(package_world) -> None:
    packages, clock, package = package_world
    first = withdraw_version(TENANT, package.package_id, 1, "  takedown ", packages=packages, clock=clock)
    second = withdraw_version(TENANT, package.package_id, 1, "again", packages=packages, clock=clock)
    assert first.state is second.state is PackageState.REVOKED
    assert second.revoke_reason == "takedown" and second.revision == first.revision
    progress = withdrawal_progress(TENANT, package.package_id, 1, packages=packages, log=FakeLog())
    assert progress.state is WithdrawalState.PENDING and progress.reason == "takedown"


def test_a_version_that_is_not_withdrawn_has_no_withdrawal(package_world) -> None:
    packages, _, package = package_world
    with pytest.raises(NotFound):
        withdrawal_progress(TENANT, package.package_id, 1, packages=packages, log=FakeLog())


def test_a_building_version_cannot_be_withdrawn(building_world) -> None:
    packages, clock, package = building_world
    with pytest.raises(InvalidTransition):
        withdraw_version(TENANT, package.package_id, 1, "takedown", packages=packages, clock=clock)


# ------------------------------------------------------------------ domain
def test_holders_are_chunked_in_order_and_chunks_survive_their_message_form() -> None:
    holders = [Holder(f"b{i}", f"u{i}") for i in range(5)]
    chunks = list(chunked(TENANT, PACKAGE, 1, "r", holders, 2))
    assert [len(c.holders) for c in chunks] == [2, 2, 1] and [c.number for c in chunks] == [0, 1, 2]
    assert [WithdrawalChunk.from_dict(c.as_dict()) for c in chunks] == chunks
    assert chunks[0].withdrawal_id == withdrawal_id(TENANT, PACKAGE, 1) != withdrawal_id(TENANT, PACKAGE, 2)
    assert feed_event_id("w", "b1") != feed_event_id("w", "b2")


@pytest.mark.parametrize("message", [{}, {"v": 2}, {"v": 1, "holders": "x"}, [], "chunk"])
def test_a_message_that_is_not_a_chunk_is_refused(message) -> None:
    with pytest.raises(ValidationFailed):
        WithdrawalChunk.from_dict(message)


def test_the_sample_withdraw_event_carries_a_chunk() -> None:
    event = json.loads(
        (Path(__file__).parents[3] / "events" / "withdraw" / "sqs_withdrawal_chunk.json").read_text()
    )
    (record,) = event["Records"]
    chunk = WithdrawalChunk.from_dict(json.loads(record["body"]))
    assert chunk.number == 0 and [h.user_id for h in chunk.holders] == ["learner-1", "learner-2"]


def test_a_withdrawal_is_done_only_once_its_completion_is_stamped() -> None:
    now = FakeClock().now()
    counted = WithdrawalProgress(
        TENANT, PACKAGE, 1, "r", started_at=now, planned_at=now, chunks_total=2, chunks_done=2
    )
    assert WithdrawalProgress(TENANT, PACKAGE, 1, "r").state is WithdrawalState.PENDING
    assert replace(counted, planned_at=None).state is WithdrawalState.PLANNING
    assert counted.state is WithdrawalState.FANNING_OUT
    assert replace(counted, completed_at=now).state is WithdrawalState.DONE
