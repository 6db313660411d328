"""Device slots: the cap counts every device that could still play, active or revoked in grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from content_service.domain.device import DeviceLimitReached
from content_service.domain.device_slots import DeviceSlot, DeviceSlots
from content_service.domain.errors import InvariantViolated

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
LATER = NOW + timedelta(days=3)


def test_a_first_record_holds_one_slot_per_active_device_sorted_and_deduplicated() -> None:
    slots = DeviceSlots.first("t1", "u1", ["d2", "d1", "d2"])
    assert slots == DeviceSlots("t1", "u1", (DeviceSlot("d1"), DeviceSlot("d2")), 0)
    assert slots.revision == 0
    assert DeviceSlots("t1", "u1").slots == ()


def test_an_active_slot_is_held_forever_and_a_released_one_until_its_release_time() -> None:
    assert DeviceSlot("d1").held_at(LATER)
    revoked = DeviceSlot("d1", release_at=LATER)
    assert revoked.held_at(NOW)
    assert not revoked.held_at(LATER)
    assert not revoked.held_at(LATER + timedelta(seconds=1))


def test_taking_a_slot_prunes_released_ones_and_appends_the_new_device() -> None:
    slots = DeviceSlots("t1", "u1", (DeviceSlot("old", release_at=NOW), DeviceSlot("d1")), revision=4)
    taken = slots.take("d2", NOW, cap=2)
    assert taken.slots == (DeviceSlot("d1"), DeviceSlot("d2"))
    assert (taken.tenant_id, taken.user_id, taken.revision) == ("t1", "u1", 4)


def test_taking_past_the_cap_is_refused_with_the_limit() -> None:
    slots = DeviceSlots("t1", "u1", (DeviceSlot("d1"), DeviceSlot("d2", release_at=LATER)))
    with pytest.raises(DeviceLimitReached) as raised:
        slots.take("d3", NOW, cap=2)
    assert "2" in str(raised.value)
    assert slots.take("d3", LATER, cap=2).slots == (DeviceSlot("d1"), DeviceSlot("d3"))


def test_a_device_that_already_holds_a_slot_cannot_take_another() -> None:
    slots = DeviceSlots("t1", "u1", (DeviceSlot("d1"),))
    with pytest.raises(InvariantViolated, match="device d1 already holds a slot"):
        slots.take("d1", NOW, cap=5)


def test_a_released_device_may_take_a_slot_again_after_its_release() -> None:
    slots = DeviceSlots("t1", "u1", (DeviceSlot("d1", release_at=NOW),))
    assert slots.take("d1", NOW, cap=1).slots == (DeviceSlot("d1"),)


def test_release_sets_the_time_and_only_ever_moves_it_later() -> None:
    slots = DeviceSlots("t1", "u1", (DeviceSlot("d1"), DeviceSlot("d2")), revision=2)
    released = slots.release("d1", NOW)
    assert released.slots == (DeviceSlot("d1", release_at=NOW), DeviceSlot("d2"))
    assert released.revision == 2
    assert released.release("d1", LATER).slots[0].release_at == LATER
    assert released.release("d1", NOW - timedelta(days=1)).slots[0].release_at == NOW
    assert released.release("d1", NOW).slots[0].release_at == NOW


def test_releasing_a_device_without_a_slot_changes_nothing() -> None:
    slots = DeviceSlots("t1", "u1", (DeviceSlot("d1"),))
    assert slots.release("ghost", NOW) == slots
