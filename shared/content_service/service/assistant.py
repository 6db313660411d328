"""Assistant configuration use cases: generate one from a built package's text, read, approve.

The package's own files are the only input: its readable files (HTML, plain text) are read from
the content-addressed store, launch pages first, and turned into text by a real HTML parser.
Whatever the generator returns is validated (schema, package-only references) before it is
kept, and kept with its provenance as a draft; only an admin's approval lets it ship.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from content_service.crypto.signing import ISSUER
from content_service.domain.assistant import (
    CONFIG_ID,
    OVERLAY_TYP,
    AssistantGeneration,
    AssistantRevision,
    FieldError,
    FileRead,
    GenerationProblem,
    GenerationState,
    InputDigest,
    PackageAssistant,
    Provenance,
    canonical_sha256,
)
from content_service.domain.assistant_ai import (
    AIClient,
    AssistantGenerationFailed,
    AssistantGeneratorUnavailable,
    GenerationParameters,
    GenerationRequest,
    SourceDocument,
)
from content_service.domain.assistant_schema import AssistantConfigInvalid, validate_config
from content_service.domain.assistant_text import extract, readable
from content_service.domain.bundle import Bundle, BundleState
from content_service.domain.errors import (
    PROBLEM_BASE,
    ConcurrencyConflict,
    DomainError,
    InvariantViolated,
    NotFound,
    ValidationFailed,
)
from content_service.domain.package import PackageManifest, PackageState, PlayPackage
from content_service.domain.principal import Principal
from content_service.service.access import bundle_for
from content_service.service.ports import (
    AssistantQueue,
    BlobReader,
    BundleRepository,
    Clock,
    PackageRepository,
    PackageStore,
    TokenSigner,
)

#: Files larger than this are not read for text (a page of a course is far smaller).
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
#: At most this many files are read; launch pages come first, so they are never the ones left out.
MAX_DOCUMENTS = 300
_SAVE_ATTEMPTS = 3


class AssistantRepository(Protocol):
    """Persistence of each package version's assistant configurations (one item per version)."""

    def get(self, tenant_id: str, package_id: str, version: int) -> PackageAssistant | None:
        """The package version's configurations, or None if none was ever generated."""
        ...

    def save(self, assistant: PackageAssistant) -> PackageAssistant:
        """Store the aggregate if its stored revision is still ``assistant.revision`` (0: absent).

        Returns it with the events cleared and the revision moved on; raises ConcurrencyConflict.
        """
        ...


class AssistantGenerationRepository(Protocol):
    """Persistence of generation jobs (one item each; pending ones are findable by the sweep)."""

    def add(self, job: AssistantGeneration) -> AssistantGeneration: ...

    def save(self, job: AssistantGeneration) -> AssistantGeneration: ...

    def get(self, tenant_id: str, generation_id: str) -> AssistantGeneration:
        """The job, or NotFound (another tenant's job is not found either)."""
        ...

    def pending_since_before(self, cutoff: datetime, limit: int) -> list[AssistantGeneration]:
        """Up to ``limit`` jobs of any tenant still pending, last changed before ``cutoff``."""
        ...


@dataclass(frozen=True)
class Generated:
    assistant: PackageAssistant
    revision: AssistantRevision


def generate_assistant_config(
    tenant_id: str,
    package_id: str,
    version: int | None,
    requested_by: str,
    parameters: GenerationParameters,
    *,
    packages: PackageRepository,
    store: PackageStore,
    blobs: BlobReader,
    ai: AIClient,
    assistants: AssistantRepository,
    clock: Clock,
    generation_id: str | None = None,
) -> Generated:
    """Generate a draft configuration of a built package version from its text.

    ``generation_id`` names the job that asked (kept in the provenance), so a redelivered job
    finds the draft it already made rather than making a second one.
    """
    package = _built(packages, tenant_id, package_id, version)
    manifest = store.get_manifest(tenant_id, package_id, package.version)
    documents = read_documents(tenant_id, manifest, blobs)
    if not documents:
        raise InvariantViolated(
            f"package {package_id} v{package.version} has no readable text (HTML or plain text files)"
        )
    paths = frozenset(entry.path for entry in manifest.files)
    request = GenerationRequest(
        title=manifest.title,
        language=_language_of(documents) if not _usable(manifest.language) else str(manifest.language),
        documents=documents,
        package_paths=paths,
        parameters=parameters,
    )
    generation = ai.generate(request)
    try:
        config = validate_config(generation.config, paths)
    except AssistantConfigInvalid as refused:
        raise AssistantGenerationFailed(
            f"the generator's output was refused: {refused.detail}", errors=refused.extensions.get("errors")
        ) from refused
    hashes = {document.path: document.sha256 for document in documents}
    now = clock.now()
    provenance = Provenance(
        generator=generation.generator,
        model_id=generation.model_id,
        prompt_template_id=generation.template.template_id,
        prompt_template_sha256=generation.template.sha256,
        input=InputDigest(
            manifest.content_hash, tuple(FileRead(path, hashes[path]) for path in generation.documents_read)
        ),
        output_sha256=canonical_sha256(config),
        parameters=generation.parameters,
        requested_by=requested_by,
        requested_at=now,
        usage=generation.usage,
        generation_id=generation_id,
    )
    for attempt in range(_SAVE_ATTEMPTS):
        # Another generation for the same version may have been saved meanwhile: add to the newest.
        current = assistants.get(tenant_id, package_id, package.version) or PackageAssistant.start(
            tenant_id=tenant_id,
            package_id=package_id,
            version=package.version,
            content_hash=manifest.content_hash,
            now=now,
        )
        try:
            saved = assistants.save(current.add_draft(config, provenance, now))
        except ConcurrencyConflict:
            if attempt == _SAVE_ATTEMPTS - 1:
                raise
            continue
        return Generated(saved, saved.revisions[-1])
    raise AssertionError("unreachable")  # pragma: no cover


def request_assistant_config(
    tenant_id: str,
    package_id: str,
    version: int | None,
    requested_by: str,
    parameters: GenerationParameters,
    *,
    packages: PackageRepository,
    generations: AssistantGenerationRepository,
    queue: AssistantQueue,
    clock: Clock,
) -> AssistantGeneration:
    """Record a pending generation of a built package version and queue it for the assistant function.

    Only the cheap checks run here (the version exists and is built); reading the text and the
    generator's call run in the assistant function, whose outcome the job records.
    """
    package = _built(packages, tenant_id, package_id, version)
    job = generations.add(
        AssistantGeneration.request(
            tenant_id=tenant_id,
            generation_id=f"asg_{uuid.uuid4().hex}",
            package_id=package_id,
            version=package.version,
            parameters={
                "max_key_terms": parameters.max_key_terms,
                "max_questions": parameters.max_questions,
                "summary_sentences": parameters.summary_sentences,
            },
            requested_by=requested_by,
            now=clock.now(),
        )
    )
    queue.send(tenant_id, job.generation_id)
    return job


#: Errors a later attempt may not see (the generator was busy, another writer won a race):
#: raised again so the queue redelivers. Every other refusal is final and fails the job.
_RETRYABLE = (AssistantGeneratorUnavailable, ConcurrencyConflict)


def run_assistant_generation(
    tenant_id: str,
    generation_id: str,
    *,
    generations: AssistantGenerationRepository,
    packages: PackageRepository,
    store: PackageStore,
    blobs: BlobReader,
    ai: AIClient,
    assistants: AssistantRepository,
    clock: Clock,
) -> AssistantGeneration:
    """Run a pending generation job: the draft is added and the job marked ready, or failed.

    Idempotent on redelivery: a job no longer pending is returned as it is, and a job whose
    draft was saved by a run that died before marking the job finds that draft by its id.
    """
    job = generations.get(tenant_id, generation_id)
    if job.state is not GenerationState.PENDING:
        return job
    existing = assistants.get(tenant_id, job.package_id, job.version)
    made = (
        next((r for r in existing.revisions if r.provenance.generation_id == generation_id), None)
        if existing
        else None
    )
    if made is None:
        try:
            made = generate_assistant_config(
                tenant_id,
                job.package_id,
                job.version,
                job.requested_by,
                GenerationParameters(**job.parameters),
                packages=packages,
                store=store,
                blobs=blobs,
                ai=ai,
                assistants=assistants,
                clock=clock,
                generation_id=generation_id,
            ).revision
        except _RETRYABLE:
            raise
        except DomainError as refused:
            problem = generation_problem(refused)
            return _finish(generations, job, lambda current: current.fail(problem, clock.now()))
    config_id = made.config_id
    return _finish(generations, job, lambda current: current.complete(config_id, clock.now()))


def generation_problem(refused: DomainError) -> GenerationProblem:
    """The problem a generation refused by ``refused`` fails with: its type and title, and each error.

    A refused configuration lists its errors as ``/json/pointer: message`` lines; each becomes one
    ``{loc, type, msg}`` entry, ``loc`` being ``config`` and the pointer's parts. Any other refusal
    is one entry naming its class.
    """
    code = f"assistant.{type(refused).__name__}"
    lines = refused.extensions.get("errors")
    errors: tuple[FieldError, ...]
    if isinstance(lines, list | tuple) and lines:
        errors = tuple(_field_error(str(line), code) for line in lines)
    else:
        errors = (FieldError((), code, refused.detail),)
    return GenerationProblem(refused.problem_type, refused.title, refused.detail, errors)


def _field_error(line: str, code: str) -> FieldError:
    pointer, sep, message = line.partition(": ")
    if not sep or not pointer.startswith("/"):
        return FieldError(("config",), code, line)
    parts = tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:] if part)
    return FieldError(("config", *parts), code, message)


def fail_assistant_generation_after_retries(
    tenant_id: str,
    generation_id: str,
    reason: str,
    *,
    generations: AssistantGenerationRepository,
    clock: Clock,
) -> AssistantGeneration:
    """A generation that crashed (or found the generator unavailable) on every delivery: fail it."""
    job = generations.get(tenant_id, generation_id)
    if job.state is not GenerationState.PENDING:
        return job
    detail = f"the generation failed on every attempt: {reason}"
    problem = GenerationProblem(
        PROBLEM_BASE + "assistant-generation-crashed",
        "The assistant generation failed on every attempt",
        detail,
        (FieldError((), "assistant.crashed", detail),),
    )
    return _finish(generations, job, lambda current: current.fail(problem, clock.now()))


def fail_abandoned_assistant_generations(
    *,
    generations: AssistantGenerationRepository,
    clock: Clock,
    timeout_seconds: int,
    batch: int = 100,
) -> list[AssistantGeneration]:
    """Fail every generation pending longer than the timeout (its run was killed, or never ran)."""
    now = clock.now()
    detail = f"no generation finished within {timeout_seconds} s of its last change (crashed or never run)"
    problem = GenerationProblem(
        PROBLEM_BASE + "assistant-generation-abandoned",
        "The assistant generation was abandoned",
        detail,
        (FieldError((), "assistant.abandoned", detail),),
    )
    failed = []
    for job in generations.pending_since_before(now - timedelta(seconds=timeout_seconds), batch):
        if not job.is_stale(now, timeout_seconds):
            continue
        try:
            failed.append(generations.save(job.fail(problem, now)))
        except ConcurrencyConflict:
            continue
    return failed


def get_assistant_generation(
    tenant_id: str, generation_id: str, *, generations: AssistantGenerationRepository
) -> AssistantGeneration:
    return generations.get(tenant_id, generation_id)


def assistant_job_of(message_body: str) -> tuple[str, str]:
    """The (tenant, generation id) an assistant-queue message names."""
    try:
        message = json.loads(message_body)
        return str(message["tenant_id"]), str(message["generation_id"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationFailed("the message is not an assistant generation job") from error


def _finish(
    generations: AssistantGenerationRepository, job: AssistantGeneration, change: Any
) -> AssistantGeneration:
    try:
        return generations.save(change(job))
    except ConcurrencyConflict:
        # Another delivery (or the sweep) finished the job first; its outcome stands.
        return generations.get(job.tenant_id, job.generation_id)


def list_assistant_configs(
    tenant_id: str,
    package_id: str,
    version: int | None,
    *,
    packages: PackageRepository,
    assistants: AssistantRepository,
) -> tuple[PlayPackage, list[AssistantRevision]]:
    """A package version's configurations, newest first (empty if none was generated)."""
    package = packages.get(tenant_id, package_id, version)
    found = assistants.get(tenant_id, package_id, package.version)
    return package, list(reversed(found.revisions)) if found else []


def get_assistant_config(
    tenant_id: str, package_id: str, config_id: str, *, assistants: AssistantRepository
) -> AssistantRevision:
    return _load(assistants, tenant_id, package_id, config_id).get(config_id)


def approve_assistant_config(
    tenant_id: str,
    package_id: str,
    config_id: str,
    approver: str,
    *,
    packages: PackageRepository,
    assistants: AssistantRepository,
    clock: Clock,
) -> AssistantRevision:
    """Approve a draft so it ships to devices; the previously approved one is retired with it."""
    assistant = _load(assistants, tenant_id, package_id, config_id)
    # A revoked or failed package version ships nothing, so nothing of it is approved either.
    _built(packages, tenant_id, package_id, assistant.version)
    return assistants.save(assistant.approve(config_id, approver, clock.now())).get(config_id)


def approved_config(
    tenant_id: str, package_id: str, version: int, *, assistants: AssistantRepository
) -> AssistantRevision | None:
    """The configuration that ships with a package version to devices, if one was approved."""
    found = assistants.get(tenant_id, package_id, version)
    return found.approved if found else None


def read_documents(
    tenant_id: str, manifest: PackageManifest, blobs: BlobReader
) -> tuple[SourceDocument, ...]:
    """The readable text of a package, launch pages first, then in manifest order."""
    launch_paths = [launch.href for launch in manifest.launches]
    order = {path: index for index, path in enumerate(dict.fromkeys(launch_paths))}
    entries = sorted(
        (e for e in manifest.files if readable(e.media_type) and e.size <= MAX_DOCUMENT_BYTES),
        key=lambda e: order.get(e.path, len(order)),
    )
    documents = []
    for entry in entries[:MAX_DOCUMENTS]:
        with blobs.open_blob(tenant_id, entry.sha256) as source:
            data = source.read(MAX_DOCUMENT_BYTES + 1)
        document = extract(entry.path, entry.sha256, entry.media_type, data)
        if document is not None:
            documents.append(document)
    return tuple(documents)


def _built(packages: PackageRepository, tenant_id: str, package_id: str, version: int | None) -> PlayPackage:
    package = packages.get(tenant_id, package_id, version)
    if package.state is not PackageState.BUILT:
        raise NotFound(
            f"package {package_id} v{package.version} is {package.state.value}: "
            "only built packages have assistant configs"
        )
    return package


def _load(
    assistants: AssistantRepository, tenant_id: str, package_id: str, config_id: str
) -> PackageAssistant:
    match = CONFIG_ID.fullmatch(config_id)
    found = assistants.get(tenant_id, package_id, int(match.group(1))) if match else None
    if found is None:
        raise NotFound(f"assistant config {config_id} of package {package_id} not found")
    return found


_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def _usable(language: str | None) -> bool:
    return bool(language and _TAG.fullmatch(language))


def _language_of(documents: tuple[SourceDocument, ...]) -> str:
    """The most common ``lang`` of the pages (ties: the first in order); English if none is usable."""
    languages = [d.language.replace("_", "-") for d in documents if d.language]
    usable = [tag for tag in languages if _TAG.fullmatch(tag)]
    return max(usable, key=usable.count) if usable else "en"


@dataclass(frozen=True)
class SignedOverlay:
    """An approved config and the JWS that binds it (by its RFC 8785 SHA-256) to a bundle's package."""

    package_id: str
    version: int
    config: dict[str, Any]
    token: str


def bundle_assistant_overlays(
    principal: Principal,
    bundle_id: str,
    *,
    bundles: BundleRepository,
    assistants: AssistantRepository,
    signer: TokenSigner,
    clock: Clock,
) -> list[SignedOverlay]:
    """The signed overlays of a bundle the caller may read (a learner: only their own)."""
    bundle = bundle_for(principal, bundle_id, bundles)
    return sign_assistant_overlays(bundle, assistants=assistants, signer=signer, clock=clock)


def sign_assistant_overlays(
    bundle: Bundle, *, assistants: AssistantRepository, signer: TokenSigner, clock: Clock
) -> list[SignedOverlay]:
    """A signed overlay of the approved config of each package of a built bundle that has one.

    A package without an approved configuration gets none: a draft never reaches a device. The
    token names the bundle, the package version and its content hash, so a device applies it only
    to the content it verified, and the config's SHA-256 (RFC 8785), so the config itself travels
    beside the token (small enough for KMS's RAW signing) and cannot be swapped. The content hash
    never changes with the assistant: a new approval never re-seals content.
    """
    if bundle.state is not BundleState.BUILT:
        raise NotFound(f"bundle {bundle.bundle_id} is {bundle.state.value}: only built bundles have overlays")
    now = clock.now()
    overlays = []
    for package in bundle.packages:
        revision = approved_config(
            bundle.tenant_id, package.package_id, package.version, assistants=assistants
        )
        if revision is None or revision.approved_at is None:
            continue
        provenance = revision.provenance
        claims = {
            "iss": ISSUER,
            "tenant_id": bundle.tenant_id,
            "bundle_id": bundle.bundle_id,
            "package_id": package.package_id,
            "version": package.version,
            "content_hash": package.content_hash,
            "config_id": revision.config_id,
            "config_sha256": provenance.output_sha256,
            "provenance": {
                "generator": provenance.generator,
                "model_id": provenance.model_id,
                "prompt_template_id": provenance.prompt_template_id,
                "prompt_template_sha256": provenance.prompt_template_sha256,
                "input_sha256": provenance.input.sha256,
                "approved_by": revision.approved_by,
                "approved_at": revision.approved_at.isoformat(),
            },
            "iat": int(now.timestamp()),
        }
        token = signer.sign(claims, typ=OVERLAY_TYP)
        overlays.append(SignedOverlay(package.package_id, package.version, revision.config, token))
    return overlays
