"""The anti-rollback clock: setting the device's clock back never moves trusted time back."""

from __future__ import annotations

from pathlib import Path

import pytest

from content_service.device.clock import TrustedClock
from content_service.domain.licence import LicenceExpired, check_licence_use
from tests.unit.device.conftest import DAY, START, FakeTime

WEEK = 7 * DAY


def clock(path: Path, time: FakeTime) -> TrustedClock:
    return TrustedClock(path, wall=time.time, monotonic=time.monotonic)


def test_the_trusted_clock_follows_the_wall_clock_forward(tmp_path: Path, fake_time: FakeTime) -> None:
    trusted = clock(tmp_path / "clock.json", fake_time)
    fake_time.advance(3600)
    assert trusted.now() == START + 3600


def test_setting_the_wall_clock_back_does_not_move_trusted_time_back(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    trusted = clock(tmp_path / "clock.json", fake_time)
    fake_time.advance(60)
    before = trusted.now()
    fake_time.wall -= WEEK
    fake_time.mono += 30
    # Monotonic progress still counts, so time keeps moving even with the wall clock behind.
    assert trusted.now() == before + 30


def test_a_reboot_with_the_clock_set_back_starts_from_the_persisted_time(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    path = tmp_path / "clock.json"
    first = clock(path, fake_time)
    fake_time.advance(2 * DAY)
    seen = first.now()
    fake_time.reboot()
    fake_time.wall -= WEEK
    again = clock(path, fake_time)
    assert again.now() >= seen


def test_a_signed_server_time_raises_the_floor_even_with_the_wall_clock_behind(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    path = tmp_path / "clock.json"
    trusted = clock(path, fake_time)
    trusted.observe_server_time(START + 10 * DAY)
    assert trusted.now() == START + 10 * DAY
    fake_time.reboot()
    assert clock(path, fake_time).now() >= START + 10 * DAY


def test_a_licence_expired_before_stays_expired_after_the_clock_is_set_back_a_week(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    claims = {"ver": 1, "device_id": "dev_a", "nbf": START, "exp": START + DAY, "offline_grace": DAY}
    path = tmp_path / "clock.json"
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


def test_a_damaged_clock_file_does_not_reset_the_floor_to_the_wall_clock(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    import os

    path = tmp_path / "clock.json"
    path.write_text("{not json")
    os.utime(path, (START + 5 * DAY, START + 5 * DAY))
    assert clock(path, fake_time).now() >= START + 5 * DAY


def test_the_clock_file_is_private(tmp_path: Path, fake_time: FakeTime) -> None:
    trusted = clock(tmp_path / "clock.json", fake_time)
    trusted.checkpoint()
    assert (tmp_path / "clock.json").stat().st_mode & 0o777 == 0o600


def test_the_clock_says_whether_its_record_was_read_back(tmp_path: Path, fake_time: FakeTime) -> None:
    path = tmp_path / "clock.json"
    first = clock(path, fake_time)
    assert first.restored is False
    first.checkpoint()
    assert clock(path, fake_time).restored is True
    path.write_text("[]")
    assert clock(path, fake_time).restored is False
