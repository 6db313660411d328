"""Exports of built packages from the stored manifest and blobs: requested, run once, downloadable."""

from __future__ import annotations

import io
import zipfile

import pytest

from content_service.domain.errors import InvalidTransition, NotFound, ValidationFailed
from content_service.domain.export import ExportState
from content_service.domain.logo import DEFAULT_LOGO_MAX_BYTES, BrandLogo
from content_service.domain.tenant import Branding, TenantSettings
from content_service.packaging.limits import ImportLimits
from content_service.samples import sample_zip_bytes
from content_service.service.exports import (
    export_job_of,
    fail_abandoned_exports,
    fail_export_after_retries,
    get_export,
    request_export,
    run_export,
)
from content_service.service.packages import RequestUpload, build_uploaded_package, request_upload
from tests.fakes import (
    FakeBrandingAssets,
    FakeBundleStore,
    FakeClock,
    FakeContentKeys,
    FakeExportQueue,
    FakeExportRepository,
    FakeExportStore,
    FakePackageRepository,
    FakePackageStore,
    FakeTenantSettings,
    FakeUploadStore,
)
from tests.logos import png


@pytest.fixture
def world(tmp_path):
    return {
        "packages": FakePackageRepository(),
        "uploads": FakeUploadStore(tmp_path),
        "store": FakePackageStore(),
        "clock": FakeClock(),
        "exports": FakeExportRepository(),
        "results": FakeExportStore(),
        "queue": FakeExportQueue(),
    }


def built(world):
    data = sample_zip_bytes("welcome")
    ticket = request_upload(
        RequestUpload("t1", "author", "application/zip", len(data)),
        packages=world["packages"],
        uploads=world["uploads"],
        clock=world["clock"],
        limits=ImportLimits(),
        url_ttl_seconds=60,
    )
    world["uploads"].put(ticket.package.source_key, data)
    return build_uploaded_package(
        ticket.package.source_key,
        packages=world["packages"],
        uploads=world["uploads"],
        store=world["store"],
        keys=FakeContentKeys(),
        containers=FakeBundleStore(),
        clock=world["clock"],
        limits=ImportLimits(),
    ).package


def requested(world, package_id, fmt="scorm12", options=None, tenant="t1", branding=None):
    return request_export(
        tenant,
        package_id,
        None,
        fmt,
        options or {},
        packages=world["packages"],
        exports=world["exports"],
        queue=world["queue"],
        clock=world["clock"],
        branding=branding,
    )


def run(world, job, assets=None):
    return run_export(
        "t1",
        job.export_id,
        exports=world["exports"],
        store=world["store"],
        blobs=world["store"],
        results=world["results"],
        clock=world["clock"],
        assets=assets,
    )


def branded_with_a_logo(data):
    """Tenant settings whose branding names ``data`` as its logo, and branding assets without it."""
    logo = BrandLogo.of(data, "image/png", max_bytes=DEFAULT_LOGO_MAX_BYTES)
    settings = FakeTenantSettings()
    settings.save(TenantSettings("t1", "eu", branding=Branding("Acme", "#0a5cff", logo=logo)))
    return logo, settings, FakeBrandingAssets()


@pytest.mark.parametrize(
    ("fmt", "descriptor"),
    [
        ("scorm12", "imsmanifest.xml"),
        ("scorm2004", "imsmanifest.xml"),
        ("xapi", "tincan.xml"),
        ("cmi5", "cmi5.xml"),
    ],
)
def test_an_export_is_queued_then_built_from_the_stored_blobs(world, fmt, descriptor):
    package = built(world)
    job = requested(world, package.package_id, fmt, {"mastery_score": 0.8, "reporting": "passed/failed"})
    assert job.state is ExportState.PENDING and world["queue"].sent == [("t1", job.export_id)]
    done = run(world, job)
    assert done.state is ExportState.DONE
    data = world["results"].objects[done.result.key]
    assert len(data) == done.result.size
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert descriptor in archive.namelist() and "how-it-works.html" in archive.namelist()
    view = get_export(
        "t1", job.export_id, exports=world["exports"], results=world["results"], url_ttl_seconds=60
    )
    assert view.download_url.startswith("https://exports.example/tenants/t1/exports/")


def test_a_branded_export_carries_the_tenants_branding_as_it_was_requested(world):
    package = built(world)
    settings = FakeTenantSettings()
    with pytest.raises(InvalidTransition, match="no branding"):
        requested(world, package.package_id, "cmi5", branding=settings)
    settings.save(TenantSettings("t1", "eu", branding=Branding("Acme", "#0a5cff")))
    job = requested(world, package.package_id, "cmi5", branding=settings)
    assert job.options["branding"]["name"] == "Acme"
    with zipfile.ZipFile(io.BytesIO(world["results"].objects[run(world, job).result.key])) as archive:
        assert b"#0a5cff" in archive.read("content-branding.css")
    assert "branding" not in requested(world, package.package_id, "cmi5").options


def test_a_branded_export_carries_the_logo_recorded_at_the_request_read_from_the_assets(world):
    package = built(world)
    data = png()
    logo, settings, assets = branded_with_a_logo(data)
    assets.put_logo("t1", logo, data)
    job = requested(world, package.package_id, "scorm2004", branding=settings)
    assert job.options["branding"]["logo"] == logo.as_dict()
    # A logo uploaded after the request changes nothing: the job names the bytes by their SHA-256.
    later = png(rgb=(1, 2, 3))
    assets.put_logo("t1", BrandLogo.of(later, "image/png", max_bytes=DEFAULT_LOGO_MAX_BYTES), later)
    done = run(world, job, assets)
    assert done.state is ExportState.DONE, done.problem
    with zipfile.ZipFile(io.BytesIO(world["results"].objects[done.result.key])) as archive:
        assert archive.read("content-branding-logo.png") == data
        assert b"content-branding-logo.png" in archive.read("imsmanifest.xml")


def test_a_branded_export_whose_logo_is_gone_or_altered_fails_with_a_problem(world):
    package = built(world)
    data = png()
    logo, settings, assets = branded_with_a_logo(data)

    gone = run(world, requested(world, package.package_id, "scorm2004", branding=settings), assets)
    assert gone.state is ExportState.FAILED and gone.problem.code == "export.NotFound"
    assets.objects["t1", logo.sha256] = data[:-1] + b"\x00"
    altered = run(world, requested(world, package.package_id, "scorm2004", branding=settings), assets)
    assert altered.state is ExportState.FAILED and "logo" in altered.problem.detail
    assert world["results"].objects == {}


def test_a_redelivered_export_job_is_not_run_twice(world):
    package = built(world)
    job = requested(world, package.package_id)
    first = run(world, job)
    objects = dict(world["results"].objects)
    assert run(world, job) == first
    assert world["results"].objects == objects


def test_only_the_tenants_built_packages_export(world):
    package = built(world)
    with pytest.raises(NotFound):
        requested(world, package.package_id, tenant="t2")
    with pytest.raises(ValidationFailed):
        requested(world, package.package_id, fmt="pdf")
    with pytest.raises(ValidationFailed):
        requested(world, package.package_id, options={"mastery_score": 7})


def test_an_export_message_names_a_job_or_is_refused():
    assert export_job_of('{"tenant_id": "t1", "export_id": "exp_1"}') == ("t1", "exp_1")
    for bad in ("nope", "{}", "[]"):
        with pytest.raises(ValidationFailed):
            export_job_of(bad)


def test_an_export_that_crashed_on_its_last_attempt_fails_with_a_problem(world):
    job = requested(world, built(world).package_id)
    world["clock"].advance(60)
    failed = fail_export_after_retries(
        "t1", job.export_id, "KeyError", exports=world["exports"], clock=world["clock"]
    )
    assert failed.state is ExportState.FAILED
    assert (failed.problem.code, failed.problem.detail) == (
        "export.crashed",
        "the export failed on every attempt: KeyError",
    )
    assert world["exports"].get("t1", job.export_id) == failed


def test_a_finished_export_is_left_alone_by_the_last_attempt_failure(world):
    done = run(world, requested(world, built(world).package_id))
    again = fail_export_after_retries(
        "t1", done.export_id, "KeyError", exports=world["exports"], clock=world["clock"]
    )
    assert again.state is ExportState.DONE and again == done


def test_the_sweep_fails_only_exports_pending_past_the_timeout(world):
    package_id = built(world).package_id
    stuck = requested(world, package_id)
    finished = run(world, requested(world, package_id))
    world["clock"].advance(3000)
    fresh = requested(world, package_id)
    world["clock"].advance(1000)
    swept = fail_abandoned_exports(
        exports=world["exports"], clock=world["clock"], export_timeout_seconds=3600
    )
    assert [job.export_id for job in swept] == [stuck.export_id]
    assert world["exports"].get("t1", stuck.export_id).problem.code == "export.abandoned"
    assert world["exports"].get("t1", fresh.export_id).state is ExportState.PENDING
    assert world["exports"].get("t1", finished.export_id).state is ExportState.DONE
    assert (
        fail_abandoned_exports(exports=world["exports"], clock=world["clock"], export_timeout_seconds=3600)
        == []
    )
