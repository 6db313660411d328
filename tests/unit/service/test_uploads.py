"""Requesting an upload: a new package version in building, and a presigned PUT that fits the limits."""

from __future__ import annotations

import pytest

from content_service.domain.errors import NotFound, PayloadTooLarge, ValidationFailed
from content_service.domain.package import PackageState
from content_service.packaging.limits import ImportLimits
from content_service.service.packages import RequestUpload, UploadKey, request_upload, upload_key
from tests.fakes import FakeClock, FakePackageRepository, FakeUploadStore


@pytest.fixture
def env(tmp_path):
    return {
        "packages": FakePackageRepository(),
        "uploads": FakeUploadStore(tmp_path),
        "clock": FakeClock(),
        "limits": ImportLimits(max_upload_bytes=1000),
        "url_ttl_seconds": 900,
    }


def test_a_new_upload_registers_version_1_building_and_signs_type_and_length(env):
    ticket = request_upload(RequestUpload("t1", "u1", "application/zip", 500), **env)
    assert ticket.package.state is PackageState.BUILDING
    assert ticket.package.version == 1
    assert ticket.headers == {"Content-Type": "application/zip", "Content-Length": "500"}
    assert env["uploads"].presigned == [
        (upload_key("t1", ticket.package.package_id, 1), "application/zip", 500)
    ]


def test_an_upload_for_an_existing_package_is_its_next_version(env):
    first = request_upload(RequestUpload("t1", "u1", "application/zip", 10), **env)
    second = request_upload(RequestUpload("t1", "u1", "application/zip", 10, first.package.package_id), **env)
    assert second.package.version == 2
    assert second.package.package_id == first.package.package_id


def test_a_new_version_of_another_tenants_package_is_not_found(env):
    first = request_upload(RequestUpload("t1", "u1", "application/zip", 10), **env)
    with pytest.raises(NotFound):
        request_upload(RequestUpload("t2", "u2", "application/zip", 10, first.package.package_id), **env)


def test_a_length_over_the_limit_is_refused_before_anything_is_written(env):
    with pytest.raises(PayloadTooLarge):
        request_upload(RequestUpload("t1", "u1", "application/zip", 1001), **env)
    assert env["packages"].writes == 0
    assert env["uploads"].presigned == []


@pytest.mark.parametrize("content_type", ["text/html", "multipart/form-data", ""])
def test_only_zip_content_types_are_accepted(env, content_type):
    with pytest.raises(ValidationFailed):
        request_upload(RequestUpload("t1", "u1", content_type, 10), **env)


def test_an_upload_key_round_trips_and_foreign_keys_are_refused():
    assert UploadKey.parse(upload_key("t1", "p_1", 7)) == UploadKey("t1", "p_1", 7)
    for bad in ["uploads/t1/p1/source.zip", "uploads/../p1/v1/source.zip", "other/t1/p1/v1/source.zip"]:
        with pytest.raises(ValidationFailed):
            UploadKey.parse(bad)
