"""A device whose API URL is no URL is a configuration error, never "Offline"; an outage stays Offline.

requests raises a URL it cannot use (no scheme, no host, a port out of range, a space) as one of
its ``RequestException``s, which the device's client took for the network being down: the
learner saw "the service cannot be reached" and waited. The URL is checked where the client
takes it (``ApiClient``, ``DeviceApi``, ``HttpStatementSink``), once, with one rule.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from content_service.client import ApiClient, InvalidApiUrl
from content_service.device.agent import DeviceAgent
from content_service.device.errors import Offline
from content_service.device.http import DeviceApi, HttpStatementSink
from content_service.device.store import DeviceStore
from content_service.device.sync import SyncLoop
from tests.unit.cli.test_bad_input import one_line_error, run
from tests.unit.device.conftest import FakeTime, enroll
from tests.unit.device.fake_service import FakeService

INVALID = [
    "notaurl",
    "http://",
    "ftp://x",
    "http://exa mple.org",
    "http://127.0.0.1:70000",
    "http://127.0.0.1:0",
    "http://[::1",
    "http://ex<ample.org",
    # Labels urllib3 cannot encode as it connects (a ValueError there, no network error).
    "http://a..b/",
    "http://" + "a" * 64 + ".example/",
    "http://" + ".".join(["a" * 60] * 5) + "/",
]


class NoNetwork(requests.Session):
    """A session that fails the test if a request is attempted at all."""

    def request(self, *args: object, **kwargs: object) -> requests.Response:  # type: ignore[override]
        raise AssertionError("a request was sent to a URL that is no URL")


@pytest.mark.parametrize("url", INVALID)
def test_a_client_refuses_a_url_no_request_could_be_sent_to(url: str) -> None:
    with pytest.raises(InvalidApiUrl, match="the API URL"):
        ApiClient(url, "token")
    with pytest.raises(InvalidApiUrl, match="the API URL"):
        DeviceApi(url, "token", session=NoNetwork())
    # A failover endpoint is the same configuration.
    with pytest.raises(InvalidApiUrl, match="the API URL"):
        DeviceApi("https://api.example", "token", session=NoNetwork(), endpoints=("https://api.example", url))
    with pytest.raises(InvalidApiUrl, match="the LRS URL"):
        HttpStatementSink(url, session=NoNetwork())


@pytest.mark.parametrize(
    "url", ["https://api.example/prod", "http://127.0.0.1:9", "http://[::1]:8080", "https://bücher.example"]
)
def test_a_usable_url_that_does_not_answer_is_still_offline(url: str) -> None:
    class Down(requests.Session):
        def request(self, *args: object, **kwargs: object) -> requests.Response:  # type: ignore[override]
            raise requests.ConnectionError("down")

    with pytest.raises(Offline):
        DeviceApi(url, "token", session=Down()).jwks()


def _with_api_url(home: Path, url: str) -> None:
    """Point an enrolled device's sealed record and endpoints at ``url`` (an older device's config)."""
    agent = DeviceAgent(DeviceStore(home))
    agent.state.save_record(replace(agent.record, api_url=url))
    agent.state.update(lambda root: root.__setitem__("api_endpoints", [url]))


def test_a_sync_loop_ends_on_a_url_no_tick_can_heal(
    tmp_path: Path, fake_time: FakeTime, service: FakeService
) -> None:
    home = tmp_path / "device"
    enroll(home, fake_time, service)
    _with_api_url(home, "http://exa mple.org")
    errors: list[Exception] = []
    loop = SyncLoop(DeviceAgent(DeviceStore(home)), interval=0.05, on_error=errors.append).start()
    loop.join(10)
    # Ended by itself (it retried Offline for ever), leaving the error to its owner.
    assert not loop.running
    assert errors == [] and isinstance(loop.last_error, InvalidApiUrl)


@pytest.mark.parametrize("url", ["notaurl", "http://", "ftp://x", "http://exa mple.org", "http://127.0.0.1:70000"])
def test_the_cli_reports_a_device_s_invalid_api_url_in_one_line_exit_1(
    url: str, tmp_path: Path, fake_time: FakeTime, service: FakeService
) -> None:
    home = tmp_path / "device"
    enroll(home, fake_time, service)
    _with_api_url(home, url)
    for argv in (["sync"], ["list"], ["sync", "--watch", "--interval", "0.1"]):
        try:
            result = run("device", *argv, "--home", str(home), "--token", service.token)
        except subprocess.TimeoutExpired:  # sync --watch said Offline every tick, for ever
            pytest.fail(f"device {' '.join(argv)} did not stop")
        line = one_line_error(result, 1, f"the API URL {url!r}")
        assert line.startswith(f"content-service device {argv[0]}: ") and "Offline" not in line


def test_the_cli_still_reports_an_unreachable_service_as_offline(
    tmp_path: Path, fake_time: FakeTime, service: FakeService
) -> None:
    home = tmp_path / "device"
    enroll(home, fake_time, service)
    _with_api_url(home, "http://127.0.0.1:9")
    line = one_line_error(run("device", "sync", "--home", str(home), "--token", service.token), 1, "Offline")
    assert line.startswith("content-service device: Offline: ")
