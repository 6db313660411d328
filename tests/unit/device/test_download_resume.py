"""Downloads resume with HTTP Range against a small local Range-capable server, and end on the signed size."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests

from content_service.client import ApiError
from content_service.device.agent import DeviceAgent
from content_service.device.errors import DownloadIncomplete, TamperDetected
from content_service.device.http import fetch_resumable
from tests.unit.device.conftest import FakeTime
from tests.unit.device.fake_service import FakeService

DATA = bytes(range(256)) * 64  # 16 KiB, several chunks


@pytest.fixture
def url(service: FakeService) -> str:
    service.objects["obj.bin"] = DATA
    return f"{service.base_url}/cdn/obj.bin"


def ranges(service: FakeService) -> list[str]:
    return [r["range"] for r in service.cdn_requests]


def test_a_fresh_download_fetches_the_whole_object(tmp_path: Path, service: FakeService, url: str) -> None:
    part = tmp_path / "obj.part"
    seen: list[int] = []
    fetch_resumable(
        requests.Session(), url, part, len(DATA), progress=lambda n, done, total: seen.append(done)
    )
    assert part.read_bytes() == DATA
    assert ranges(service) == [""]
    assert seen[0] == 0 and seen[-1] == len(DATA) and seen == sorted(seen)


def test_a_partial_file_continues_where_it_stopped(tmp_path: Path, service: FakeService, url: str) -> None:
    part = tmp_path / "obj.part"
    part.write_bytes(DATA[:5000])
    fetch_resumable(requests.Session(), url, part, len(DATA))
    assert part.read_bytes() == DATA
    assert ranges(service) == ["bytes=5000-"]


def test_a_dropped_connection_keeps_what_arrived_and_the_next_run_resumes(
    tmp_path: Path, service: FakeService, url: str
) -> None:
    part = tmp_path / "obj.part"
    service.faults.cut_after = 3000
    with pytest.raises(DownloadIncomplete):
        fetch_resumable(requests.Session(), url, part, len(DATA))
    kept = part.stat().st_size
    assert 0 < kept <= 3000 and part.read_bytes() == DATA[:kept]
    fetch_resumable(requests.Session(), url, part, len(DATA))
    assert part.read_bytes() == DATA
    assert ranges(service) == ["", f"bytes={kept}-"]


def test_a_server_that_ignores_the_range_restarts_from_zero(
    tmp_path: Path, service: FakeService, url: str
) -> None:
    part = tmp_path / "obj.part"
    part.write_bytes(DATA[:4000])
    service.faults.ignore_range = True
    fetch_resumable(requests.Session(), url, part, len(DATA))
    assert part.read_bytes() == DATA


def test_a_partial_file_longer_than_the_signed_size_starts_over(
    tmp_path: Path, service: FakeService, url: str
) -> None:
    part = tmp_path / "obj.part"
    part.write_bytes(DATA + b"junk")
    fetch_resumable(requests.Session(), url, part, len(DATA))
    assert part.read_bytes() == DATA
    assert ranges(service) == [""]


def test_a_416_discards_the_partial_file_and_restarts(tmp_path: Path, service: FakeService, url: str) -> None:
    part = tmp_path / "obj.part"
    # The manifest says the object is longer than what the CDN holds; our partial is past its end.
    service.objects["obj.bin"] = DATA[:1000]
    part.write_bytes(b"x" * 2000)
    with pytest.raises(DownloadIncomplete):
        fetch_resumable(requests.Session(), url, part, len(DATA))
    assert ranges(service) == ["bytes=2000-", ""]
    assert part.read_bytes() == DATA[:1000]


def test_bytes_past_the_signed_size_are_never_written(tmp_path: Path, service: FakeService, url: str) -> None:
    part = tmp_path / "obj.part"
    service.faults.extra_bytes = b"appended by someone"
    fetch_resumable(requests.Session(), url, part, len(DATA))
    assert part.read_bytes() == DATA


def test_the_agent_resumes_a_bundle_download_and_verifies_it(
    agent: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    service.faults.cut_after = 700
    service.faults.cut_only = ".cspc"
    with pytest.raises(DownloadIncomplete):
        agent.download(bundle_id)
    partials = list(agent.store.bundle(bundle_id).root.glob("*.part"))
    assert len(partials) == 1 and 0 < partials[0].stat().st_size <= 700
    progress: list[tuple[str, int, int]] = []
    agent.download(bundle_id, progress=lambda *event: progress.append(event))
    assert not list(agent.store.bundle(bundle_id).root.glob("*.part"))
    assert any(r["range"].startswith("bytes=") for r in service.cdn_requests)
    agent.fetch_licence(bundle_id)
    report = agent.verify(bundle_id)
    assert report.packages == 2 and report.files == 5
    assert {name for name, _, _ in progress} == {"pkg_welcome", "pkg_second"}


def test_a_second_download_fetches_nothing_already_complete(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    before = len(service.cdn_requests)
    ready.download(bundle_id)
    # Only the manifest is fetched again: it is small and must be re-verified.
    assert [r["key"].endswith("manifest.jws") for r in service.cdn_requests[before:]] == [True]


def test_a_downloaded_container_with_another_hash_is_tamper_and_reported(
    agent: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    key = service.bundles[bundle_id].packages[0]["container"]["key"]
    data = bytearray(service.objects[key])
    data[100] ^= 0x01
    service.objects[key] = bytes(data)
    with pytest.raises(TamperDetected) as caught:
        agent.download(bundle_id)
    assert caught.value.kind == "container"
    assert [r["kind"] for r in service.tamper_reports] == ["container"]
    assert not list(agent.store.bundle(bundle_id).root.glob("*.part")), "a bad download is not resumed"
    assert hashlib.sha256(data).hexdigest() != service.bundles[bundle_id].packages[0]["container"]["sha256"]


def _cut_mid_container(agent: DeviceAgent, bundle_id: str, service: FakeService) -> None:
    service.faults.cut_after = 700
    service.faults.cut_only = ".cspc"
    with pytest.raises(DownloadIncomplete):
        agent.download(bundle_id)
    assert service.download_requests == 1


def test_a_resume_uses_the_signed_urls_it_holds_while_they_are_valid_even_with_the_api_down(
    agent: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    # Given a download cut mid-container, whose signed URLs are valid for five minutes
    service.download_url_ttl = 300
    _cut_mid_container(agent, bundle_id, service)
    # When the API's region fails and the device resumes a minute later
    service.failed_stages.add("/prod")
    fake_time.advance(60)
    agent.download(bundle_id)
    # Then it resumed from the CDN with the URLs it held, and asked the API for none
    assert service.download_requests == 1
    assert any(r["range"].startswith("bytes=") for r in service.cdn_requests)
    files = agent.store.bundle(bundle_id)
    assert not files.signed_urls.exists(), "a finished download keeps no signed URLs"
    assert not list(files.root.glob("*.part"))


def test_a_resume_after_the_signed_urls_expired_asks_the_api_again(
    agent: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    service.download_url_ttl = 300
    _cut_mid_container(agent, bundle_id, service)
    fake_time.advance(301)
    agent.download(bundle_id)
    assert service.download_requests == 2


def test_a_resume_with_expired_urls_and_the_api_down_fails_without_losing_the_partial(
    agent: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    service.download_url_ttl = 300
    _cut_mid_container(agent, bundle_id, service)
    (partial,) = agent.store.bundle(bundle_id).root.glob("*.part")
    kept = partial.stat().st_size
    service.failed_stages.add("/prod")
    fake_time.advance(301)
    with pytest.raises(ApiError) as refused:
        agent.download(bundle_id)
    assert refused.value.status == 503
    assert partial.stat().st_size == kept


def test_held_urls_the_cdn_refuses_are_asked_for_again_once(
    agent: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    service.download_url_ttl = 300
    _cut_mid_container(agent, bundle_id, service)
    service.faults.refuse_next = 1
    agent.download(bundle_id)
    assert service.download_requests == 2
    assert not list(agent.store.bundle(bundle_id).root.glob("*.part"))
