"""Assistant config use cases: generated from a built package's text, validated, approved by an admin."""

from __future__ import annotations

from dataclasses import replace

import pytest

from content_service.adapters.ai.local import LocalExtractiveGenerator
from content_service.domain.assistant import AssistantConfigState, canonical_sha256
from content_service.domain.assistant_ai import AssistantGenerationFailed, GenerationParameters
from content_service.domain.assistant_prompts import LOCAL_TEMPLATE
from content_service.domain.errors import ConcurrencyConflict, InvalidTransition, NotFound
from content_service.service.assistant import (
    approve_assistant_config,
    approved_config,
    generate_assistant_config,
    get_assistant_config,
    list_assistant_configs,
)
from tests.fakes import FakeClock, FakePackageRepository, FakePackageStore, FakeUploadStore
from tests.unit.service.test_exports import built


class FakeAssistantRepository:
    """One aggregate per (tenant, package, version), saved only on the revision read."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], object] = {}
        self.events: list = []
        self.conflicts = 0

    def get(self, tenant_id, package_id, version):
        return self.rows.get((tenant_id, package_id, version))

    def save(self, assistant):
        key = (assistant.tenant_id, assistant.package_id, assistant.version)
        stored = self.rows.get(key)
        if self.conflicts:
            self.conflicts -= 1
            raise ConcurrencyConflict("raced")
        if (stored.revision if stored else 0) != assistant.revision:
            raise ConcurrencyConflict("changed")
        self.events.extend(assistant.events)
        saved = replace(assistant, revision=assistant.revision + 1, events=())
        self.rows[key] = saved
        return saved


class LinkingGenerator(LocalExtractiveGenerator):
    """A generator talked into pointing learners outside the package."""

    def generate(self, request):
        generation = super().generate(request)
        config = dict(generation.config)
        config["summary"] = "Everything you need is at https://evil.example/course instead."
        return replace(generation, config=config)


@pytest.fixture
def world(tmp_path):
    return {
        "packages": FakePackageRepository(),
        "uploads": FakeUploadStore(tmp_path),
        "store": FakePackageStore(),
        "clock": FakeClock(),
        "assistants": FakeAssistantRepository(),
    }


def generate(world, package_id, *, tenant="t1", ai=None, who="admin-1", parameters=None):
    return generate_assistant_config(
        tenant,
        package_id,
        None,
        who,
        parameters or GenerationParameters(),
        packages=world["packages"],
        store=world["store"],
        blobs=world["store"],
        ai=ai or LocalExtractiveGenerator(),
        assistants=world["assistants"],
        clock=world["clock"],
    )


def approve(world, package_id, config_id, who="admin-2"):
    return approve_assistant_config(
        "t1",
        package_id,
        config_id,
        who,
        packages=world["packages"],
        assistants=world["assistants"],
        clock=world["clock"],
    )


def test_a_draft_is_generated_from_the_packages_text_with_complete_provenance(world):
    package = built(world)
    manifest = world["store"].get_manifest("t1", package.package_id, package.version)
    revision = generate(world, package.package_id).revision
    provenance = revision.provenance
    assert revision.config_id == "v1r1" and revision.state is AssistantConfigState.DRAFT
    assert (provenance.generator, provenance.prompt_template_id) == (
        "local-extractive",
        LOCAL_TEMPLATE.template_id,
    )
    assert (
        provenance.model_id.startswith("yake-") and provenance.prompt_template_sha256 == LOCAL_TEMPLATE.sha256
    )
    assert provenance.input.content_hash == manifest.content_hash
    by_path = {entry.path: entry.sha256 for entry in manifest.files}
    assert [f.path for f in provenance.input.files] == ["index.html", "how-it-works.html"]
    assert all(by_path[f.path] == f.sha256 for f in provenance.input.files)
    assert provenance.output_sha256 == canonical_sha256(revision.config)
    assert provenance.requested_by == "admin-1" and provenance.requested_at == world["clock"].now()
    assert provenance.parameters["max_key_terms"] == 12
    assert "sandbox" in revision.config["summary"].casefold() or revision.config["key_terms"]
    assert world["assistants"].events[-1].name == "content.assistant_config.generated.v1"


def test_each_generation_is_a_new_revision_listed_newest_first(world):
    package = built(world)
    generate(world, package.package_id)
    generate(world, package.package_id, parameters=GenerationParameters(max_key_terms=3))
    _, revisions = list_assistant_configs(
        "t1", package.package_id, None, packages=world["packages"], assistants=world["assistants"]
    )
    assert [r.config_id for r in revisions] == ["v1r2", "v1r1"]
    assert len(revisions[0].config["key_terms"]) == 3


def test_approval_ships_one_revision_and_retires_the_one_before(world):
    package = built(world)
    generate(world, package.package_id)
    generate(world, package.package_id)
    assert approved_config("t1", package.package_id, 1, assistants=world["assistants"]) is None
    first = approve(world, package.package_id, "v1r1")
    assert first.state is AssistantConfigState.APPROVED and first.approved_by == "admin-2"
    approve(world, package.package_id, "v1r2")
    assert approved_config("t1", package.package_id, 1, assistants=world["assistants"]).config_id == "v1r2"
    retired = get_assistant_config("t1", package.package_id, "v1r1", assistants=world["assistants"])
    assert retired.state is AssistantConfigState.RETIRED
    with pytest.raises(InvalidTransition):
        approve(world, package.package_id, "v1r2")


def test_an_output_that_points_outside_the_package_is_refused_and_nothing_is_stored(world):
    package = built(world)
    with pytest.raises(AssistantGenerationFailed, match="evil.example") as refused:
        generate(world, package.package_id, ai=LinkingGenerator())
    assert refused.value.extensions["errors"] and world["assistants"].rows == {}


def test_another_tenants_package_and_unknown_configs_are_not_found(world):
    package = built(world)
    generate(world, package.package_id)
    with pytest.raises(NotFound):
        generate(world, package.package_id, tenant="t2")
    for config_id in ("v1r9", "v2r1", "nonsense"):
        with pytest.raises(NotFound):
            get_assistant_config("t1", package.package_id, config_id, assistants=world["assistants"])
    with pytest.raises(NotFound):
        get_assistant_config("t2", package.package_id, "v1r1", assistants=world["assistants"])


def test_a_lost_race_is_retried_on_the_newest_aggregate(world):
    package = built(world)
    world["assistants"].conflicts = 1
    assert generate(world, package.package_id).revision.config_id == "v1r1"
    world["assistants"].conflicts = 5
    with pytest.raises(ConcurrencyConflict):
        generate(world, package.package_id)


def a_bundle(package, content_hash, state=None):
    from content_service.domain.bundle import Bundle, BundlePackage, BundleState
    from content_service.domain.package import ContainerRef

    return Bundle(
        tenant_id="t1",
        bundle_id="bun_1",
        user_id="learner-1",
        residency_zone="eu",
        packages=(
            BundlePackage(package.package_id, package.version, content_hash, ContainerRef("k", 1, "0" * 64)),
        ),
        state=state or BundleState.BUILT,
        created_at=FakeClock().now(),
        updated_at=FakeClock().now(),
    )


def test_only_an_approved_config_reaches_a_device_as_a_signed_overlay_beside_the_content(world):
    from content_service.crypto.signing import LocalSigner, verify
    from content_service.domain.bundle import BundleState
    from content_service.service.assistant import OVERLAY_TYP, sign_assistant_overlays

    package = built(world)
    content_hash = world["store"].get_manifest("t1", package.package_id, 1).content_hash
    bundle = a_bundle(package, content_hash)
    signer = LocalSigner.generate()

    def sign(b):
        return sign_assistant_overlays(b, assistants=world["assistants"], signer=signer, clock=world["clock"])

    generate(world, package.package_id)
    assert sign(bundle) == []
    approved = approve(world, package.package_id, "v1r1")
    [overlay] = sign(bundle)
    claims = verify(overlay.token, {"keys": [signer.public_jwk()]}, typ=OVERLAY_TYP)
    assert overlay.config == approved.config and claims["config_id"] == "v1r1"
    assert claims["content_hash"] == content_hash
    assert claims["config_sha256"] == canonical_sha256(overlay.config)
    # Small enough for KMS's RAW signing (4096 bytes), whatever the size of the config.
    assert len(overlay.token) < 4096
    assert claims["provenance"]["approved_by"] == "admin-2"
    with pytest.raises(NotFound):
        sign(a_bundle(package, content_hash, BundleState.REVOKED))


def test_a_refused_output_becomes_a_problem_that_locates_each_error_as_a_422_does(world):
    from content_service.service.assistant import generation_problem

    package = built(world)
    with pytest.raises(AssistantGenerationFailed) as refused:
        generate(world, package.package_id, ai=LinkingGenerator())
    problem = generation_problem(refused.value).as_dict()
    assert problem["type"].endswith("/assistant-generation-failed")
    assert problem["title"] == AssistantGenerationFailed.title and "evil.example" in problem["detail"]
    [error] = [e for e in problem["errors"] if "evil.example" in e["msg"]]
    assert error["loc"] == ["config", "summary"] and error["type"] == "assistant.AssistantGenerationFailed"
    assert not error["msg"].startswith("/summary")


def test_a_refusal_without_listed_errors_is_one_error_naming_its_kind():
    from content_service.domain.assistant_ai import AssistantGeneratorUnavailable
    from content_service.service.assistant import generation_problem

    problem = generation_problem(AssistantGeneratorUnavailable("Bedrock throttled")).as_dict()
    assert problem["errors"] == [{"loc": [], "type": "assistant.AssistantGeneratorUnavailable", "msg": "Bedrock throttled"}]
    assert problem["type"].endswith("/assistant-generator-unavailable")
