"""Building in container format version 2: objects shared across a lineage's versions, an index per version."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest

from content_service.crypto.delta import DeltaPackageReader, index_objects, open_index
from content_service.packaging.limits import ImportLimits
from content_service.samples import sample_zip_bytes
from content_service.service.packages import RequestUpload, build_uploaded_package, request_upload
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


def with_media(changed: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(sample_zip_bytes("welcome"))) as base, zipfile.ZipFile(buffer, "w") as out:
        for info in base.infolist():
            out.writestr(info, base.read(info))
        out.writestr("media/a.bin", b"a" * 5000)
        out.writestr("media/b.bin", b"B" * 7000 if changed else b"b" * 7000)
    return buffer.getvalue()


def build_version(env, data: bytes, package_id: str | None = None):
    ticket = request_upload(
        RequestUpload("t1", "u1", "application/zip", len(data), package_id),
        packages=env["packages"],
        uploads=env["uploads"],
        clock=env["clock"],
        limits=LIMITS,
        url_ttl_seconds=900,
    )
    env["uploads"].put(ticket.package.source_key, data)
    return build_uploaded_package(ticket.package.source_key, limits=LIMITS, content_format=2, **env).package


def objects_of(env, package_id: str) -> set[str]:
    prefix = f"tenants/t1/objects/{package_id}/"
    return {key for key in env["containers"].objects if key.startswith(prefix)}


def test_a_format_2_build_stores_one_object_per_file_and_an_index_the_version_key_opens(env):
    package = build_version(env, with_media())
    sealed = package.sealed
    assert sealed.container.format == 2 and sealed.container.key.endswith(".csix")
    assert sealed.container.objects_prefix == f"tenants/t1/objects/{package.package_id}/"
    assert sealed.wrapped_lineage_key is not None
    index = env["containers"].objects[sealed.container.key]
    assert len(index) == sealed.container.size
    key = env["keys"].unwrap(base64.b64decode(sealed.wrapped_key), "t1", package.package_id, 1)
    opened = open_index(index, key)
    assert len(opened.entries) == package.summary.file_count == len(objects_of(env, package.package_id))
    reader = DeltaPackageReader(
        opened,
        lambda e: io.BytesIO(env["containers"].objects[sealed.container.objects_prefix + e.object_name]),
    )
    reader.verify()
    assert reader.read_file("media/b.bin") == b"b" * 7000


def test_the_next_version_reuses_the_lineage_key_and_adds_only_the_changed_files_object(env):
    first = build_version(env, with_media())
    before = objects_of(env, first.package_id)
    second = build_version(env, with_media(changed=True), first.package_id)
    assert second.version == 2
    assert second.sealed.wrapped_lineage_key == first.sealed.wrapped_lineage_key
    added = objects_of(env, first.package_id) - before
    assert len(added) == 1
    listed = {o.name for o in index_objects(env["containers"].objects[second.sealed.container.key])}
    assert listed - {k.rsplit("/", 1)[1] for k in before} == {added.pop().rsplit("/", 1)[1]}
    # Each version has its own content key: version 1's key does not open version 2's index.
    key1 = env["keys"].unwrap(base64.b64decode(first.sealed.wrapped_key), "t1", first.package_id, 1)
    with pytest.raises(Exception, match="key"):
        open_index(env["containers"].objects[second.sealed.container.key], key1)


def test_format_1_builds_are_unchanged(env):
    ticket = request_upload(
        RequestUpload("t1", "u1", "application/zip", len(with_media())),
        packages=env["packages"],
        uploads=env["uploads"],
        clock=env["clock"],
        limits=LIMITS,
        url_ttl_seconds=900,
    )
    env["uploads"].put(ticket.package.source_key, with_media())
    package = build_uploaded_package(ticket.package.source_key, limits=LIMITS, **env).package
    assert package.sealed.container.format == 1 and package.sealed.wrapped_lineage_key is None
    assert package.sealed.container.as_dict().keys() == {"key", "size", "sha256"}
