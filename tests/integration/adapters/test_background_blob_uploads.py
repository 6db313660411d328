"""A build's files go to S3 from a pool of threads, bounded, with the outcome one upload at a time gave.

moto in process; the requests are watched through botocore's event hooks on the client the store
uses, so what is counted is what S3 would have received.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from content_service.adapters import s3 as s3_module
from content_service.adapters.background_uploads import BackgroundUploads
from content_service.adapters.s3 import S3BundleStore, S3PackageStore, S3TenantBlobs, s3_client
from content_service.domain.package import PackageState
from content_service.packaging.containers import build_and_seal
from content_service.packaging.delta import build_and_seal_objects
from content_service.packaging.limits import ImportLimits
from content_service.packaging.media_types import media_type
from content_service.packaging.model import PackageRejected
from content_service.service.packages import build_uploaded_package
from tests.fakes import (
    FakeBlobs,
    FakeBundleStore,
    FakeClock,
    FakeContentKeys,
    FakeContentObjects,
    FakePackageRepository,
    FakeUploadStore,
)
from tests.security.hostile import package
from tests.unit.service.test_build import uploaded
from tests.zipcraft import Entry

LIMITS = ImportLimits()
KEY = bytes(range(32))
#: Long enough for the sealer to get ahead of the uploads, short enough for a quick test.
DELAY = 0.05


@pytest.fixture
def s3(aws_template) -> tuple[Any, str]:
    return s3_client("eu-west-1"), aws_template.buckets["PackagesBucket"].name


class Watch:
    """Counts the PutObject requests a client makes, at once and in all, optionally slowed down."""

    def __init__(self, client: Any, delay: float = 0.0, on_put: Any = None) -> None:
        self._lock = threading.Lock()
        self._delay = delay
        self._on_put = on_put
        self.in_flight = 0
        self.most_at_once = 0
        self.keys: list[str] = []
        client.meta.events.register("before-parameter-build.s3.PutObject", self._before)
        client.meta.events.register("after-call.s3.PutObject", self._after)
        client.meta.events.register("after-call-error.s3.PutObject", self._after)

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
            self.keys.append(params["Key"])
        if self._on_put is not None:
            self._on_put(params)
        time.sleep(self._delay)

    def _after(self, **_: Any) -> None:
        with self._lock:
            self.in_flight -= 1


def _entries(count: int, prefix: str = "assets/f") -> list[Entry]:
    return [Entry(f"{prefix}{n:02d}.bin", os.urandom(1000 + 97 * n)) for n in range(count)]


def _zip(tmp_path: Path, entries: list[Entry]) -> Path:
    path = tmp_path / "package.zip"
    path.write_bytes(package(*entries))
    return path


def _build(tmp_path: Path, source: Path, store: Any, name: str = "work") -> Path:
    workdir = tmp_path / name
    workdir.mkdir()
    build_and_seal(source, LIMITS, store, lambda: KEY, tmp_path / f"{name}.cspc", workdir=workdir, workers=2)
    return workdir


def _stored(client: Any, bucket: str, tenant: str) -> dict[str, tuple[bytes, str, dict[str, str]]]:
    """Every blob of a tenant: its SHA-256 -> (bytes, ContentType, Metadata)."""
    prefix = f"tenants/{tenant}/blobs/sha256/"
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    found = {}
    for item in listed:
        got = client.get_object(Bucket=bucket, Key=item["Key"])
        found[item["Key"][len(prefix) :]] = (got["Body"].read(), got["ContentType"], got["Metadata"])
    return found


class _StreamOnly:
    """The same store seen through ``put`` alone: the build streams every file to it, one at a time."""

    def __init__(self, blobs: S3TenantBlobs) -> None:
        self.put = blobs.put


def test_uploads_overlap_as_far_as_the_pool_allows(s3, tmp_path: Path) -> None:
    client, bucket = s3
    watch = Watch(client, delay=DELAY)
    source = _zip(tmp_path, _entries(10))
    _build(tmp_path, source, S3TenantBlobs(client, bucket, "t1", uploads=BackgroundUploads(threads=4)))
    assert len(watch.keys) == 12  # the ten files, the descriptor and index.html
    assert 1 < watch.most_at_once <= 4


def test_a_build_makes_one_transfer_manager_and_shuts_it_down_when_its_uploads_are_done(
    s3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, bucket = s3
    made: list[Any] = []

    def create(*args: Any, **kwargs: Any) -> Any:
        manager = real_create(*args, **kwargs)
        shutdown = manager.shutdown

        def watched_shutdown(*a: Any, **k: Any) -> Any:
            manager.was_shut_down = True
            return shutdown(*a, **k)

        manager.was_shut_down = False
        manager.shutdown = watched_shutdown
        made.append(manager)
        return manager

    real_create = s3_module.create_transfer_manager
    monkeypatch.setattr(s3_module, "create_transfer_manager", create)
    blobs = S3TenantBlobs(client, bucket, "t1", uploads=BackgroundUploads(threads=3))
    _build(tmp_path, _zip(tmp_path, _entries(8)), blobs, "first")
    assert len(made) == 1 and made[0].was_shut_down
    assert made[0].config.max_concurrency == 3 * s3_module.PARTS_AT_ONCE
    # The same store takes the next build's files with a manager of their own.
    _build(tmp_path, _zip(tmp_path, _entries(3, "other/g")), blobs, "second")
    assert len(made) == 2 and made[1].was_shut_down


def test_the_stored_objects_are_the_ones_put_stores_one_at_a_time(s3, tmp_path: Path) -> None:
    client, bucket = s3
    entries = _entries(6)
    source = _zip(tmp_path, entries)
    _build(tmp_path, source, _StreamOnly(S3TenantBlobs(client, bucket, "serial")), "serial")
    workdir = _build(tmp_path, source, S3TenantBlobs(client, bucket, "background"), "background")

    background = _stored(client, bucket, "background")
    assert background == _stored(client, bucket, "serial")
    for entry in entries:
        data = entry.data
        digest = hashlib.sha256(data).hexdigest()
        metadata = {"sha256": digest, "size": str(len(data))}
        assert background[digest] == (data, media_type(str(entry.name)), metadata)
    assert len(background) == len(entries) + 2
    assert list(workdir.iterdir()) == []  # no spool and no staged file left


def test_a_blob_already_stored_or_twice_in_the_package_is_uploaded_once(s3, tmp_path: Path) -> None:
    client, bucket = s3
    blobs = S3TenantBlobs(client, bucket, "t1", uploads=BackgroundUploads(threads=4))
    stored, twice = os.urandom(5000), os.urandom(7000)
    digest = hashlib.sha256(stored).hexdigest()
    client.put_object(Bucket=bucket, Key=blobs.key(digest), Body=stored)
    watch = Watch(client, delay=DELAY)
    entries = [Entry("a/stored.bin", stored), Entry("a/twice-1.bin", twice), Entry("a/twice-2.bin", twice)]
    _build(tmp_path, _zip(tmp_path, entries), blobs)

    assert blobs.key(digest) not in watch.keys
    assert watch.keys.count(blobs.key(hashlib.sha256(twice).hexdigest())) == 1
    assert len(watch.keys) == len(set(watch.keys)) == 3  # "twice", the descriptor and index.html


@pytest.mark.parametrize("operation", ["HeadObject", "PutObject"])
def test_an_upload_error_fails_the_build_with_that_error_and_leaves_no_staged_file(
    s3, tmp_path: Path, operation: str
) -> None:
    client, bucket = s3
    entries = _entries(10)
    failing = S3TenantBlobs(client, bucket, "t1").key(hashlib.sha256(entries[3].data).hexdigest())
    boom = ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, operation)

    def fail(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == failing:
            raise boom

    client.meta.events.register(f"before-parameter-build.s3.{operation}", fail)
    Watch(client, delay=DELAY)
    workdir = tmp_path / "work"
    workdir.mkdir()
    blobs = S3TenantBlobs(client, bucket, "t1", uploads=BackgroundUploads(threads=2))
    with pytest.raises(ClientError) as raised:
        build_and_seal(_zip(tmp_path, entries), LIMITS, blobs, lambda: KEY, tmp_path / "c", workdir=workdir)
    assert raised.value is boom  # the request's own error, as the serial put raised it
    assert list(workdir.iterdir()) == []


def test_a_package_refused_while_uploads_are_pending_leaves_no_staged_file(s3, tmp_path: Path) -> None:
    client, bucket = s3
    watch = Watch(client, delay=DELAY)
    entries = [*_entries(8), Entry("assets/bad.bin", os.urandom(3000), declared_crc=1234)]
    workdir = tmp_path / "work"
    workdir.mkdir()
    blobs = S3TenantBlobs(client, bucket, "t1", uploads=BackgroundUploads(threads=2))
    with pytest.raises(PackageRejected) as refused:
        build_and_seal(_zip(tmp_path, entries), LIMITS, blobs, lambda: KEY, tmp_path / "c", workdir=workdir)
    assert refused.value.problems[0].code == "zip.crc_mismatch"
    assert list(workdir.iterdir()) == []
    assert watch.in_flight == 0  # nothing still uploading once the build has returned


def test_never_more_files_are_staged_than_the_bound(s3, tmp_path: Path) -> None:
    client, bucket = s3
    workdir = tmp_path / "work"
    seen: list[int] = []

    def count_staged(params: dict[str, Any]) -> None:
        seen.append(sum(1 for staging in workdir.glob("uploads-*") for _ in staging.iterdir()))

    Watch(client, delay=DELAY, on_put=count_staged)
    blobs = S3TenantBlobs(client, bucket, "t1", uploads=BackgroundUploads(threads=2, staged=3))
    workdir.mkdir()
    build_and_seal(_zip(tmp_path, _entries(14)), LIMITS, blobs, lambda: KEY, tmp_path / "c", workdir=workdir)
    assert len(seen) == 16
    assert max(seen) == 3  # the sealer got ahead of the uploads, and then waited
    assert list(workdir.iterdir()) == []


def test_the_delta_build_finishes_the_uploads_before_it_returns(s3, tmp_path: Path) -> None:
    client, bucket = s3
    watch = Watch(client, delay=DELAY)
    entries = _entries(6)
    workdir = tmp_path / "work"
    workdir.mkdir()
    blobs = S3TenantBlobs(client, bucket, "t1", uploads=BackgroundUploads(threads=3))
    build_and_seal_objects(
        _zip(tmp_path, entries),
        LIMITS,
        blobs,
        lambda: KEY,
        lambda: bytes(range(32, 64)),
        FakeContentObjects({}, ""),
        tmp_path / "i.csix",
        workdir=workdir,
    )
    assert watch.in_flight == 0 and len(watch.keys) == len(entries) + 2
    assert len(_stored(client, bucket, "t1")) == len(entries) + 2
    assert list(workdir.iterdir()) == []


def _delta_build(tmp_path: Path, source: Path, objects: Any, name: str) -> None:
    workdir = tmp_path / name
    workdir.mkdir()
    lineage = bytes(range(32, 64))
    build_and_seal_objects(
        source,
        LIMITS,
        FakeBlobs(),
        lambda: KEY,
        lambda: lineage,
        objects,
        tmp_path / f"{name}.csix",
        workdir=workdir,
    )
    assert list(workdir.iterdir()) == []  # no spool, no object and no staged file left


def test_the_delta_builds_file_objects_are_uploaded_in_the_background_each_once(
    aws_template, tmp_path: Path
) -> None:
    client, bucket = s3_client("eu-west-1"), aws_template.buckets["BundlesBucket"].name
    store = S3BundleStore(client, bucket, upload_threads=3)
    prefix = store.objects_prefix("t1", "p1")
    watch = Watch(client, delay=DELAY)
    entries = _entries(8)
    source = _zip(tmp_path, entries)
    _delta_build(tmp_path, source, store.content_objects("t1", "p1"), "first")

    assert len(watch.keys) == len(entries) + 2 and all(key.startswith(prefix) for key in watch.keys)
    assert 1 < watch.most_at_once <= 3
    assert watch.in_flight == 0  # every object was stored when the build returned
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted(watch.keys)
    # The next version holds the same files: the lineage has every object, none is sent again.
    _delta_build(tmp_path, source, store.content_objects("t1", "p1"), "second")
    assert len(watch.keys) == len(entries) + 2


def test_a_failed_object_upload_fails_the_delta_build_with_its_error(aws_template, tmp_path: Path) -> None:
    client, bucket = s3_client("eu-west-1"), aws_template.buckets["BundlesBucket"].name
    boom = ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "PutObject")
    calls = []

    def fail(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["Key"])
        if len(calls) == 3:
            raise boom

    client.meta.events.register("before-parameter-build.s3.PutObject", fail)
    objects = S3BundleStore(client, bucket, upload_threads=2).content_objects("t1", "p1")
    with pytest.raises(ClientError) as raised:
        _delta_build(tmp_path, _zip(tmp_path, _entries(8)), objects, "work")
    assert raised.value is boom
    assert list((tmp_path / "work").iterdir()) == []


@pytest.fixture
def service(s3, tmp_path: Path) -> dict[str, Any]:
    client, bucket = s3
    return {
        "packages": FakePackageRepository(),
        "uploads": FakeUploadStore(tmp_path / "uploads"),
        "store": S3PackageStore(client, bucket, upload_threads=4),
        "keys": FakeContentKeys(),
        "containers": FakeBundleStore(),
        "clock": FakeClock(),
    }


def test_the_manifest_is_written_only_once_every_blob_is_stored(s3, service, tmp_path: Path) -> None:
    client, bucket = s3
    entries = _entries(8)
    blobs_at_manifest: list[int] = []

    def on_put(params: dict[str, Any]) -> None:
        if params["Key"].endswith("/manifest.json"):
            listed = client.list_objects_v2(Bucket=bucket, Prefix="tenants/t1/blobs/")
            blobs_at_manifest.append(listed.get("KeyCount", 0))

    watch = Watch(client, delay=DELAY, on_put=on_put)
    key = uploaded(service, package(*entries)).source_key
    outcome = build_uploaded_package(key, limits=LIMITS, **service)
    assert outcome.package is not None and outcome.package.state is PackageState.BUILT
    assert blobs_at_manifest == [len(entries) + 2]
    assert 1 < watch.most_at_once <= 4  # the store's upload_threads


def test_an_upload_error_leaves_the_package_building_with_no_manifest(s3, service, tmp_path: Path) -> None:
    client, bucket = s3
    boom = ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "HeadObject")

    def fail(params: dict[str, Any], **_: Any) -> None:
        if "/blobs/" in params["Key"]:
            raise boom

    client.meta.events.register("before-parameter-build.s3.HeadObject", fail)
    key = uploaded(service, package(*_entries(4))).source_key
    with pytest.raises(ClientError) as raised:
        build_uploaded_package(key, limits=LIMITS, **service)
    assert raised.value is boom  # so the delivery is retried
    package_ = service["packages"].get("t1", key.split("/")[2])
    assert package_.state is PackageState.BUILDING
    listed = client.list_objects_v2(Bucket=bucket, Prefix="tenants/t1/packages/")
    assert listed.get("KeyCount", 0) == 0
