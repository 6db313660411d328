"""Parallel enrolments for one user against the moto SERVER (real HTTP, threads) end at the cap.

This is the race that count-then-put lost (twelve parallel enrolments made eleven devices
against a cap of five): here every enrolment is a transaction conditional on the slots
record's revision, so however the requests interleave, exactly ``device_cap`` devices exist.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from content_service.adapters.entities import DynamoDeviceRepository
from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.domain.device import DeviceLimitReached
from content_service.domain.device_slots import DeviceSlotsChanged
from content_service.local.moto_server import MotoServer
from content_service.local.resources import create_resources
from content_service.local.template import load_local_template
from content_service.service.devices import enroll_device, jittered_pause
from content_service.settings import Settings
from tests.fakes import FakeClock

ROOT = Path(__file__).parents[3]
PARALLEL = 20


@pytest.fixture
def table_on_moto_server(moto_server: MotoServer) -> str:
    template = load_local_template(ROOT / "template.yaml")
    create_resources(template)
    return template.tables["Table"].name


def test_twenty_parallel_enrolments_for_one_user_end_with_exactly_the_cap(table_on_moto_server):
    cap = Settings().device_cap
    clock = FakeClock()
    keys = [device_public_jwk(generate_device_key()) for _ in range(PARALLEL)]
    start = threading.Barrier(PARALLEL)
    outcomes: list[str] = []
    crashes: list[BaseException] = []
    lost_races: list[int] = []
    lock = threading.Lock()

    def pause(attempt: int) -> None:
        with lock:
            lost_races.append(attempt)
        jittered_pause(attempt)

    def enrol(key: dict[str, str]) -> None:
        # Each thread has its own repository (its own HTTP connections), as parallel Lambdas would.
        devices = DynamoDeviceRepository(table_on_moto_server, "eu-west-1")
        start.wait()
        try:
            enroll_device("t1", "u1", key, "phone", devices=devices, clock=clock, device_cap=cap, pause=pause)
            outcome = "enrolled"
        except DeviceLimitReached:
            outcome = "limit"
        except DeviceSlotsChanged:
            outcome = "gave up"
        except BaseException as error:  # noqa: BLE001 (a crashed thread must fail the test, not vanish)
            with lock:
                crashes.append(error)
            return
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=enrol, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not crashes, crashes
    # The enrolments really raced: some lost the revision check and went round again.
    assert lost_races, "no enrolment lost a race, so the test did not exercise one"
    assert sorted(outcomes) == sorted(["enrolled"] * cap + ["limit"] * (PARALLEL - cap))
    devices = DynamoDeviceRepository(table_on_moto_server, "eu-west-1")
    stored = devices.list_for_user("t1", "u1", None, 100).items
    slots = devices.slots("t1", "u1")
    assert len(stored) == cap
    # The counter agrees with the device items: one held slot per stored device, no more.
    assert sorted(s.device_id for s in slots.slots) == sorted(d.device_id for d in stored)
    assert all(s.release_at is None for s in slots.slots)
    assert slots.revision == cap
