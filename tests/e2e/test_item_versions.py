"""Every item a realistic flow writes on the local stack carries the schema version of its kind.

upload → build → assistant config (generate, approve) → bundle → device (enrol, download,
licence, sync) → tamper report → export → bundle revoked → package version withdrawn → device
revoked, through the real API, the stream fan-out and the queue workers; then every item of the
table and of the idempotency table is read back.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from rich.console import Console

from content_service.cli.assistant_demo import generate_and_approve
from content_service.client import ApiClient
from content_service.device.agent import DeviceAgent
from content_service.device.store import DeviceStore
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.migrations import SCHEMA_VERSION
from content_service.migrations.kinds import ITEM_KINDS, PROJECTIONS, RETIRED, kind_of
from content_service.migrations.registry import migrations
from content_service.migrations.runner import STATE_KEY, MigrationRunner
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build

TENANT = "tenant-versions"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"), runner_settings=RunnerSettings(schedules_enabled=False)
    ) as running:
        yield running


def _eventually(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen in {timeout:.0f} s")


def _flow(stack: LocalStack, home: Path) -> None:
    author = ApiClient(stack.api_url, stack.mint_token(TENANT, "author-1", roles=["author"]))
    admin = ApiClient(stack.api_url, stack.mint_token(TENANT, "admin-1", roles=["admin"]))
    catalog = ApiClient(stack.api_url, stack.mint_service_token(TENANT, "catalog", ["catalog"]))
    learner = ApiClient(stack.api_url, stack.mint_token(TENANT, "learner-1"))

    package = upload_and_build(author, sample_zip_bytes("welcome"))
    package_id = package["package_id"]
    generate_and_approve(Console(file=io.StringIO()), admin, package)

    bundle = catalog.create_bundle([{"package_id": package_id}], uuid.uuid4().hex, user_id="learner-1")
    agent = DeviceAgent(DeviceStore(home).ensure(), session=requests.Session())
    device_id = agent.enroll(learner, "tablet").device_id
    agent.download(bundle["bundle_id"])
    agent.fetch_licence(bundle["bundle_id"])
    agent.sync_once()
    learner.report_tamper(device_id, bundle["bundle_id"], "container", "a segment tag did not verify")

    headers = {"Authorization": f"Bearer {stack.mint_token(TENANT, 'admin-1', roles=['admin'])}"}
    export = requests.post(
        f"{stack.api_url}/v1/packages/{package_id}/exports",
        json={"format": "scorm12"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    ).json()
    _eventually(
        lambda: requests.get(f"{stack.api_url}/v1/exports/{export['export_id']}", headers=headers, timeout=30)
        .json()["state"]
        != "pending",
        "the export",
    )

    catalog.revoke_bundle(bundle["bundle_id"], "unassigned")
    second = catalog.create_bundle([{"package_id": package_id}], uuid.uuid4().hex, user_id="learner-1")
    _eventually(
        lambda: any(c.type == "bundle.revoked" for c in agent.sync_once().changes), "the revocation's sync"
    )
    admin.withdraw_package_version(package_id, 1, "withdrawn", uuid.uuid4().hex)
    _eventually(
        lambda: admin.get_withdrawal(package_id, 1).get("completed_at"), "the withdrawal of the version"
    )
    assert catalog.get_bundle(second["bundle_id"])["state"] == "revoked"
    learner.revoke_device(device_id, "lost")
    _eventually(lambda: _sync_row_revoked(stack, device_id), "the device's revocation in the projection")


def _dynamodb(stack: LocalStack) -> Any:
    return boto3.client(
        "dynamodb", endpoint_url=stack.endpoints.endpoint_url, region_name=stack.endpoints.region
    )


def _items(stack: LocalStack, table: str) -> list[dict[str, Any]]:
    client, items, start = _dynamodb(stack), [], None
    while True:
        page = client.scan(TableName=table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}))
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _sync_row_revoked(stack: LocalStack, device_id: str) -> bool:
    return any(
        item["entity"]["S"] == "sync_device"
        and item["sk"]["S"] == f"DEVICE#{device_id}"
        and item["state"]["S"] == "revoked"
        for item in _items(stack, stack.endpoints.tables["Table"])
    )


def test_every_item_a_realistic_flow_writes_carries_its_kinds_schema_version(stack, tmp_path):
    _flow(stack, tmp_path / "device")
    # Let the last stream records (the device's revocation fan-out) settle.
    time.sleep(2)

    table = _items(stack, stack.endpoints.tables["Table"])
    idempotency = _items(stack, stack.endpoints.tables["IdempotencyTable"])
    unstamped = [
        (item.get("entity", {}).get("S"), item.get("pk", item.get("id")))
        for item in table + idempotency
        if "schema_version" not in item
    ]
    assert unstamped == []
    # Every item names a known kind and carries the version the code writes for it.
    wrong = [
        (kind_of(item).name, item["schema_version"])
        for item in table + idempotency
        if item["schema_version"] != {"N": str(kind_of(item).version)}
    ]
    assert wrong == []
    kinds = {kind_of(item).name for item in table}
    # The flow reaches the projection rows as well as the aggregates, so the check above saw them.
    written = set(PROJECTIONS) - set(RETIRED)
    assert written <= kinds, written - kinds
    assert not set(RETIRED) & kinds  # nothing writes a retired kind any more
    assert {"package", "bundle", "device", "licence", "export", "tamper_report", "assistant_config"} <= kinds
    assert {kind_of(item).name for item in idempotency} == {"idempotency"}
    assert ITEM_KINDS["feed_entry"].version == SCHEMA_VERSION

    # The same table, every kind in it, goes down to version 1 and up again to what it was.
    name = stack.endpoints.tables["Table"]
    runner = MigrationRunner(_dynamodb(stack), name, migrations())
    before = _by_key(table)
    assert runner.up() == SCHEMA_VERSION
    assert runner.down(to=1) == 1
    down = _by_key(_items(stack, name))
    assert [key for key, item in down.items() if "schema_version" in item and kind_of(item).migrated] == []
    assert runner.up() == SCHEMA_VERSION
    assert _by_key(_items(stack, name)) == before


def _by_key(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(item["pk"]["S"], item["sk"]["S"]): item for item in items if item["pk"] != STATE_KEY["pk"]}
