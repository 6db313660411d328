"""Withdrawing a package version reaches every device of every user who holds it, on the local stack.

The real API, fan_out (behind the table stream) and withdraw (behind the withdrawal queue, several
pollers at once) handlers run; chunks are two bundles each, so one withdrawal is several chunks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from content_service.client import ApiClient
from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.roles import admin_client, author_client, catalog_client
from tests.e2e.uploads import upload_and_build

pytestmark = pytest.mark.xdist_group("withdrawal")

TENANT = "withdraw-tenant"
USERS = 3
DEVICES_PER_USER = 2


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WITHDRAWAL_CHUNK_SIZE", "2")
        with LocalStack(
            home=tmp_path_factory.mktemp("withdraw-home"),
            runner_settings=RunnerSettings(schedules_enabled=False, stream_poll_interval=0.05),
        ) as running:
            yield running


def built_package(stack: LocalStack) -> str:
    author = author_client(stack, TENANT)
    package = upload_and_build(author, sample_zip_bytes("welcome"))
    return str(package["package_id"])


def call(stack: LocalStack, token: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.request(method, stack.api_url + path, headers=headers, timeout=30, **kwargs)


def feed(learner: ApiClient, device_id: str) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = learner.sync_device(device_id, cursor)
        changes += page["changes"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return changes


def wait_for(predicate: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def holdings(stack: LocalStack) -> dict[str, Any]:
    """USERS learners with DEVICES_PER_USER devices each, each holding a bundle of the withdrawn
    version, plus a control user whose bundle holds another package."""
    withdrawn, kept = built_package(stack), built_package(stack)
    catalog = catalog_client(stack, TENANT)
    learners: dict[str, dict[str, Any]] = {}
    for index in range(USERS + 1):
        user = f"learner-{index}-{uuid.uuid4().hex[:6]}"
        client = ApiClient(stack.api_url, stack.mint_token(TENANT, user))
        devices = [
            client.enroll_device(device_public_jwk(generate_device_key()))["device_id"]
            for _ in range(DEVICES_PER_USER)
        ]
        package = kept if index == USERS else withdrawn
        bundle = catalog.create_bundle([{"package_id": package}], uuid.uuid4().hex, user_id=user)
        learners[user] = {"client": client, "devices": devices, "bundle": bundle["bundle_id"]}
    for learner in learners.values():
        for device in learner["devices"]:
            wait_for(
                lambda d=device, who=learner: any(
                    c["type"] == "bundle.added" and c["bundle_id"] == who["bundle"]
                    for c in feed(who["client"], d)
                ),
                "bundle.added in every feed",
            )
    control = list(learners)[USERS]
    return {"withdrawn": withdrawn, "kept": kept, "learners": learners, "control": control}


def test_only_admins_may_withdraw_or_read_a_withdrawal(stack: LocalStack, holdings: dict[str, Any]) -> None:
    path = f"/v1/packages/{holdings['withdrawn']}/versions/1"
    tokens = {
        "learner": stack.mint_token(TENANT, "someone"),
        "author": stack.mint_token(TENANT, "author-1", roles=["author"]),
        "catalog": stack.mint_service_token(TENANT, "catalog", ["catalog"]),
    }
    for role, token in tokens.items():
        refused = call(
            stack,
            token,
            "POST",
            f"{path}/revoke",
            json={"reason": "not mine to pull"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert refused.status_code == 403, (role, refused.text)
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert call(stack, token, "GET", f"{path}/withdrawal").status_code == 403, role


@pytest.fixture(scope="module")
def withdrawal(stack: LocalStack, holdings: dict[str, Any]) -> dict[str, Any]:
    """The version withdrawn by an admin, the same request sent twice, and its progress once done."""
    admin = stack.mint_token(TENANT, "admin-1", roles=["admin"])
    path = f"/v1/packages/{holdings['withdrawn']}/versions/1"
    key = uuid.uuid4().hex
    body = {"reason": "legal takedown"}
    first = call(stack, admin, "POST", f"{path}/revoke", json=body, headers={"Idempotency-Key": key})
    again = call(stack, admin, "POST", f"{path}/revoke", json=body, headers={"Idempotency-Key": key})
    progress = wait_for(
        lambda: (r := call(stack, admin, "GET", f"{path}/withdrawal").json())["state"] == "done" and r,
        "the withdrawal to be done",
    )
    return {"path": path, "first": first, "again": again, "progress": progress}


def test_a_withdrawal_reaches_every_holding_device_once_and_reports_done(
    stack: LocalStack, holdings: dict[str, Any], withdrawal: dict[str, Any]
) -> None:
    first, again, progress, path = (withdrawal[k] for k in ("first", "again", "progress", "path"))

    assert first.status_code == 202, first.text
    assert urljoin(stack.api_url, first.headers["Location"]) == f"{stack.api_url}{path}/withdrawal"
    assert again.status_code == 202 and again.json() == first.json()
    assert first.json()["reason"] == "legal takedown"

    holders = [u for u in holdings["learners"] if u != holdings["control"]]
    assert progress["bundles_total"] == USERS and progress["bundles_revoked"] == USERS
    assert progress["chunks_total"] == progress["chunks_done"] == 2  # chunks of two bundles
    assert progress["devices_notified"] == USERS * DEVICES_PER_USER
    assert progress["completed_at"] is not None

    for user in holders:
        learner = holdings["learners"][user]
        for device in learner["devices"]:
            revoked = [
                c
                for c in feed(learner["client"], device)
                if c["type"] == "bundle.revoked" and c["bundle_id"] == learner["bundle"]
            ]
            assert len(revoked) == 1, revoked
            assert revoked[0]["reason"] == "legal takedown"
        assert learner["client"].get_bundle(learner["bundle"])["state"] == "revoked"

    control = holdings["learners"][holdings["control"]]
    assert control["client"].get_bundle(control["bundle"])["state"] == "built"
    for device in control["devices"]:
        assert not [c for c in feed(control["client"], device) if c["type"] == "bundle.revoked"]
    admin_api = admin_client(stack, TENANT)
    assert admin_api.get_package(holdings["withdrawn"], 1)["state"] == "revoked"


def test_a_second_withdrawal_of_the_same_version_changes_nothing(
    stack: LocalStack, withdrawal: dict[str, Any]
) -> None:
    admin = stack.mint_token(TENANT, "admin-1", roles=["admin"])
    path = withdrawal["path"]
    before = call(stack, admin, "GET", f"{path}/withdrawal").json()

    other_key = call(
        stack,
        admin,
        "POST",
        f"{path}/revoke",
        json={"reason": "again"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    reused_key = call(
        stack,
        admin,
        "POST",
        f"{path}/revoke",
        json={"reason": "another body"},
        headers={"Idempotency-Key": "k" * 16},
    )
    assert reused_key.status_code == 202
    reused_again = call(
        stack,
        admin,
        "POST",
        f"{path}/revoke",
        json={"reason": "a third body"},
        headers={"Idempotency-Key": "k" * 16},
    )

    assert other_key.status_code == 202 and other_key.json()["state"] == "done"
    assert other_key.json()["reason"] == "legal takedown"  # the first withdrawal stands
    assert reused_again.status_code == 422  # the same key with another body
    time.sleep(0.5)
    assert call(stack, admin, "GET", f"{path}/withdrawal").json() == before


def test_a_withdrawn_version_cannot_be_bundled_and_an_unknown_one_has_no_withdrawal(
    stack: LocalStack, holdings: dict[str, Any], withdrawal: dict[str, Any]
) -> None:
    admin = stack.mint_token(TENANT, "admin-1", roles=["admin"])
    refused = call(
        stack,
        stack.mint_service_token(TENANT, "catalog", ["catalog"]),
        "POST",
        "/v1/bundles",
        json={"packages": [{"package_id": holdings["withdrawn"]}], "user_id": "late-learner"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refused.status_code == 409, refused.text  # a package that is not built: a conflict with its state
    assert "revoked" in refused.json()["detail"]
    kept = call(stack, admin, "GET", f"/v1/packages/{holdings['kept']}/versions/1/withdrawal")
    missing = call(stack, admin, "GET", "/v1/packages/no-such-package/versions/1/withdrawal")
    assert kept.status_code == 404 and missing.status_code == 404
    assert kept.headers["Content-Type"] == "application/problem+json"
