"""Fixtures for the device agent's unit tests: an injected clock, the fake service, agents."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from content_service.client import ApiClient
from content_service.device.agent import DeviceAgent
from content_service.device.store import DeviceStore
from tests.unit.device.fake_service import FakeService

#: A fixed instant for tests that never touch the file system's clock (test_clock.py).
START = float(int(time.time()))
DAY = 86_400.0
WELCOME = {
    "index.html": b"<!doctype html><title>Welcome</title><p>Hello, learner.</p>",
    "images/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>" * 40,
    "empty.txt": b"",
    "big.bin": bytes(range(256)) * 12,
}


class FakeTime:
    """The device's wall clock (which its user can set) and its monotonic clock (which they cannot)."""

    def __init__(self, start: float = START) -> None:
        self.wall = start
        self.mono = 10_000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        """Real time passes: both clocks move."""
        self.wall += seconds
        self.mono += seconds

    def reboot(self) -> None:
        """A reboot restarts the monotonic clock from an arbitrary point."""
        self.mono = 5.0


class Airplane(requests.Session):
    """A session in airplane mode: every request fails as if no network were there."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        raise requests.ConnectionError("airplane mode")


@pytest.fixture
def fake_time() -> FakeTime:
    # Each test's fake time starts at the real time of that test, not of this module's import:
    # the device takes file modification times (real) as its clock floor while its state root is
    # missing (as during enrolment), and a fake clock started 20 minutes earlier in a long run
    # would judge 5-minute signed URLs already expired.
    return FakeTime(float(int(time.time())))


@pytest.fixture
def service(fake_time: FakeTime) -> Iterator[FakeService]:
    running = FakeService(now=fake_time.time).start()
    yield running
    running.stop()


def make_agent(
    home: Path, fake_time: FakeTime, session: requests.Session | None = None, **kwargs: Any
) -> DeviceAgent:
    store = DeviceStore(home).ensure()
    return DeviceAgent(
        store,
        wall=fake_time.time,
        monotonic=fake_time.monotonic,
        session=session or requests.Session(),
        **kwargs,
    )


def enroll(home: Path, fake_time: FakeTime, service: FakeService, **kwargs: Any) -> DeviceAgent:
    agent = make_agent(home, fake_time, **kwargs)
    agent.enroll(ApiClient(service.api_url, service.token), "test device")
    return agent


@pytest.fixture
def agent(tmp_path: Path, fake_time: FakeTime, service: FakeService) -> DeviceAgent:
    return enroll(tmp_path / "device", fake_time, service)


@pytest.fixture
def bundle_id(service: FakeService) -> str:
    return service.add_bundle({"pkg_welcome": WELCOME, "pkg_second": {"a.txt": b"second package"}})


@pytest.fixture
def ready(agent: DeviceAgent, bundle_id: str) -> DeviceAgent:
    """An enrolled agent holding a downloaded, licensed bundle (``bundle_id``)."""
    agent.download(bundle_id)
    agent.fetch_licence(bundle_id)
    return agent


def statement(n: int) -> dict[str, Any]:
    """An xAPI statement numbered ``n`` (the hostile-disk tests queue many)."""
    return {"actor": {"mbox": "mailto:l@example.com"}, "verb": {"id": f"urn:verb:{n}"}, "object": {"id": "urn:x"}}


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes, to show that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
