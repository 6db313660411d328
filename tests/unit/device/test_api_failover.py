"""The device's API client fails over along its endpoints: which failures move on, and how far."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import urllib3

from content_service.client import ApiError
from content_service.device.errors import Offline
from content_service.device.http import MAX_ENDPOINT_ATTEMPTS, DeviceApi
from content_service.device.sync import enrolment_endpoints
from tests.unit.device.conftest import enroll

PRIMARY = "http://127.0.0.1:1/prod"
SECONDARY = "http://127.0.0.1:2/prod"


def _response(status: int, body: bytes = b'{"ok": true}') -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = "application/json"
    return response


def _refused() -> requests.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


class FakeTransport(requests.Session):
    """Answers by base URL: a status, or an exception to raise; records every call."""

    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__()
        self.answers = answers
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls.append((method, url, dict(kwargs.get("headers") or {})))
        answer = next(a for base, a in self.answers.items() if url.startswith(base))
        if isinstance(answer, Exception):
            raise answer
        return _response(answer)


def _api(transport: FakeTransport, *endpoints: str) -> DeviceApi:
    return DeviceApi(endpoints[0], "token", session=transport, endpoints=tuple(endpoints))


def _bases(transport: FakeTransport) -> list[str]:
    return [url.rsplit("/v1", 1)[0] for _, url, _ in transport.calls]


@pytest.mark.parametrize("failure", [503, 500, 502, 504, requests.ReadTimeout("slow"), _refused()])
def test_a_read_moves_to_the_secondary_on_a_connection_error_or_a_5xx(failure: Any) -> None:
    transport = FakeTransport({PRIMARY: failure, SECONDARY: 200})
    assert _api(transport, PRIMARY, SECONDARY).jwks() == {"ok": True}
    assert _bases(transport) == [PRIMARY, SECONDARY]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429])
def test_a_refusal_is_the_answer_and_is_not_sent_elsewhere(status: int) -> None:
    transport = FakeTransport({PRIMARY: status, SECONDARY: 200})
    with pytest.raises(ApiError) as raised:
        _api(transport, PRIMARY, SECONDARY).jwks()
    assert raised.value.status == status and _bases(transport) == [PRIMARY]


def test_a_post_without_idempotency_key_moves_on_only_when_it_provably_was_not_handled() -> None:
    # 503 (a failed region's gateway) and a refused connection: the request never ran there.
    for failure in (503, _refused()):
        transport = FakeTransport({PRIMARY: failure, SECONDARY: 200})
        assert _api(transport, PRIMARY, SECONDARY).issue_licence("bun_1", "dev_1") == {"ok": True}
        assert _bases(transport) == [PRIMARY, SECONDARY]
    # A read timeout or a 500/504: the primary may have issued it; it is not repeated elsewhere.
    for failure in (requests.ReadTimeout("slow"), 500, 504):
        transport = FakeTransport({PRIMARY: failure, SECONDARY: 200})
        with pytest.raises((Offline, ApiError)):
            _api(transport, PRIMARY, SECONDARY).issue_licence("bun_1", "dev_1")
        assert _bases(transport) == [PRIMARY]


def test_a_post_with_an_idempotency_key_moves_on_after_any_failure() -> None:
    transport = FakeTransport({PRIMARY: requests.ReadTimeout("slow"), SECONDARY: 200})
    api = _api(transport, PRIMARY, SECONDARY)
    api._request("POST", "/v1/bundles", json={}, headers={"Idempotency-Key": "k1"})
    assert _bases(transport) == [PRIMARY, SECONDARY]
    assert transport.calls[1][2]["Idempotency-Key"] == "k1"


def test_every_endpoint_down_is_offline_and_the_attempts_are_bounded() -> None:
    endpoints = [f"http://127.0.0.1:{port}/prod" for port in range(1, 6)]
    transport = FakeTransport({e: _refused() for e in endpoints})
    with pytest.raises(Offline):
        _api(transport, *endpoints).jwks()
    assert _bases(transport) == endpoints[:MAX_ENDPOINT_ATTEMPTS]


def test_every_endpoint_failing_raises_the_last_answer() -> None:
    transport = FakeTransport({PRIMARY: 503, SECONDARY: 502})
    with pytest.raises(ApiError) as raised:
        _api(transport, PRIMARY, SECONDARY).jwks()
    assert raised.value.status == 502


def test_the_primary_is_tried_first_again_on_the_next_call() -> None:
    transport = FakeTransport({PRIMARY: 200, SECONDARY: 200})
    _api(transport, PRIMARY, SECONDARY).jwks()
    assert _bases(transport) == [PRIMARY]


def test_enrolment_keeps_its_own_url_first_and_drops_malformed_endpoints() -> None:
    offered = [PRIMARY + "/", "ftp://x.example/prod", "http://evil.example/prod", SECONDARY, 7]
    assert enrolment_endpoints(PRIMARY, offered) == [PRIMARY, SECONDARY]
    assert enrolment_endpoints(PRIMARY, None) == [PRIMARY]


def test_the_agent_keeps_its_enrolment_endpoints_and_fails_over_to_the_secondary(
    tmp_path: Any, fake_time: Any, service: Any
) -> None:
    # The same fake service under a second stage plays the secondary region (one global table).
    service.stages = (*service.stages, "/secondary")
    secondary = service.base_url + "/secondary"
    service.enrolment_endpoints = [service.api_url, secondary]
    bundle_id = service.add_bundle({"pkg_welcome": {"index.html": b"<p>hi</p>"}})
    agent = enroll(tmp_path / "device", fake_time, service)
    assert agent.parts.state.read()["api_endpoints"] == [service.api_url, secondary]

    service.failed_stages.add("/prod")
    service.stage_requests.clear()
    agent.fetch_licence(bundle_id)  # a POST: the primary's 503 says it never ran there
    agent.download(bundle_id)
    assert agent.verify(bundle_id).files == 1
    assert "/secondary" in service.stage_requests and service.stage_requests[0] == "/prod"

    # A revocation (made in the secondary: the same feed) reaches the device on sync.
    service.revoke_bundle(bundle_id)
    agent.sync_once()
    assert not agent.store.bundle(bundle_id).root.exists()
