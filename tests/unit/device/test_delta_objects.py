"""The device's delta fetch: objects it holds are reused (checked by SHA-256), only missing ones are downloaded."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
import requests

from content_service.crypto.delta import object_entry, seal_index, seal_object
from content_service.device.delta import DeltaObjects, check_objects, object_url, objects_dir, open_package
from content_service.device.errors import DownloadIncomplete, TamperDetected
from content_service.device.store import DeviceStore
from tests.unit.device.fake_service import FakeService

LINEAGE = os.urandom(32)
FIRST = "bnd_" + "1" * 32
SECOND = "bnd_" + "2" * 32


class Reports:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def tamper(self, bundle_id: str, kind: str, detail: str, evidence: object = None) -> TamperDetected:
        self.sent.append(detail)
        return TamperDetected(detail, kind=kind, bundle_id=bundle_id)


def version(files: dict[str, bytes], service: FakeService) -> tuple[bytes, bytes]:
    """An index of ``files`` under a fresh version key; the objects go onto the fake CDN."""
    entries = []
    for path, data in files.items():
        out = io.BytesIO()
        sealed = seal_object(
            io.BytesIO(data), LINEAGE, hashlib.sha256(data).hexdigest(), out, segment_size=64
        )
        entry = object_entry(LINEAGE, path, sealed)
        service.objects[f"objects/{entry.object_name}"] = out.getvalue()
        entries.append(entry)
    key = os.urandom(32)
    return seal_index(entries, key, segment_size=64), key


@pytest.fixture
def store(tmp_path: Path) -> DeviceStore:
    return DeviceStore(tmp_path / "device").ensure()


def place(store: DeviceStore, bundle_id: str, index: bytes):
    files = store.bundle_dir(bundle_id)
    files.container("pkg_1", 1).write_bytes(index)
    return files


def fetch(
    store: DeviceStore, service: FakeService, bundle_id: str, index: bytes, reports: Reports | None = None
):
    files = place(store, bundle_id, index)
    delta = DeltaObjects(store, reports or Reports(), session=requests.Session)  # type: ignore[arg-type]
    return files, delta.fetch(bundle_id, files, "pkg_1", 1, f"{service.base_url}/cdn/objects/?Signature=x")


V1 = {f"f{i}.bin": bytes([i]) * 500 for i in range(6)}
V2 = dict(V1, **{"f2.bin": b"new" * 200})


def test_a_first_download_fetches_every_object_and_the_package_opens(
    store: DeviceStore, service: FakeService
) -> None:
    index, key = version(V1, service)
    files, report = fetch(store, service, FIRST, index)
    assert (report.downloaded, report.reused) == (6, 0)
    package = open_package(files, "pkg_1", 1, key)
    package.verify()
    assert package.read_file("f3.bin") == V1["f3.bin"]


def test_the_next_version_downloads_only_the_changed_files_object(
    store: DeviceStore, service: FakeService
) -> None:
    fetch(store, service, FIRST, version(V1, service)[0])
    index, key = version(V2, service)
    service.cdn_requests.clear()
    files, report = fetch(store, service, SECOND, index)
    assert (report.downloaded, report.reused) == (1, 5)
    assert len(service.cdn_requests) == 1
    assert open_package(files, "pkg_1", 1, key).read_file("f2.bin") == V2["f2.bin"]
    # Reused objects are links of the first bundle's: removing it leaves the second whole.
    store.remove_bundle(FIRST)
    open_package(files, "pkg_1", 1, key).verify()


def test_an_altered_object_in_another_bundle_is_not_reused(store: DeviceStore, service: FakeService) -> None:
    first, _ = fetch(store, service, FIRST, version(V1, service)[0])
    victim = next(objects_dir(first).iterdir())
    victim.write_bytes(b"\x00" + victim.read_bytes()[1:])
    service.cdn_requests.clear()
    _, report = fetch(store, service, SECOND, version(V1, service)[0])
    assert (report.downloaded, report.reused) == (1, 5)
    assert service.cdn_requests[0]["key"] == f"objects/{victim.name}"


def test_an_object_the_cdn_serves_with_other_bytes_is_tamper_and_not_kept(
    store: DeviceStore, service: FakeService
) -> None:
    index, _ = version({"a.bin": b"a" * 300}, service)
    name = next(k for k in service.objects if k.startswith("objects/"))
    service.objects[name] = b"\x01" + service.objects[name][1:]
    reports = Reports()
    with pytest.raises(TamperDetected):
        fetch(store, service, FIRST, index, reports)
    assert len(reports.sent) == 1
    assert list(objects_dir(store.bundle(FIRST)).iterdir()) == []


def test_an_object_partial_edited_on_disk_is_fetched_again_not_reported(
    store: DeviceStore, service: FakeService
) -> None:
    index, key = version({"a.bin": b"a" * 300}, service)
    name = next(k for k in service.objects if k.startswith("objects/"))
    folder = objects_dir(place(store, FIRST, index))
    folder.mkdir()
    # A partial object left by an earlier run, then edited by the learner (or torn by a crash).
    (folder / (name.removeprefix("objects/") + ".part")).write_bytes(b"\xff" * 40)
    reports = Reports()
    files, report = fetch(store, service, FIRST, index, reports)
    assert reports.sent == [] and report.downloaded == 1
    open_package(files, "pkg_1", 1, key).verify()


def test_a_missing_or_altered_object_is_caught_before_mounting(
    store: DeviceStore, service: FakeService
) -> None:
    files, _ = fetch(store, service, FIRST, version(V1, service)[0])
    check_objects(Reports(), FIRST, files, "pkg_1", 1)  # type: ignore[arg-type]
    victim = next(objects_dir(files).iterdir())
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    with pytest.raises(TamperDetected):
        check_objects(Reports(), FIRST, files, "pkg_1", 1)  # type: ignore[arg-type]
    victim.unlink()
    with pytest.raises(DownloadIncomplete):
        check_objects(Reports(), FIRST, files, "pkg_1", 1)  # type: ignore[arg-type]


def test_without_an_objects_url_a_missing_object_is_an_incomplete_download(
    store: DeviceStore, service: FakeService
) -> None:
    files = place(store, FIRST, version(V1, service)[0])
    with pytest.raises(DownloadIncomplete):
        DeltaObjects(store, Reports(), session=requests.Session).fetch(FIRST, files, "pkg_1", 1, None)  # type: ignore[arg-type]


def test_an_object_url_keeps_the_signed_query_and_appends_the_name() -> None:
    signed = "https://cdn.example/tenants/t/objects/pkg/?Policy=p&Signature=s&Key-Pair-Id=K"
    assert (
        object_url(signed, "ab.csob")
        == "https://cdn.example/tenants/t/objects/pkg/ab.csob?Policy=p&Signature=s&Key-Pair-Id=K"
    )
