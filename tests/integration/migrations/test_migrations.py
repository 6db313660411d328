"""Item migrations on moto with the template's table: up, down and up again round-trip every item,
an interrupted run resumes, and the first real migration (device slots) restores the device cap."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from content_service.bootstrap import dependencies
from content_service.cli.app import app
from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.domain.errors import DomainError
from content_service.domain.licence import LicenceTerms
from content_service.domain.principal import Principal
from content_service.local.cold_start import clear_cached_state
from content_service.migrations import SCHEMA_VERSION
from content_service.migrations.kinds import UnknownItemKind
from content_service.migrations.m0002_device_slots import DeviceSlotsMigration
from content_service.migrations.registry import migrations
from content_service.migrations.runner import STATE_KEY, MigrationRunner
from content_service.service import devices as device_cases

TERMS = LicenceTerms()


@pytest.fixture
def table(aws_template, monkeypatch) -> str:
    for name, value in aws_template.environment_for("ApiFunction").items():
        monkeypatch.setenv(name, value)
    clear_cached_state()
    yield aws_template.tables["Table"].name
    clear_cached_state()


def _enrol(user: str, name: str) -> str:
    deps = dependencies()
    device = device_cases.enroll_device(
        "t",
        user,
        device_public_jwk(generate_device_key()),
        name,
        devices=deps.devices,
        clock=deps.clock,
        device_cap=10,
    )
    return device.device_id


def _revoke(user: str, device_id: str) -> None:
    deps = dependencies()
    device_cases.revoke_device(
        Principal.user("t", user),
        device_id,
        "lost",
        devices=deps.devices,
        clock=deps.clock,
        records=deps.licences,
        offline_grace=TERMS.offline_grace,
    )


def _forget_slots(table: str, user: str) -> None:
    """The table as it was before the slots record existed: the user's devices hold no slot."""
    boto3.client("dynamodb").delete_item(
        TableName=table, Key={"pk": {"S": f"TENANT#t#USER#{user}#DEVICE_SLOTS"}, "sk": {"S": "DEVICE_SLOTS"}}
    )


def _slots(table: str, user: str) -> dict[str, str | None]:
    item = (
        boto3.client("dynamodb")
        .get_item(
            TableName=table,
            Key={"pk": {"S": f"TENANT#t#USER#{user}#DEVICE_SLOTS"}, "sk": {"S": "DEVICE_SLOTS"}},
        )
        .get("Item")
    )
    return (
        {}
        if item is None
        else {s["device_id"]: s["release_at"] for s in json.loads(item["body"]["S"])["slots"]}
    )


def _snapshot(table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item but the migration state, with the slots records' revisions left out (each
    migration write bumps them, so racing enrolments notice)."""
    client, items, start = boto3.client("dynamodb"), {}, None
    while True:
        page = client.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        for item in page["Items"]:
            if item["pk"] == STATE_KEY["pk"]:
                continue
            if item["entity"]["S"] == "device_slots":
                item = {k: v for k, v in item.items() if k != "revision"}
            items[(item["pk"]["S"], item["sk"]["S"])] = item
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _legacy_table(table: str) -> dict[str, list[str]]:
    """Three users: two from before the slots record, one whose record misses an old device."""
    old = {
        "ann": [_enrol("ann", "a1"), _enrol("ann", "a2"), _enrol("ann", "a3")],
        "bob": [_enrol("bob", "b1")],
    }
    _revoke("ann", old["ann"][2])
    _forget_slots(table, "ann")
    _forget_slots(table, "bob")
    old["cy"] = [_enrol("cy", "c1"), _enrol("cy", "c2")]
    # cy enrolled c2 after the deploy, against an empty record: c1 holds no slot.
    client = boto3.client("dynamodb")
    key = {"pk": {"S": "TENANT#t#USER#cy#DEVICE_SLOTS"}, "sk": {"S": "DEVICE_SLOTS"}}
    record = client.get_item(TableName=table, Key=key)["Item"]
    body = json.loads(record["body"]["S"])
    body["slots"] = [s for s in body["slots"] if s["device_id"] == old["cy"][1]]
    client.put_item(TableName=table, Item={**record, "body": {"S": json.dumps(body)}})
    _strip_versions(table)
    return old


def _strip_versions(table: str) -> None:
    """The code before versions wrote no schema_version."""
    client = boto3.client("dynamodb")
    for key, item in _snapshot(table).items():
        if "schema_version" in item:
            client.update_item(
                TableName=table,
                Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}},
                UpdateExpression="REMOVE schema_version",
            )


def _runner(table: str, **kwargs: Any) -> MigrationRunner:
    return MigrationRunner(boto3.client("dynamodb"), table, migrations(TERMS), **kwargs)


def test_up_gives_every_device_its_slot_and_the_cap_holds_again(table):
    old = _legacy_table(table)

    assert _runner(table).up() == 2

    ann = _slots(table, "ann")
    assert set(ann) == set(old["ann"])
    assert ann[old["ann"][0]] is None and ann[old["ann"][1]] is None
    revoked = dependencies().devices.get("t", old["ann"][2])
    assert ann[old["ann"][2]] == (revoked.updated_at + TERMS.validity + TERMS.offline_grace).isoformat()
    assert set(_slots(table, "cy")) == set(old["cy"])
    # The revoked device still holds its slot, so with a cap of 3 ann can enrol no more.
    deps = dependencies()
    with pytest.raises(DomainError):
        device_cases.enroll_device(
            "t",
            "ann",
            device_public_jwk(generate_device_key()),
            "a4",
            devices=deps.devices,
            clock=deps.clock,
            device_cap=3,
        )


def _versions(table: str) -> dict[str, set[int | None]]:
    """Entity kind → the schema versions its items carry (None: no attribute)."""
    found: dict[str, set[int | None]] = {}
    for item in _snapshot(table).values():
        version = int(item["schema_version"]["N"]) if "schema_version" in item else None
        found.setdefault(item["entity"]["S"], set()).add(version)
    return found


def test_every_item_of_every_kind_carries_the_version_it_was_migrated_to(table):
    _legacy_table(table)
    dependencies().inbox.mark("sync", "evt_1")
    _strip_versions(table)
    assert {version for versions in _versions(table).values() for version in versions} == {None}

    _runner(table).up()
    versions = _versions(table)
    assert versions["device"] == versions["device_slots"] == versions["device_key"] == {2}
    # Projection rows (here an inbox marker) are migrated like aggregates: migration 2 is a no-op
    # for them, so only their stamp moves.
    assert versions["inbox"] == {2}
    assert set().union(*versions.values()) == {2}

    _runner(table).down()
    assert {version for versions in _versions(table).values() for version in versions} == {None}


def test_a_run_refuses_an_item_of_a_kind_no_migration_knows_before_touching_it(table):
    _legacy_table(table)
    client = boto3.client("dynamodb")
    stray = {"pk": {"S": "STRAY"}, "sk": {"S": "STRAY"}, "entity": {"S": "mystery"}}
    client.put_item(TableName=table, Item=stray)

    with pytest.raises(UnknownItemKind, match="mystery"):
        _runner(table).up()
    assert client.get_item(TableName=table, Key={"pk": stray["pk"], "sk": stray["sk"]})["Item"] == stray
    refused = CliRunner().invoke(app, ["migrate", "up"])
    assert refused.exit_code == 1
    assert "kind 'mystery'" in refused.output and "Traceback" not in refused.output


def test_the_state_record_carries_its_own_fixed_version(table):
    _legacy_table(table)
    _runner(table).up()
    state = boto3.client("dynamodb").get_item(TableName=table, Key=STATE_KEY)["Item"]
    assert state["schema_version"] == {"N": "1"}


def test_the_code_writes_the_newest_version(table):
    assert MigrationRunner(None, table, migrations(TERMS)).latest == SCHEMA_VERSION
    device_id = _enrol("dee", "d1")
    item = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": f"TENANT#t#DEVICE#{device_id}"}, "sk": {"S": "DEVICE"}}
    )["Item"]
    assert item["schema_version"] == {"N": str(SCHEMA_VERSION)}


def test_up_down_and_up_again_round_trip_every_item(table):
    _legacy_table(table)
    before = _snapshot(table)
    runner = _runner(table)

    runner.up()
    migrated = _snapshot(table)
    assert migrated != before
    assert runner.down() == 1
    assert _snapshot(table) == before
    assert runner.up() == 2
    assert _snapshot(table) == migrated
    # Running again at the newest version changes nothing.
    assert runner.up() == 2
    assert _snapshot(table) == migrated


class _CrashAfter(DeviceSlotsMigration):
    def __init__(self, items: int) -> None:
        super().__init__(TERMS)
        self.left = items

    def up(self, client, table, item):  # noqa: ANN001, ANN201
        if self.left == 0:
            raise RuntimeError("killed")
        self.left -= 1
        return super().up(client, table, item)


def test_a_run_that_crashes_midway_resumes_from_its_cursor_and_ends_as_a_clean_run_does(table):
    _legacy_table(table)
    shown = []
    crashing = MigrationRunner(boto3.client("dynamodb"), table, [_CrashAfter(items=5)], page_size=2)
    with pytest.raises(RuntimeError, match="killed"):
        crashing.up()
    status = crashing.status()
    assert status.version == 1 and status.running is not None and status.running["scanned"] >= 4

    assert _runner(table, page_size=2, progress=shown.append).up() == 2

    # The resumed run did not start over: its first page counts on from the saved cursor.
    assert shown[0].scanned > 2
    assert shown[-1].finished
    resumed = _snapshot(table)
    assert _runner(table).down() == 1
    assert _runner(table).up() == 2
    assert _snapshot(table) == resumed


def test_the_cli_shows_the_version_migrates_and_refuses_an_unknown_one(table):
    cli = CliRunner()
    _legacy_table(table)

    assert "version 1 of 2" in cli.invoke(app, ["migrate", "status"]).output
    up = cli.invoke(app, ["migrate", "up"])
    assert up.exit_code == 0 and "the table is at version 2 of 2" in up.output
    assert "items scanned" in up.output
    unknown = cli.invoke(app, ["migrate", "up", "--to", "9"])
    assert unknown.exit_code == 1
    assert "version 9 does not exist" in unknown.output
    down = cli.invoke(app, ["migrate", "down", "--to", "1"])
    assert down.exit_code == 0 and "version 1 of 2" in down.output


def test_releases_are_computed_from_the_revocation_time() -> None:
    migration = DeviceSlotsMigration(
        LicenceTerms(validity=timedelta(days=1), offline_grace=timedelta(days=2))
    )
    device = {"state": "revoked", "updated_at": "2026-01-01T00:00:00+00:00"}
    assert migration._release_at(device) == "2026-01-04T00:00:00+00:00"
    assert migration._release_at({"state": "active"}) is None
