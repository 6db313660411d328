"""Routes for assistant configurations: request a generation (author/admin, Idempotency-Key; async
like exports), follow it, read the configurations, approve one (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from content_service.api.auth import principal_of
from content_service.api.idempotency import IDEMPOTENCY_KEY_PATTERN
from content_service.api.models import JsonInt, JsonVersion, ProblemDocument
from content_service.api.responses import create_once
from content_service.bootstrap import dependencies
from content_service.domain.assistant import AssistantGeneration, AssistantRevision
from content_service.domain.assistant_ai import GenerationParameters
from content_service.domain.identifiers import ASSISTANT_CONFIG_ID as CONFIG_ID
from content_service.domain.identifiers import ASSISTANT_GENERATION_ID as GENERATION_ID
from content_service.domain.identifiers import BUNDLE_ID, PACKAGE_ID
from content_service.service import assistant as cases

router = Router()



class CreateAssistantConfig(BaseModel):
    """Generate an assistant configuration of a built package version from its text."""

    model_config = ConfigDict(extra="forbid", strict=True)

    version: JsonVersion | None = Field(default=None, description="default: the latest version")
    max_key_terms: JsonInt = Field(default=12, ge=1, le=30)
    max_questions: JsonInt = Field(default=8, ge=1, le=20)
    summary_sentences: JsonInt = Field(default=3, ge=1, le=10)


class InputDigestView(BaseModel):
    content_hash: str = Field(description="the package version's content hash")
    files: list[dict[str, str]] = Field(
        description="the files whose text reached the generator (path, sha256)"
    )
    sha256: str = Field(description="SHA-256 over the content hash and the files (RFC 8785 JSON)")


class ProvenanceView(BaseModel):
    generator: str
    model_id: str
    prompt_template_id: str
    prompt_template_sha256: str
    input: InputDigestView
    output_sha256: str = Field(description="SHA-256 of the config's RFC 8785 canonical JSON")
    parameters: dict[str, Any]
    requested_by: str
    requested_at: datetime
    usage: dict[str, int] = Field(description="token counts the generator reported (empty for local)")
    generation_id: str | None = Field(default=None, description="the generation job that made it")


class AssistantConfigView(BaseModel):
    config_id: str
    package_id: str
    version: int
    number: int
    state: Literal["draft", "approved", "retired"]
    config: dict[str, Any] = Field(description="valid against docs/schemas/assistant-config.v1.json")
    provenance: ProvenanceView
    approved_by: str | None = None
    approved_at: datetime | None = None
    retired_at: datetime | None = None

    @classmethod
    def of(cls, package_id: str, version: int, revision: AssistantRevision) -> AssistantConfigView:
        return cls(
            config_id=revision.config_id,
            package_id=package_id,
            version=version,
            number=revision.number,
            state=revision.state.value,  # type: ignore[arg-type]
            config=revision.config,
            provenance=ProvenanceView.model_validate(revision.provenance.as_dict()),
            approved_by=revision.approved_by,
            approved_at=revision.approved_at,
            retired_at=revision.retired_at,
        )


class AssistantConfigList(BaseModel):
    package_id: str
    version: int
    items: list[AssistantConfigView] = Field(description="newest first")


def _version_of(config_id: str) -> int:
    return int(config_id[1:].split("r", 1)[0])


class AssistantGenerationView(BaseModel):
    generation_id: str
    package_id: str
    version: int
    state: Literal["pending", "ready", "failed"]
    parameters: dict[str, int]
    requested_by: str
    created_at: datetime
    updated_at: datetime
    config_id: str | None = Field(default=None, description="the draft it made, once ready")
    config_url: str | None = Field(default=None, description="where to read that draft, once ready")
    problem: ProblemDocument | None = Field(
        default=None, description="why it failed, once failed: problem details with each error"
    )

    @classmethod
    def of(cls, job: AssistantGeneration) -> AssistantGenerationView:
        return cls(
            generation_id=job.generation_id,
            package_id=job.package_id,
            version=job.version,
            state=job.state.value,  # type: ignore[arg-type]
            parameters=job.parameters,
            requested_by=job.requested_by,
            created_at=job.created_at,
            updated_at=job.updated_at,
            config_id=job.config_id,
            config_url=(
                f"/v1/packages/{job.package_id}/assistant-configs/{job.config_id}" if job.config_id else None
            ),
            problem=ProblemDocument(**job.problem.as_dict()) if job.problem else None,
        )


def _request_generation(request: dict[str, Any]) -> dict[str, Any]:
    deps = dependencies()
    fields = dict(request["body"])
    package_id = fields.pop("package_id")
    body = CreateAssistantConfig.model_validate(fields)
    who = principal_of(router.current_event)
    job = cases.request_assistant_config(
        who.tenant_id,
        package_id,
        body.version,
        who.principal_id,
        GenerationParameters(body.max_key_terms, body.max_questions, body.summary_sentences),
        packages=deps.packages,
        generations=deps.assistant_generations,
        queue=deps.assistant_queue,
        clock=deps.clock,
    )
    return AssistantGenerationView.of(job).model_dump(mode="json")


@router.post(
    "/v1/packages/<package_id>/assistant-configs",
    operation_id="create_assistant_config",
    summary=(
        "Queue the generation of a draft assistant configuration from a built package's text"
        " (Idempotency-Key required); follow the Location"
    ),
)
def create_assistant_config(
    package_id: Annotated[str, Path(pattern=PACKAGE_ID)],
    body: CreateAssistantConfig,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)],
) -> Response[AssistantGenerationView]:
    return create_once(
        router.current_event,
        "create_assistant_config",
        _request_generation,
        key=idempotency_key,
        body={"package_id": package_id, **body.model_dump(mode="json")},
        location=lambda view: f"/v1/assistant-generations/{view['generation_id']}",
        status=202,
    )


@router.get(
    "/v1/assistant-generations/<generation_id>",
    operation_id="get_assistant_generation",
    summary="A generation of an assistant configuration: pending, ready (with the draft's id) or failed",
)
def get_assistant_generation(
    generation_id: Annotated[str, Path(pattern=GENERATION_ID)],
) -> AssistantGenerationView:
    job = cases.get_assistant_generation(
        principal_of(router.current_event).tenant_id,
        generation_id,
        generations=dependencies().assistant_generations,
    )
    return AssistantGenerationView.of(job)


@router.get(
    "/v1/packages/<package_id>/assistant-configs",
    operation_id="list_assistant_configs",
    summary="A package version's assistant configurations, newest first",
)
def list_assistant_configs(
    package_id: Annotated[str, Path(pattern=PACKAGE_ID)],
    version: Annotated[int | None, Query(ge=1)] = None,
) -> AssistantConfigList:
    deps = dependencies()
    package, revisions = cases.list_assistant_configs(
        principal_of(router.current_event).tenant_id,
        package_id,
        version,
        packages=deps.packages,
        assistants=deps.assistants,
    )
    return AssistantConfigList(
        package_id=package_id,
        version=package.version,
        items=[AssistantConfigView.of(package_id, package.version, r) for r in revisions],
    )


@router.get(
    "/v1/packages/<package_id>/assistant-configs/<config_id>",
    operation_id="get_assistant_config",
    summary="One assistant configuration with its provenance",
)
def get_assistant_config(
    package_id: Annotated[str, Path(pattern=PACKAGE_ID)],
    config_id: Annotated[str, Path(pattern=CONFIG_ID)],
) -> AssistantConfigView:
    revision = cases.get_assistant_config(
        principal_of(router.current_event).tenant_id,
        package_id,
        config_id,
        assistants=dependencies().assistants,
    )
    return AssistantConfigView.of(package_id, _version_of(config_id), revision)


@router.post(
    "/v1/packages/<package_id>/assistant-configs/<config_id>/approve",
    operation_id="approve_assistant_config",
    summary="Approve a draft so it ships to devices (the previously approved one is retired)",
)
def approve_assistant_config(
    package_id: Annotated[str, Path(pattern=PACKAGE_ID)],
    config_id: Annotated[str, Path(pattern=CONFIG_ID)],
) -> AssistantConfigView:
    deps = dependencies()
    who = principal_of(router.current_event)
    revision = cases.approve_assistant_config(
        who.tenant_id,
        package_id,
        config_id,
        who.principal_id,
        packages=deps.packages,
        assistants=deps.assistants,
        clock=deps.clock,
    )
    return AssistantConfigView.of(package_id, _version_of(config_id), revision)


class AssistantOverlay(BaseModel):
    package_id: str
    version: int
    config: dict[str, Any] = Field(
        description="the approved config; its RFC 8785 SHA-256 is the token's config_sha256"
    )
    token: str = Field(description="ES256 JWS, typ assistant-overlay+jws, verifiable with the JWKS")


class BundleAssistant(BaseModel):
    bundle_id: str
    overlays: list[AssistantOverlay] = Field(
        description="one per package of the bundle with an approved assistant config; drafts never"
    )


@router.get(
    "/v1/bundles/<bundle_id>/assistant",
    operation_id="get_bundle_assistant",
    summary="Signed overlays of the approved assistant configs of a bundle's packages",
)
def get_bundle_assistant(bundle_id: Annotated[str, Path(pattern=BUNDLE_ID)]) -> BundleAssistant:
    deps = dependencies()
    overlays = cases.bundle_assistant_overlays(
        principal_of(router.current_event),
        bundle_id,
        bundles=deps.bundles,
        assistants=deps.assistants,
        signer=deps.signer,
        clock=deps.clock,
    )
    return BundleAssistant(
        bundle_id=bundle_id,
        overlays=[
            AssistantOverlay(package_id=o.package_id, version=o.version, config=o.config, token=o.token)
            for o in overlays
        ],
    )
