"""Residency proved on the local stack: an ``eu`` tenant's whole flow leaves nothing in ``us``.

The local stack is the ``eu`` zone's primary (eu-west-1). One moto server answers for every
region, so the ``us`` zone's regions are really there to be written to by mistake; after upload,
build, bundle, licence, download URLs, a device's download, an export and a revocation,
:func:`residency_scan.scan` looks through every bucket, table, KMS key, log group and queue of
us-east-1 and us-west-2 for the tenant's id. The same scan of eu-west-1 finds the tenant (the
needle is one the data really carries), and a planted object and item in us-east-1 are found.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from content_service.client import put_upload
from content_service.device.agent import DeviceAgent
from content_service.device.store import DeviceStore
from content_service.domain.zones import DEFAULT_ZONES, Zones
from content_service.local.residency_scan import Finding, scan
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.roles import LearnerWithCatalog, admin_client, author_client

US = Zones.parse(DEFAULT_ZONES).get("us").regions
EU = Zones.parse(DEFAULT_ZONES).get("eu").regions


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"), runner_settings=RunnerSettings(schedules_enabled=False)
    ) as running:
        assert running.region in EU
        yield running


@pytest.fixture(scope="module")
def flow(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The eu tenant's whole flow; returns its tenant id and every signed URL it was handed:
    bundle containers (the CDN) and presigned S3 URLs (the upload, the export)."""
    tenant = f"tenant-eu-{uuid.uuid4().hex[:8]}"
    author = author_client(stack, tenant)
    data = sample_zip_bytes("welcome")
    created = author.create_upload(len(data))
    put_upload(created["upload"], data)
    presigned = [created["upload"]["url"]]
    package = author.wait_until_settled(created["package"]["package_id"], 1, timeout=60, interval=0.1)
    assert package["state"] == "built", package

    learner = LearnerWithCatalog(stack, tenant)
    bundle_id = learner.create_bundle([{"package_id": package["package_id"]}], uuid.uuid4().hex, "eu")[
        "bundle_id"
    ]
    home: Path = tmp_path_factory.mktemp("device")
    agent = DeviceAgent(DeviceStore(home).ensure(), session=requests.Session())
    device = agent.enroll(learner, "phone")
    agent.fetch_licence(bundle_id)
    agent.download(bundle_id)
    agent.mount(bundle_id).close()
    urls = [c["url"] for c in learner.download_urls(bundle_id, device.device_id)["containers"]]

    admin = admin_client(stack, tenant)
    accepted = admin._request(
        "POST",
        f"/v1/packages/{package['package_id']}/exports",
        json={"format": "scorm2004", "options": {}},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    ).json()
    deadline = time.monotonic() + 60
    while (view := admin._request("GET", f"/v1/exports/{accepted['export_id']}").json())[
        "state"
    ] == "pending":
        assert time.monotonic() < deadline, "the export never finished"
        time.sleep(0.1)
    assert view["state"] == "done", view
    assert requests.get(view["download_url"], timeout=30).status_code == 200
    presigned.append(view["download_url"])

    learner.revoke_bundle(bundle_id, "withdrawn")
    deadline = time.monotonic() + 30
    while agent.store.bundle(bundle_id).root.exists():
        assert time.monotonic() < deadline, "the revocation never reached the device"
        agent.sync_once()
        time.sleep(0.1)
    return {"tenant": tenant, "urls": urls, "presigned": presigned}


def test_nothing_of_an_eu_tenant_is_in_any_us_region_after_its_whole_flow(
    stack: LocalStack, flow: dict
) -> None:
    assert scan(stack.endpoints.endpoint_url, US, flow["tenant"]) == []
    # The needle is real: the same scan of the tenant's own zone finds its objects and items.
    home = {finding.service for finding in scan(stack.endpoints.endpoint_url, EU, flow["tenant"])}
    assert {"s3", "dynamodb"} <= home


def test_every_signed_url_names_the_eu_zones_distribution_or_its_buckets(
    stack: LocalStack, flow: dict
) -> None:
    distribution = urlsplit(stack.endpoints.edges["BundlesDistribution"]).netloc
    assert flow["urls"], "the flow handed out container URLs"
    assert {urlsplit(url).netloc for url in flow["urls"]} == {distribution}
    # Uploads and exports are presigned S3 URLs, not the CDN: signed for an eu region, naming one
    # of the zone's own buckets (path-style on the local endpoint).
    buckets = {stack.endpoints.buckets["UploadsBucket"], stack.endpoints.buckets["ExportsBucket"]}
    for url in flow["presigned"]:
        parts = urlsplit(url)
        (credential,) = parse_qs(parts.query)["X-Amz-Credential"]
        assert credential.split("/")[2] in EU, url
        assert parts.path.split("/")[1] in buckets, url


def test_the_scan_finds_an_object_and_an_item_planted_in_us_east_1(stack: LocalStack) -> None:
    tenant = f"tenant-eu-{uuid.uuid4().hex[:8]}"
    endpoint = stack.endpoints.endpoint_url
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"planted-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)  # us-east-1 takes no LocationConstraint
    s3.put_object(Bucket=bucket, Key="exports/e-1.zip", Body=f'{{"tenant_id": "{tenant}"}}'.encode())
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    table = stack.endpoints.tables["Table"]  # the zone's table name, made in the wrong region
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": "SETTINGS"}})
    try:
        assert scan(endpoint, US, tenant) == [
            Finding("s3", "us-east-1", bucket, "exports/e-1.zip (body)"),
            Finding(
                "dynamodb",
                "us-east-1",
                table,
                'item {"pk": {"S": "TENANT#' + tenant + '"}, "sk": {"S": "SETTINGS"}}',
            ),
        ]
    finally:
        s3.delete_object(Bucket=bucket, Key="exports/e-1.zip")
        s3.delete_bucket(Bucket=bucket)
        dynamodb.delete_table(TableName=table)
