"""Assistant configs through the API function on moto: generate (admin), read (author), approve (admin)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from content_service.adapters.entities import entity_model
from content_service.api import app as api
from content_service.bootstrap import dependencies
from content_service.domain.assistant import canonical_sha256
from content_service.domain.assistant_schema import validate_config
from content_service.events.mapping import OutboxRow, envelopes
from content_service.local.cold_start import clear_cached_state
from content_service.samples import sample_zip_bytes
from tests.integration.functions.test_handlers import context, handler, register_upload, sample_event

EVENTS = Path(__file__).parents[3] / "events"


@pytest.fixture
def stack(aws_template, monkeypatch):
    for name, value in {
        **aws_template.environment_for("BuildPackageFunction"),
        **aws_template.environment_for("ApiFunction"),
    }.items():
        monkeypatch.setenv(name, value)
    clear_cached_state()
    yield aws_template
    clear_cached_state()


@pytest.fixture
def package(stack):
    event = sample_event()
    key = json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]["key"]
    built = register_upload(stack, key, sample_zip_bytes("welcome"))
    assert handler(stack, "BuildPackageFunction")(event, context("build")) == {"batchItemFailures": []}
    return built


def call(method, path, *, roles, body=None, key=None, tenant=None, user="user-1", query=None):
    event = copy.deepcopy(json.loads((EVENTS / "api" / "post_uploads.json").read_text()))
    event.update(
        httpMethod=method,
        path=path,
        body=None if body is None else json.dumps(body),
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
    )
    event["headers"] = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
    event["requestContext"]["path"] = f"/Prod{path}"
    event["requestContext"]["authorizer"] = {
        "principalId": user,
        "tenant_id": tenant or "tenant-a",
        "principal_id": user,
        "principal_type": "user",
        "roles": roles,
        "token_use": "id",
    }
    response = api.handle(event, context("api"))
    return response["statusCode"], response.get("multiValueHeaders", {}), json.loads(response["body"])


def test_an_admin_generates_an_author_reads_and_only_an_approved_config_is_the_shipping_one(package):
    base = f"/v1/packages/{package.package_id}/assistant-configs"
    status, _, refused = call("POST", base, roles="learner", body={}, key="k-learner-1")
    assert status == 403 and refused["status"] == 403
    status, headers, created = call("POST", base, roles="admin", body={"max_questions": 4}, key="k-admin-1")
    assert status == 201, created
    assert headers["Location"] == [f"/Prod{base}/v1r1"]
    assert created["state"] == "draft" and len(created["config"]["questions"]) <= 4
    manifest = dependencies().store.get_manifest(package.tenant_id, package.package_id, 1)
    validate_config(created["config"], frozenset(entry.path for entry in manifest.files))
    provenance = created["provenance"]
    assert provenance["output_sha256"] == canonical_sha256(created["config"])
    assert provenance["input"]["content_hash"] == manifest.content_hash
    assert provenance["requested_by"] == "user-1" and provenance["generator"] == "local-extractive"
    assert {f["path"] for f in provenance["input"]["files"]} == {"index.html", "how-it-works.html"}

    # The same Idempotency-Key replays the first answer; it does not generate again.
    again = call("POST", base, roles="admin", body={"max_questions": 4}, key="k-admin-1")
    assert again[0] == 201 and again[2]["config_id"] == "v1r1"
    assert call("GET", base, roles="author")[2]["items"][0]["config_id"] == "v1r1"
    assert len(call("GET", base, roles="author")[2]["items"]) == 1

    assert call("POST", f"{base}/v1r1/approve", roles="author")[0] == 403
    assert dependencies().assistants.get("tenant-a", package.package_id, 1).approved is None
    status, _, approved = call("POST", f"{base}/v1r1/approve", roles="admin", user="admin-9")
    assert status == 200 and approved["state"] == "approved" and approved["approved_by"] == "admin-9"
    assert call("POST", f"{base}/v1r1/approve", roles="admin")[0] == 409
    status, _, read = call("GET", f"{base}/v1r1", roles="author")
    assert status == 200 and read["provenance"] == provenance and read["state"] == "approved"


def test_another_tenant_sees_nothing_and_bad_ids_are_problems(package):
    base = f"/v1/packages/{package.package_id}/assistant-configs"
    created = call("POST", base, roles="admin", body={}, key="key-00001")
    assert created[0] == 201, created
    assert call("GET", f"{base}/v1r1", roles="admin", tenant="tenant-b")[0] == 404
    assert call("POST", base, roles="admin", body={}, key="key-00002", tenant="tenant-b")[0] == 404
    assert call("GET", f"{base}/v1r7", roles="admin")[0] == 404
    assert call("GET", f"{base}/latest", roles="admin")[0] == 422
    assert call("POST", base, roles="admin", body={"max_questions": 99}, key="key-00003")[0] == 422
    assert call("POST", base, roles="admin", body={}, key=None)[0] == 422


def test_the_stored_item_carries_the_events_the_stream_publishes(package):
    base = f"/v1/packages/{package.package_id}/assistant-configs"
    call("POST", base, roles="admin", body={}, key="key-00001")
    model = entity_model(dependencies().settings.table_name, dependencies().settings.aws_region)
    item = model.get(f"TENANT#tenant-a#ASSISTANT#{package.package_id}", "V#0000000001")
    published = envelopes(OutboxRow(item.pk, item.sk, int(item.revision), tuple(item.events)))
    assert [e.subject for e in published] == ["content.assistant_config.generated.v1"]
    assert published[0].data.config_id == "v1r1" and published[0].data.package_id == package.package_id
    call("POST", f"{base}/v1r1/approve", roles="admin")
    item = model.get(f"TENANT#tenant-a#ASSISTANT#{package.package_id}", "V#0000000001")
    published = envelopes(OutboxRow(item.pk, item.sk, int(item.revision), tuple(item.events)))
    assert [e.subject for e in published] == ["content.assistant_config.approved.v1"]


def test_a_learner_gets_only_approved_configs_of_their_own_bundle_as_kms_signed_overlays(
    package, monkeypatch
):
    from content_service.crypto.signing import verify
    from content_service.domain.assistant import OVERLAY_TYP
    from content_service.domain.bundle import Bundle, BundlePackage, BundleState
    from content_service.domain.package import ContainerRef

    # The local stack signs RAW only (moto's DIGEST signing is wrong): an overlay must fit in 4096 bytes.
    monkeypatch.setenv("SIGNING_DIGEST_LARGE_MESSAGES", "false")
    clear_cached_state()
    deps = dependencies()
    manifest = deps.store.get_manifest("tenant-a", package.package_id, 1)
    now = deps.clock.now()
    bundle_id = "bnd_" + "ab" * 16
    deps.bundles.add(
        Bundle(
            tenant_id="tenant-a",
            bundle_id=bundle_id,
            user_id="learner-1",
            residency_zone="eu",
            packages=(
                BundlePackage(package.package_id, 1, manifest.content_hash, ContainerRef("k", 1, "0" * 64)),
            ),
            state=BundleState.BUILT,
            created_at=now,
            updated_at=now,
        )
    )
    base = f"/v1/packages/{package.package_id}/assistant-configs"
    path = f"/v1/bundles/{bundle_id}/assistant"
    call("POST", base, roles="admin", body={}, key="key-00001")
    status, _, drafts_only = call("GET", path, roles="learner", user="learner-1")
    assert status == 200 and drafts_only == {"bundle_id": bundle_id, "overlays": []}
    call("POST", f"{base}/v1r1/approve", roles="admin")
    status, _, body = call("GET", path, roles="learner", user="learner-1")
    assert status == 200, body
    assert [o["package_id"] for o in body["overlays"]] == [package.package_id]
    claims = verify(body["overlays"][0]["token"], deps.key_ring.jwks(), typ=OVERLAY_TYP)
    assert claims["bundle_id"] == bundle_id and claims["content_hash"] == manifest.content_hash
    assert claims["config_sha256"] == canonical_sha256(body["overlays"][0]["config"])
    assert call("GET", path, roles="learner", user="learner-2")[0] == 404
    assert call("GET", path, roles="learner", user="learner-1", tenant="tenant-b")[0] == 404
