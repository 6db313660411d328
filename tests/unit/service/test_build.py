"""Building an uploaded package: built or failed, idempotent on redelivery, never left building."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import pytest

from content_service.crypto import ContainerReader
from content_service.domain.package import DeclaredUpload, PackageState, PlayPackage
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


def test_the_package_records_the_upload_it_declared(env):
    package = uploaded(env, sample_zip_bytes("welcome"))
    declared = env["packages"].get("t1", package.package_id).declared_upload
    assert declared == DeclaredUpload("application/zip", len(sample_zip_bytes("welcome")))


@pytest.mark.parametrize("stored", [b"PK\x03\x04 shorter", sample_zip_bytes("welcome") + b"\0" * 100])
def test_an_upload_of_another_length_than_declared_fails_with_length_mismatch(env, stored):
    package = uploaded(env, sample_zip_bytes("welcome"))
    env["uploads"].put(package.source_key, stored)
    outcome = build(env, package.source_key)
    assert outcome.changed and outcome.package.state is PackageState.FAILED
    assert outcome.package.problem.code == "upload.length_mismatch"
    assert str(len(stored)) in outcome.package.problem.detail
    assert not env["store"].tenants.get("t1") or not env["store"].blobs("t1").blobs


def test_an_upload_of_another_content_type_than_declared_fails_with_content_type_mismatch(env):
    data = sample_zip_bytes("welcome")
    package = uploaded(env, data)
    env["uploads"].put(package.source_key, data, content_type="text/plain")
    outcome = build(env, package.source_key)
    assert outcome.package.state is PackageState.FAILED
    assert outcome.package.problem.code == "upload.content_type_mismatch"
    assert "text/plain" in outcome.package.problem.detail


def test_the_content_type_compares_without_regard_to_case(env):
    data = sample_zip_bytes("welcome")
    package = uploaded(env, data)
    env["uploads"].put(package.source_key, data, content_type="Application/ZIP")
    assert build(env, package.source_key).package.state is PackageState.BUILT


def test_an_upload_replaced_between_head_and_download_fails_with_length_mismatch(env):
    data = sample_zip_bytes("welcome")
    package = uploaded(env, data)
    uploads = env["uploads"]
    real_head = uploads.head

    def head_then_replace(key):
        # The HEAD sees the declared object; a second PUT lands before the GET.
        answer = real_head(key)
        uploads.put(key, data + b"appended")
        return answer

    uploads.head = head_then_replace
    outcome = build(env, package.source_key)
    assert outcome.package.problem.code == "upload.length_mismatch"


def test_a_package_registered_without_a_declaration_is_built_without_the_check(env):
    data = sample_zip_bytes("welcome")
    key = "uploads/t1/pkg_legacy/v1/source.zip"
    env["packages"].add(
        PlayPackage.start_building(
            tenant_id="t1", package_id="pkg_legacy", version=1, source_key=key, now=env["clock"].now()
        )
    )
    env["uploads"].put(key, data, content_type="application/octet-stream")
    assert build(env, key).package.state is PackageState.BUILT


@pytest.mark.parametrize(
    "key",
    [
        "uploads/t1/pkg_nobody/v1/source.zip",  # the shape of an upload key, but no package has it
        "uploads/t1/pkg_x/v1/other.zip",  # not a key this service issues
        "something/else",
    ],
)
def test_a_build_event_for_an_unknown_key_is_dropped_without_a_write(env, key, caplog):
    env["uploads"].put(key, b"whatever")
    with caplog.at_level("WARNING", logger="content_service.service.packages"):
        outcome = build(env, key)
        after_retries = fail_build_after_retries(key, "X", packages=env["packages"], clock=env["clock"])
    assert outcome.package is None and not outcome.changed and outcome.state == "unknown"
    assert after_retries.package is None and not after_retries.changed
    assert env["packages"].writes == 0 and not env["packages"].rows
    assert "dropped a build event" in caplog.text
