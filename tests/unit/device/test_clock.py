"""The anti-rollback clock: setting the device's clock back never moves trusted time back."""

from __future__ import annotations

import pytest

from content_service.device.clock import TrustedClock
from content_service.domain.licence import LicenceExpired, check_licence_use
from tests.unit.device.conftest import DAY, START, FakeTime

WEEK = 7 * DAY


@pytest.fixture
def fake_time() -> FakeTime:
    """These clocks persist through ``Floor``, not files, so a fixed START is safe and exact."""
    return FakeTime(START)


class Floor:
    """Where the floor persists across "reboots" (the sealed state root in the agent; tests/unit/device/test_state.py)."""

    def __init__(self) -> None:
        self.trusted = 0.0
        self.server_time = 0.0
        self.writes = 0

    def floor(self) -> tuple[float, float]:
        return self.trusted, self.server_time

    def raise_floor(self, trusted: float, server_time: float) -> None:
        self.writes += 1
        self.trusted = max(self.trusted, trusted)
        self.server_time = max(self.server_time, server_time)

    def set_floor(self, trusted: float, server_time: float) -> None:
        self.writes += 1
        self.server_time = max(self.server_time, server_time)
        self.trusted = max(trusted, self.server_time)


def clock(floor: Floor, time: FakeTime) -> TrustedClock:
    return TrustedClock(floor, wall=time.time, monotonic=time.monotonic)


def test_the_trusted_clock_follows_the_wall_clock_forward(fake_time: FakeTime) -> None:
    trusted = clock(Floor(), fake_time)
    fake_time.advance(3600)
    assert trusted.now() == START + 3600


def test_setting_the_wall_clock_back_does_not_move_trusted_time_back(fake_time: FakeTime) -> None:
    trusted = clock(Floor(), fake_time)
    fake_time.advance(60)
    before = trusted.now()
    fake_time.wall -= WEEK
    fake_time.mono += 30
    # Monotonic progress still counts, so time keeps moving even with the wall clock behind.
    assert trusted.now() == before + 30


def test_a_reboot_with_the_clock_set_back_starts_from_the_persisted_time(fake_time: FakeTime) -> None:
    path = Floor()
    first = clock(path, fake_time)
    fake_time.advance(2 * DAY)
    seen = first.now()
    fake_time.reboot()
    fake_time.wall -= WEEK
    again = clock(path, fake_time)
    assert again.now() >= seen


def test_a_signed_server_time_raises_the_floor_even_with_the_wall_clock_behind(fake_time: FakeTime) -> None:
    path = Floor()
    trusted = clock(path, fake_time)
    trusted.observe_server_time(START + 10 * DAY)
    assert trusted.now() == START + 10 * DAY
    fake_time.reboot()
    assert clock(path, fake_time).now() >= START + 10 * DAY


def test_a_licence_expired_before_stays_expired_after_the_clock_is_set_back_a_week(
    fake_time: FakeTime,
) -> None:
    claims = {"ver": 1, "device_id": "dev_a", "nbf": START, "exp": START + DAY, "offline_grace": DAY}
    path = Floor()
    trusted = clock(path, fake_time)
    fake_time.advance(3 * DAY)
    with pytest.raises(LicenceExpired):
        check_licence_use(
            claims,
            device_id="dev_a",
            trusted_now=trusted.now_int(),
            online=False,
            last_status_at=None,
            status_interval=3600,
        )
    fake_time.reboot()
    fake_time.wall -= WEEK
    rebooted = clock(path, fake_time)
    assert fake_time.wall < START + DAY, "the wall clock alone would make the licence valid again"
    with pytest.raises(LicenceExpired):
        check_licence_use(
            claims,
            device_id="dev_a",
            trusted_now=rebooted.now_int(),
            online=False,
            last_status_at=None,
            status_interval=3600,
        )


def test_the_floor_never_moves_back_whatever_a_caller_holds(fake_time: FakeTime) -> None:
    floor = Floor()
    ahead = clock(floor, fake_time)
    ahead.observe_server_time(START + 3 * DAY)
    # A second process started before the server time was seen, with the wall clock set back.
    fake_time.wall -= WEEK
    behind = TrustedClock(wall=fake_time.time, monotonic=fake_time.monotonic)
    behind.checkpoint()
    behind.bind(floor)
    assert behind.now() >= START + 3 * DAY
    assert floor.trusted >= START + 3 * DAY


def test_an_unbound_clock_persists_nothing(fake_time: FakeTime) -> None:
    floor = Floor()
    unbound = TrustedClock(wall=fake_time.time, monotonic=fake_time.monotonic)
    fake_time.advance(10)
    unbound.checkpoint()
    assert floor.writes == 0
    unbound.bind(floor)
    unbound.checkpoint()
    assert floor.trusted == START + 10


def test_a_nonce_bound_server_time_corrects_a_wall_clock_set_ahead_but_never_goes_below_it(
    fake_time: FakeTime,
) -> None:
    floor = Floor()
    trusted = clock(floor, fake_time)
    trusted.observe_server_time(START)
    fake_time.wall += 365 * DAY  # the user set the clock a year ahead by mistake
    assert trusted.now() >= START + 365 * DAY
    fake_time.wall -= 365 * DAY  # and back
    trusted.resync(START + 60)
    assert START + 60 <= trusted.now() < START + 120
    assert floor.trusted < START + DAY and floor.server_time == START + 60
    # Only forward for the signed part: an older signed time changes nothing.
    trusted.resync(START)
    assert trusted.last_server_time == START + 60


@pytest.mark.parametrize("reading", [3e11, 1e18, float("inf")])
def test_a_wall_clock_that_reads_no_time_is_ignored_like_one_set_back(reading: float) -> None:
    wall = [START]
    mono = [100.0]
    clock = TrustedClock(wall=lambda: wall[0], monotonic=lambda: mono[0])
    before = clock.now()
    wall[0] = reading
    mono[0] += 5
    assert clock.now() == before + 5, "the monotonic clock carries trusted time on; the reading is ignored"
