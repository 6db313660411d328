"""White-label branding end to end on the local stack, through the real agent.

An admin sets the tenant's branding; a learner's device syncs (its signed status names the new
branding revision), fetches and verifies the overlay, and its launcher serves the entry page with
the brand's stylesheet (and the uploaded logo, checked against the overlay, as ``--brand-logo``). The package's content hash, the bundle manifest and the containers on the
device are what they were: changing the branding re-seals nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from content_service.device.agent import DeviceAgent
from content_service.device.store import DeviceStore
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.roles import LearnerWithCatalog, admin_client, author_client
from tests.e2e.uploads import upload_and_build
from tests.logos import SVG, png

TENANT = "tenant-brand"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        runner_settings=RunnerSettings(schedules_enabled=False, stream_poll_interval=0.05),
        write_state_file=False,
    ) as running:
        yield running


def test_admin_branding_reaches_the_device_launch_and_changes_no_content_hash(
    stack: LocalStack, tmp_path: Path
) -> None:
    author = author_client(stack, TENANT)
    package = upload_and_build(author, sample_zip_bytes("welcome"))
    manifest = author.get_manifest(package["package_id"])["manifest"]
    entry = manifest["launches"][0]["href"]

    learner = LearnerWithCatalog(stack, TENANT)
    bundle_id = learner.create_bundle([{"package_id": package["package_id"]}], uuid.uuid4().hex)["bundle_id"]
    agent = DeviceAgent(DeviceStore(tmp_path / "tablet").ensure(), session=requests.Session())
    agent.enroll(learner, "tablet")
    agent.fetch_licence(bundle_id)
    agent.download(bundle_id)
    unbranded = agent.launch(bundle_id, package["package_id"], entry)
    assert unbranded.branding.branding is None
    files = agent.store.bundle(bundle_id)
    held = {p.name: p.read_bytes() for p in files.root.iterdir() if p.is_file() and p.name != "licence.jws"}

    admin = admin_client(stack, TENANT)
    branding = {"name": "Acme", "primary_colour": "#0a5cff", "css_properties": {"--brand-radius": "4px"}}
    admin._request("PATCH", "/v1/tenant/settings", json={"branding": branding})
    agent.sync_once()
    branded = agent.launch(bundle_id, package["package_id"], entry)
    assert branded.branding.branding is not None and branded.branding.branding.name == "Acme"
    assert b"--brand-primary: #0a5cff;" in branded.page and b"--brand-radius: 4px;" in branded.page
    assert branded.content_sha256 == unbranded.content_sha256

    # Nothing was re-sealed: the package's content hash and the bundle's files are as they were.
    assert author.get_manifest(package["package_id"])["manifest"]["content_hash"] == manifest["content_hash"]
    assert {p.name: p.read_bytes() for p in files.root.iterdir() if p.is_file() and p.name != "licence.jws"} == held
    assert learner.get_bundle(bundle_id)["packages"][0]["content_hash"] == package["content_hash"]


def test_an_uploaded_logo_reaches_the_device_launch_and_a_branded_export_and_svg_is_refused(
    stack: LocalStack, tmp_path: Path
) -> None:
    tenant = "tenant-logo"
    author = author_client(stack, tenant)
    package = upload_and_build(author, sample_zip_bytes("welcome"))
    entry = author.get_manifest(package["package_id"])["manifest"]["launches"][0]["href"]
    learner = LearnerWithCatalog(stack, tenant)
    bundle_id = learner.create_bundle([{"package_id": package["package_id"]}], uuid.uuid4().hex)["bundle_id"]
    agent = DeviceAgent(DeviceStore(tmp_path / "tablet").ensure(), session=requests.Session())
    agent.enroll(learner, "tablet")
    agent.fetch_licence(bundle_id)
    agent.download(bundle_id)

    admin = admin_client(stack, tenant)
    url = stack.api_url + "/v1/tenant/branding/logo"

    def put(body: bytes, content_type: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or admin.token}", "Content-Type": content_type}
        return requests.put(url, data=body, headers=headers, timeout=30)

    # Without branding there is nothing for a logo to belong to; then the admin brands the tenant.
    assert put(png(), "image/png").status_code == 409
    admin._request("PATCH", "/v1/tenant/settings", json={"branding": {"name": "Acme", "primary_colour": "#0a5cff"}})
    refused = put(SVG, "image/svg+xml")
    assert refused.status_code == 415 and refused.headers["Content-Type"] == "application/problem+json"
    assert put(png(), "image/jpeg").status_code == 422
    assert put(png(), "image/png", token=learner.token).status_code == 403
    logo = png(8, 8)
    uploaded = put(logo, "image/png")
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["branding"]["logo"]["sha256"] == hashlib.sha256(logo).hexdigest()

    served = requests.get(url, headers={"Authorization": f"Bearer {learner.token}", "Accept": "image/*"}, timeout=30)
    assert served.status_code == 200 and served.content == logo and served.headers["Content-Type"] == "image/png"

    agent.sync_once()
    launch = agent.launch(bundle_id, package["package_id"], entry)
    assert launch.branding.logo == logo and launch.branding.refused is None
    data_url = "data:image/png;base64," + base64.b64encode(logo).decode()
    assert f'--brand-logo: url("{data_url}");'.encode() in launch.page

    export = admin._request(
        "POST",
        f"/v1/packages/{package['package_id']}/exports",
        json={"format": "scorm12", "branding": True},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    ).json()
    deadline = time.monotonic() + 60
    view = admin._request("GET", f"/v1/exports/{export['export_id']}").json()
    while view["state"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
        view = admin._request("GET", f"/v1/exports/{export['export_id']}").json()
    assert view["state"] == "done", view
    with zipfile.ZipFile(io.BytesIO(requests.get(view["download_url"], timeout=30).content)) as archive:
        assert archive.read("content-branding-logo.png") == logo
        assert b'href="content-branding-logo.png"' in archive.read("imsmanifest.xml")
