"""Building an uploaded package: built or failed, idempotent on redelivery, never left building."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import pytest

from content_service.crypto import ContainerReader
from content_service.domain.package import PackageState
from content_service.packaging.limits import ImportLimits
from content_service.samples import sample_zip_bytes
from content_service.service.packages import (
    RequestUpload,
    build_uploaded_package,
    fail_abandoned_builds,
    fail_build_after_retries,
    request_upload,
)
from tests.fakes import (
    FakeBundleStore,
    FakeClock,
    FakeContentKeys,
    FakePackageRepository,
    FakePackageStore,
    FakeUploadStore,
)

LIMITS = ImportLimits()


@pytest.fixture
def env(tmp_path):
    return {
        "packages": FakePackageRepository(),
        "uploads": FakeUploadStore(tmp_path),
        "store": FakePackageStore(),
        "keys": FakeContentKeys(),
        "containers": FakeBundleStore(),
        "clock": FakeClock(),
    }


def uploaded(env, data: bytes, tenant: str = "t1"):
    ticket = request_upload(
        RequestUpload(tenant, "u1", "application/zip", len(data)),
        packages=env["packages"],
        uploads=env["uploads"],
        clock=env["clock"],
        limits=LIMITS,
        url_ttl_seconds=900,
    )
    env["uploads"].put(ticket.package.source_key, data)
    return ticket.package


def build(env, key):
    return build_uploaded_package(key, limits=LIMITS, **env)


def test_the_sample_package_builds_with_every_file_hashed_and_stored(env):
    package = uploaded(env, sample_zip_bytes("welcome"))
    outcome = build(env, package.source_key)
    assert outcome.changed and outcome.package.state is PackageState.BUILT
    manifest = env["store"].get_manifest("t1", package.package_id, 1)
    blobs = env["store"].blobs("t1").blobs
    with zipfile.ZipFile(io.BytesIO(sample_zip_bytes("welcome"))) as archive:
        expected = {
            i.filename: hashlib.sha256(archive.read(i)).hexdigest()
            for i in archive.infolist()
            if not i.is_dir()
        }
    assert {f.path: f.sha256 for f in manifest.files} == expected
    assert all(hashlib.sha256(blobs[f.sha256]).hexdigest() == f.sha256 for f in manifest.files)
    assert outcome.package.summary.content_hash == manifest.content_hash


def test_a_built_package_has_its_container_sealed_with_its_own_wrapped_key(env):
    package = uploaded(env, sample_zip_bytes("welcome"))
    built = build(env, package.source_key).package
    sealed = built.sealed
    container = env["containers"].objects[sealed.container.key]
    assert len(container) == sealed.container.size
    assert hashlib.sha256(container).hexdigest() == sealed.container.sha256
    key = env["keys"].unwrap(base64.b64decode(sealed.wrapped_key), "t1", package.package_id, 1)
    reader = ContainerReader(io.BytesIO(container), key)
    manifest = env["store"].get_manifest("t1", package.package_id, 1)
    assert {e.path: e.sha256 for e in reader.files()} == {f.path: f.sha256 for f in manifest.files}


def test_a_redelivered_upload_event_changes_nothing(env):
    package = uploaded(env, sample_zip_bytes("welcome"))
    first = build(env, package.source_key)
    writes = env["packages"].writes
    again = build(env, package.source_key)
    assert not again.changed
    assert again.package == first.package
    assert env["packages"].writes == writes
    assert len(env["packages"].rows) == 1


def test_a_hostile_zip_fails_the_package_with_the_sandbox_problem(env):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "playpackage.json", '{"format": "playpackage/1", "title": "x", "entry": "index.html"}'
        )
        archive.writestr("index.html", "<p>hi</p>")
        archive.writestr("../../evil.sh", "rm -rf /")
    package = uploaded(env, buffer.getvalue())
    outcome = build(env, package.source_key)
    assert outcome.package.state is PackageState.FAILED
    assert outcome.package.problem.code.startswith("zip.")
    assert env["store"].tenants.get("t1") is None or not env["store"].blobs("t1").blobs


def test_a_build_that_crashed_on_its_last_attempt_fails_the_package(env):
    package = uploaded(env, b"irrelevant")
    outcome = fail_build_after_retries(
        package.source_key, "MemoryError", packages=env["packages"], clock=env["clock"]
    )
    assert outcome.package.state is PackageState.FAILED
    assert outcome.package.problem.code == "build.crashed"


def test_the_sweep_fails_only_packages_building_past_the_timeout(env):
    stale = uploaded(env, b"never built")
    env["clock"].advance(3000)
    fresh = uploaded(env, b"just arrived")
    env["clock"].advance(700)
    failed = fail_abandoned_builds(packages=env["packages"], clock=env["clock"], build_timeout_seconds=3600)
    assert [p.package_id for p in failed] == [stale.package_id]
    assert env["packages"].get("t1", stale.package_id).problem.code == "build.abandoned"
    assert env["packages"].get("t1", fresh.package_id).state is PackageState.BUILDING


def test_an_upload_over_the_limit_at_download_fails_the_package(env):
    package = uploaded(env, sample_zip_bytes("welcome"))
    outcome = build_uploaded_package(package.source_key, limits=ImportLimits(max_upload_bytes=10), **env)
    assert outcome.package.state is PackageState.FAILED
    assert outcome.package.problem.code == "upload.too_large"
