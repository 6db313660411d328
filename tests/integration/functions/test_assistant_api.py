"""Assistant configs on moto: the API queues a generation (author/admin), the assistant function
makes the draft, the job says ready or failed; read (author), approve (admin)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from content_service.adapters.entities import entity_model
from content_service.api import app as api
from content_service.bootstrap import dependencies
from content_service.domain.assistant import canonical_sha256
from content_service.domain.assistant_schema import validate_config
from content_service.events.mapping import OutboxRow, envelopes
from content_service.local.cold_start import clear_cached_state
from content_service.local.event_shapes import sqs_event
from content_service.samples import sample_zip_bytes
from tests.integration.functions.test_handlers import context, handler, register_upload, sample_event

EVENTS = Path(__file__).parents[3] / "events"


@pytest.fixture
def stack(aws_template, monkeypatch):
    for name, value in {
        **aws_template.environment_for("BuildPackageFunction"),
        **aws_template.environment_for("ApiFunction"),
        **aws_template.environment_for("AssistantFunction"),
        **aws_template.environment_for("SweepStaleBuildsFunction"),
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


def run_queued(stack, *, receive_count: int | None = None) -> dict:
    """Deliver what the API queued to the assistant function, as Lambda's SQS poller would."""
    settings = dependencies().settings
    sqs = boto3.client("sqs", region_name=settings.aws_region)
    url = settings.assistant_queue_url
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])
    assert messages, "nothing was queued"
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = sqs_event(messages, arn, settings.aws_region)
    if receive_count is not None:
        for record in event["Records"]:
            record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    answer = handler(stack, "AssistantFunction")(event, context("assistant"))
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return answer


def generate(stack, base, *, roles="admin", body=None, key="key-00001", user="user-1"):
    """POST a generation (202), run it, and answer the finished job and (if ready) its draft."""
    status, headers, queued = call("POST", base, roles=roles, body=body or {}, key=key, user=user)
    assert status == 202, queued
    assert headers["Location"] == [f"/v1/assistant-generations/{queued['generation_id']}"]
    assert queued["state"] == "pending" and queued["config_id"] is None
    assert run_queued(stack) == {"batchItemFailures": []}
    status, _, job = call("GET", headers["Location"][0], roles=roles, user=user)
    assert status == 200, job
    draft = call("GET", job["config_url"], roles=roles)[2] if job["state"] == "ready" else None
    return job, draft


def test_an_admin_generates_an_author_reads_and_only_an_approved_config_is_the_shipping_one(stack, package):
    base = f"/v1/packages/{package.package_id}/assistant-configs"
    status, _, refused = call("POST", base, roles="learner", body={}, key="k-learner-1")
    assert status == 403 and refused["status"] == 403
    job, created = generate(stack, base, body={"max_questions": 4}, key="k-admin-1")
    assert job["state"] == "ready" and job["config_id"] == "v1r1" and job["problem"] is None
    assert job["parameters"]["max_questions"] == 4 and job["requested_by"] == "user-1"
    assert created["state"] == "draft" and len(created["config"]["questions"]) <= 4
    manifest = dependencies().store.get_manifest(package.tenant_id, package.package_id, 1)
    validate_config(created["config"], frozenset(entry.path for entry in manifest.files))
    provenance = created["provenance"]
    assert provenance["output_sha256"] == canonical_sha256(created["config"])
    assert provenance["input"]["content_hash"] == manifest.content_hash
    assert provenance["requested_by"] == "user-1" and provenance["generator"] == "local-extractive"
    assert {f["path"] for f in provenance["input"]["files"]} == {"index.html", "how-it-works.html"}
    assert provenance["generation_id"] == job["generation_id"]

    # The same Idempotency-Key replays the first answer; it does not queue again.
    again = call("POST", base, roles="admin", body={"max_questions": 4}, key="k-admin-1")
    assert again[0] == 202 and again[2]["generation_id"] == job["generation_id"]
    settings = dependencies().settings
    queued = boto3.client("sqs", region_name=settings.aws_region).receive_message(
        QueueUrl=settings.assistant_queue_url
    )
    assert queued.get("Messages", []) == []
    assert call("GET", base, roles="author")[2]["items"][0]["config_id"] == "v1r1"
    assert len(call("GET", base, roles="author")[2]["items"]) == 1

    assert call("POST", f"{base}/v1r1/approve", roles="author")[0] == 403
    assert dependencies().assistants.get("tenant-a", package.package_id, 1).approved is None
    status, _, approved = call("POST", f"{base}/v1r1/approve", roles="admin", user="admin-9")
    assert status == 200 and approved["state"] == "approved" and approved["approved_by"] == "admin-9"
    assert call("POST", f"{base}/v1r1/approve", roles="admin")[0] == 409
    status, _, read = call("GET", f"{base}/v1r1", roles="author")
    assert status == 200 and read["provenance"] == provenance and read["state"] == "approved"


def test_another_tenant_sees_nothing_and_bad_ids_are_problems(stack, package):
    base = f"/v1/packages/{package.package_id}/assistant-configs"
    job, _ = generate(stack, base)
    assert call("GET", f"{base}/v1r1", roles="admin", tenant="tenant-b")[0] == 404
    generation = f"/v1/assistant-generations/{job['generation_id']}"
    assert call("GET", generation, roles="admin", tenant="tenant-b")[0] == 404
    assert call("GET", generation, roles="learner")[0] == 403
    assert call("GET", "/v1/assistant-generations/asg_" + "0" * 32, roles="admin")[0] == 404
    assert call("GET", "/v1/assistant-generations/exp_1", roles="admin")[0] == 422
    assert call("POST", base, roles="admin", body={}, key="key-00002", tenant="tenant-b")[0] == 404
    assert call("GET", f"{base}/v1r7", roles="admin")[0] == 404
    assert call("GET", f"{base}/latest", roles="admin")[0] == 422
    assert call("POST", base, roles="admin", body={"max_questions": 99}, key="key-00003")[0] == 422
    assert call("POST", base, roles="admin", body={}, key=None)[0] == 422


def test_the_stored_item_carries_the_events_the_stream_publishes(stack, package):
    base = f"/v1/packages/{package.package_id}/assistant-configs"
    generate(stack, base)
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
    stack, package, monkeypatch
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
    generate(stack, base)
    status, _, drafts_only = call("GET", path, roles="learner", user="learner-1")
    assert status == 200 and drafts_only == {"bundle_id": bundle_id, "overlays": []}
    call("POST", f"{base}/v1r1/approve", roles="admin")
    status, _, body = call("GET", path, roles="learner", user="learner-1")
    assert status == 200, body
    assert [o["package_id"] for o in body["overlays"]] == [package.package_id]
    claims = verify(body["overlays"][0]["token"], deps.key_ring.jwks(), typ=OVERLAY_TYP)
    assert claims["bundle_id"] == bundle_id and claims["content_hash"] == manifest.content_hash
    assert claims["iss"] == "content-service" and claims["tenant_id"] == "tenant-a"
    assert claims["config_sha256"] == canonical_sha256(body["overlays"][0]["config"])
    assert call("GET", path, roles="learner", user="learner-2")[0] == 404
    assert call("GET", path, roles="learner", user="learner-1", tenant="tenant-b")[0] == 404


def test_an_author_may_queue_a_generation_and_the_job_is_theirs_to_follow(stack, package):
    base = f"/v1/packages/{package.package_id}/assistant-configs"
    job, draft = generate(stack, base, roles="author", user="author-1")
    assert job["state"] == "ready" and draft["provenance"]["requested_by"] == "author-1"
    assert call("POST", f"{base}/{job['config_id']}/approve", roles="author")[0] == 403


def test_a_package_without_text_fails_the_job_with_a_problem_and_stores_no_draft(stack, package, monkeypatch):
    from content_service.service import assistant as cases

    # Given a package whose files the generator cannot read any text from
    monkeypatch.setattr(cases, "read_documents", lambda *args, **kwargs: ())
    job, draft = generate(stack, f"/v1/packages/{package.package_id}/assistant-configs")
    # Then the job is failed (final), with the reason, and nothing was stored
    assert job["state"] == "failed" and draft is None and job["config_id"] is None
    problem = job["problem"]
    assert problem["type"].endswith("/invariant-violated") and problem["title"]
    assert "no readable text" in problem["detail"]
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [([], "assistant.InvariantViolated")]
    assert dependencies().assistants.get("tenant-a", package.package_id, 1) is None


def test_generator_output_the_schema_refuses_fails_the_job_with_each_error_located(
    stack, package, monkeypatch
):
    from dataclasses import replace

    real = type(dependencies().ai).generate

    def refused_by_the_schema(self, request):
        made = real(self, request)
        config = copy.deepcopy(made.config)
        del config["reading_level"]
        config["questions"] = "not a list"
        return replace(made, config=config)

    monkeypatch.setattr(type(dependencies().ai), "generate", refused_by_the_schema)
    job, draft = generate(stack, f"/v1/packages/{package.package_id}/assistant-configs")
    # Then the job failed, final, and its problem lists where and why, as a 422 problem does
    assert job["state"] == "failed" and draft is None and job["config_id"] is None
    problem = job["problem"]
    assert problem["type"].endswith("/assistant-generation-failed")
    assert problem["title"] == "The assistant generator gave no usable configuration"
    assert problem["detail"].startswith("the generator's output was refused: ")
    assert problem["errors"] and all(e["type"] == "assistant.AssistantGenerationFailed" for e in problem["errors"])
    assert all(e["loc"][0] == "config" and e["msg"] for e in problem["errors"])
    assert ["config", "questions"] in [e["loc"] for e in problem["errors"]]
    assert any("reading_level" in e["msg"] and e["loc"] == ["config"] for e in problem["errors"])
    assert dependencies().assistants.get("tenant-a", package.package_id, 1) is None


def test_an_unavailable_generator_is_retried_and_fails_the_job_on_the_last_attempt(
    stack, package, monkeypatch
):
    from content_service.domain.assistant_ai import AssistantGeneratorUnavailable

    def busy(self, request):
        raise AssistantGeneratorUnavailable("Bedrock throttled")

    monkeypatch.setattr(type(dependencies().ai), "generate", busy)
    base = f"/v1/packages/{package.package_id}/assistant-configs"
    status, headers, queued = call("POST", base, roles="admin", body={}, key="key-00001")
    assert status == 202
    settings = dependencies().settings
    sqs = boto3.client("sqs", region_name=settings.aws_region)
    # The first delivery raises (the whole batch of one failed), so Lambda returns it to the queue.
    with pytest.raises(BatchProcessingError):
        run_queued(stack)
    assert call("GET", headers["Location"][0], roles="admin")[2]["state"] == "pending"
    # Requeue it as the queue's redelivery would, on the last allowed attempt.
    sqs.send_message(
        QueueUrl=settings.assistant_queue_url,
        MessageBody=json.dumps({"tenant_id": "tenant-a", "generation_id": queued["generation_id"]}),
    )
    assert run_queued(stack, receive_count=settings.assistant_job_max_attempts) == {"batchItemFailures": []}
    job = call("GET", headers["Location"][0], roles="admin")[2]
    assert job["state"] == "failed" and job["problem"]["type"].endswith("/assistant-generation-crashed")
    assert "AssistantGeneratorUnavailable" in job["problem"]["detail"]
    assert job["problem"]["errors"] == [
        {"loc": [], "type": "assistant.crashed", "msg": job["problem"]["detail"]}
    ]


def test_a_redelivered_job_whose_draft_was_saved_finds_it_instead_of_generating_again(stack, package):
    from content_service.domain.assistant import AssistantGeneration
    from content_service.domain.assistant_ai import GenerationParameters
    from content_service.service import assistant as cases

    deps = dependencies()
    now = deps.clock.now()
    job = deps.assistant_generations.add(
        AssistantGeneration.request(
            tenant_id="tenant-a",
            generation_id="asg_" + "1" * 32,
            package_id=package.package_id,
            version=1,
            parameters=GenerationParameters().as_dict(),
            requested_by="admin-1",
            now=now,
        )
    )
    # A run saved the draft and died before marking the job ready.
    cases.generate_assistant_config(
        "tenant-a", package.package_id, 1, "admin-1", GenerationParameters(),
        packages=deps.packages, store=deps.store, blobs=deps.store, ai=deps.ai,
        assistants=deps.assistants, clock=deps.clock, generation_id=job.generation_id,
    )  # fmt: skip
    done = cases.run_assistant_generation(
        "tenant-a", job.generation_id,
        generations=deps.assistant_generations, packages=deps.packages, store=deps.store,
        blobs=deps.store, ai=deps.ai, assistants=deps.assistants, clock=deps.clock,
    )  # fmt: skip
    assert done.state.value == "ready" and done.config_id == "v1r1"
    assert len(deps.assistants.get("tenant-a", package.package_id, 1).revisions) == 1


def test_the_sweep_fails_generations_left_pending_past_the_timeout(stack, package):
    from datetime import timedelta

    from content_service.domain.assistant import AssistantGeneration

    deps = dependencies()
    now = deps.clock.now()
    old = now - timedelta(seconds=deps.settings.assistant_job_timeout_seconds + 60)

    def pending(generation_id, at):
        return deps.assistant_generations.add(
            AssistantGeneration.request(
                tenant_id="tenant-a", generation_id=generation_id, package_id=package.package_id,
                version=1, parameters={}, requested_by="admin-1", now=at,
            )
        )  # fmt: skip

    stuck = pending("asg_" + "2" * 32, old)
    recent = pending("asg_" + "3" * 32, now)
    event = json.loads((EVENTS / "sweep_stale_builds" / "scheduled.json").read_text())
    result = handler(stack, "SweepStaleBuildsFunction")(event, context("sweep"))
    assert result["failed_assistant_generations"] == 1
    failed = deps.assistant_generations.get("tenant-a", stuck.generation_id)
    assert failed.state.value == "failed" and failed.problem.problem_type.endswith("/assistant-generation-abandoned")
    assert [error.type for error in failed.problem.errors] == ["assistant.abandoned"]
    assert deps.assistant_generations.get("tenant-a", recent.generation_id).state.value == "pending"
