"""The PackageAssistant aggregate: the assistant configurations of one package version.

Each generation adds a revision (``v{version}r{n}``), a draft with an immutable provenance
record. A revision ships to devices only once an admin approved it: ``draft → approved →
retired`` (and ``draft → retired``). At most one revision is approved at a time; approving
another retires it, in the same write. The whole aggregate is one item, so that rule holds
under concurrency through the one conditional write every aggregate gets.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import rfc8785

from content_service.domain.errors import InvalidTransition, InvariantViolated, NotFound
from content_service.domain.events import DomainEvent

#: Revisions one package version may hold (the item stays far below DynamoDB's 400 KB).
MAX_REVISIONS = 20

#: The JWS ``typ`` of the signed overlay that carries an approved config to devices.
OVERLAY_TYP = "assistant-overlay+jws"

CONFIG_ID = re.compile(r"^v([1-9][0-9]{0,9})r([1-9][0-9]{0,3})$")


class AssistantConfigState(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    RETIRED = "retired"


def config_id(version: int, number: int) -> str:
    """The id of revision ``number`` of a package version's configuration, e.g. ``v3r2``."""
    return f"v{version}r{number}"


def canonical_sha256(value: Any) -> str:
    """SHA-256 over the RFC 8785 (JCS) canonical JSON of ``value``: stable across key order."""
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


@dataclass(frozen=True)
class FileRead:
    """A package file whose text reached the generator."""

    path: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}


@dataclass(frozen=True)
class InputDigest:
    """Exactly what a configuration was made from: the package version's content hash and files read.

    ``sha256`` is over both (canonical JSON), so one value pins the input.
    """

    content_hash: str
    files: tuple[FileRead, ...]

    @property
    def sha256(self) -> str:
        return canonical_sha256(self._material())

    def _material(self) -> dict[str, Any]:
        return {"content_hash": self.content_hash, "files": [f.as_dict() for f in self.files]}

    def as_dict(self) -> dict[str, Any]:
        return {**self._material(), "sha256": self.sha256}


@dataclass(frozen=True)
class Provenance:
    """How a revision was made. Written once with the revision and never changed."""

    generator: str
    model_id: str
    prompt_template_id: str
    prompt_template_sha256: str
    input: InputDigest
    output_sha256: str
    parameters: dict[str, Any]
    requested_by: str
    requested_at: datetime
    usage: dict[str, int]
    #: The generation job that made the revision (None for revisions made before jobs existed);
    #: a redelivered job finds its revision by it instead of generating a second one.
    generation_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "generation_id": self.generation_id,
            "generator": self.generator,
            "model_id": self.model_id,
            "prompt_template_id": self.prompt_template_id,
            "prompt_template_sha256": self.prompt_template_sha256,
            "input": self.input.as_dict(),
            "output_sha256": self.output_sha256,
            "parameters": self.parameters,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "usage": self.usage,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        digest = InputDigest(
            data["input"]["content_hash"], tuple(FileRead(**f) for f in data["input"]["files"])
        )
        if digest.sha256 != data["input"]["sha256"]:
            raise InvariantViolated("the stored input digest does not match its files")
        return cls(
            generator=data["generator"],
            model_id=data["model_id"],
            prompt_template_id=data["prompt_template_id"],
            prompt_template_sha256=data["prompt_template_sha256"],
            input=digest,
            output_sha256=data["output_sha256"],
            parameters=dict(data["parameters"]),
            requested_by=data["requested_by"],
            requested_at=datetime.fromisoformat(data["requested_at"]),
            usage={k: int(v) for k, v in data.get("usage", {}).items()},
            generation_id=data.get("generation_id"),
        )


@dataclass(frozen=True)
class AssistantRevision:
    """One generated configuration of a package version, with its provenance and approval."""

    config_id: str
    number: int
    state: AssistantConfigState
    config: dict[str, Any]
    provenance: Provenance
    approved_by: str | None = None
    approved_at: datetime | None = None
    retired_at: datetime | None = None

    def __post_init__(self) -> None:
        # The output hash is part of the provenance; a config that no longer matches it was altered.
        if canonical_sha256(self.config) != self.provenance.output_sha256:
            raise InvariantViolated(f"assistant config {self.config_id} does not match its output hash")


@dataclass(frozen=True)
class PackageAssistant:
    """All assistant configuration revisions of one package version (tenant, package, version)."""

    tenant_id: str
    package_id: str
    version: int
    content_hash: str
    revisions: tuple[AssistantRevision, ...]
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    events: tuple[DomainEvent, ...] = ()

    @classmethod
    def start(
        cls, *, tenant_id: str, package_id: str, version: int, content_hash: str, now: datetime
    ) -> PackageAssistant:
        """A package version without configurations yet (not stored until the first draft)."""
        return cls(tenant_id, package_id, version, content_hash, (), now, now)

    @property
    def approved(self) -> AssistantRevision | None:
        """The revision that ships to devices, if an admin approved one."""
        return next((r for r in self.revisions if r.state is AssistantConfigState.APPROVED), None)

    def get(self, wanted: str) -> AssistantRevision:
        for candidate in self.revisions:
            if candidate.config_id == wanted:
                return candidate
        raise NotFound(f"assistant config {wanted} of package {self.package_id} not found")

    def add_draft(self, config: dict[str, Any], provenance: Provenance, now: datetime) -> PackageAssistant:
        """Add a generated configuration as a draft; the domain checked it before it got here."""
        if provenance.input.content_hash != self.content_hash:
            raise InvariantViolated("the configuration was made from other content than this package version")
        if len(self.revisions) >= MAX_REVISIONS:
            raise InvariantViolated(
                f"package {self.package_id} v{self.version} already has {MAX_REVISIONS} assistant configs"
            )
        number = len(self.revisions) + 1
        draft = AssistantRevision(
            config_id(self.version, number), number, AssistantConfigState.DRAFT, dict(config), provenance
        )
        added = replace(self, revisions=(*self.revisions, draft), updated_at=now)
        return added._record(
            "content.assistant_config.generated.v1",
            draft,
            now,
            {
                "generator": provenance.generator,
                "model_id": provenance.model_id,
                "prompt_template_id": provenance.prompt_template_id,
                "prompt_template_sha256": provenance.prompt_template_sha256,
                "input_sha256": provenance.input.sha256,
                "content_hash": provenance.input.content_hash,
                "output_sha256": provenance.output_sha256,
                "requested_by": provenance.requested_by,
            },
        )

    def approve(self, wanted: str, approver: str, now: datetime) -> PackageAssistant:
        """Approve a draft; the revision approved before it (if any) is retired in the same change."""
        target = self.get(wanted)
        if target.state is not AssistantConfigState.DRAFT:
            raise InvalidTransition(
                f"assistant config {wanted} is {target.state.value}: only a draft can be approved",
                state=target.state.value,
            )
        previous = self.approved
        changed = []
        for candidate in self.revisions:
            if candidate is target:
                candidate = replace(
                    candidate, state=AssistantConfigState.APPROVED, approved_by=approver, approved_at=now
                )
            elif candidate is previous:
                candidate = replace(candidate, state=AssistantConfigState.RETIRED, retired_at=now)
            changed.append(candidate)
        approved = replace(self, revisions=tuple(changed), updated_at=now)
        return approved._record(
            "content.assistant_config.approved.v1",
            target,
            now,
            {
                "output_sha256": target.provenance.output_sha256,
                "approved_by": approver,
                "retired_config_id": previous.config_id if previous else None,
            },
        )

    def retire(self, wanted: str, now: datetime) -> PackageAssistant:
        """Take a draft or the approved revision out of use for good."""
        target = self.get(wanted)
        if target.state is AssistantConfigState.RETIRED:
            raise InvalidTransition(f"assistant config {wanted} is already retired", state="retired")
        retired = replace(target, state=AssistantConfigState.RETIRED, retired_at=now)
        return replace(
            self,
            revisions=tuple(retired if r is target else r for r in self.revisions),
            updated_at=now,
        )

    def _record(
        self, name: str, subject: AssistantRevision, now: datetime, data: dict[str, Any]
    ) -> PackageAssistant:
        body = {"package_id": self.package_id, "version": self.version, **data}
        event = DomainEvent(name, self.tenant_id, subject.config_id, now, body)
        return replace(self, events=(*self.events, event))


GENERATION_ID = re.compile(r"^asg_[0-9a-f]{32}$")


@dataclass(frozen=True)
class FieldError:
    """One thing wrong, in the shape the API's validation problems use: where, what kind, why."""

    loc: tuple[str, ...]
    type: str
    msg: str

    def as_dict(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "type": self.type, "msg": self.msg}


@dataclass(frozen=True)
class GenerationProblem:
    """Why a generation failed, as RFC 9457 problem details: a type, a title, a detail, the errors."""

    problem_type: str
    title: str
    detail: str
    errors: tuple[FieldError, ...] = ()

    @property
    def code(self) -> str:
        """The stable machine code of the failure (metrics count by it): its first error's type."""
        return self.errors[0].type if self.errors else "assistant.failed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.problem_type,
            "title": self.title,
            "detail": self.detail,
            "errors": [error.as_dict() for error in self.errors],
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> GenerationProblem:
        if "type" not in body:  # stored before problems carried a type: ``{code, detail, path}``
            code = str(body.get("code", "assistant.failed"))
            return cls(
                "about:blank",
                "The assistant generation failed",
                str(body.get("detail", "")),
                (FieldError((), code, str(body.get("detail", ""))),),
            )
        errors = tuple(
            FieldError(tuple(str(part) for part in e.get("loc", ())), str(e["type"]), str(e["msg"]))
            for e in body.get("errors") or ()
        )
        return cls(str(body["type"]), str(body["title"]), str(body["detail"]), errors)


class GenerationState(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class AssistantGeneration:
    """One request to generate an assistant configuration: ``pending → ready | failed`` (final).

    The API records it and queues it; the assistant function runs the generator and adds the
    draft to the package version's :class:`PackageAssistant`, then marks the job ``ready`` with
    the new revision's id, or ``failed`` with a problem. It records no integration events: the
    draft's own ``content.assistant_config.generated.v1`` is the outcome other services see.
    """

    tenant_id: str
    generation_id: str
    package_id: str
    version: int
    parameters: dict[str, int]
    requested_by: str
    state: GenerationState
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    config_id: str | None = None
    problem: GenerationProblem | None = None
    events: tuple[DomainEvent, ...] = ()

    @classmethod
    def request(
        cls,
        *,
        tenant_id: str,
        generation_id: str,
        package_id: str,
        version: int,
        parameters: dict[str, int],
        requested_by: str,
        now: datetime,
    ) -> AssistantGeneration:
        if not GENERATION_ID.fullmatch(generation_id):
            raise InvariantViolated(f"not a generation id: {generation_id!r}")
        return cls(
            tenant_id,
            generation_id,
            package_id,
            version,
            dict(parameters),
            requested_by,
            GenerationState.PENDING,
            now,
            now,
        )

    def complete(self, made: str, now: datetime) -> AssistantGeneration:
        self._require_pending()
        if not CONFIG_ID.fullmatch(made):
            raise InvariantViolated(f"not a config id: {made!r}")
        return replace(self, state=GenerationState.READY, config_id=made, updated_at=now)

    def fail(self, problem: GenerationProblem, now: datetime) -> AssistantGeneration:
        self._require_pending()
        return replace(self, state=GenerationState.FAILED, problem=problem, updated_at=now)

    def is_stale(self, now: datetime, timeout_seconds: float) -> bool:
        """A generation still pending after the timeout was abandoned by a crashed or killed run."""
        return (
            self.state is GenerationState.PENDING
            and (now - self.updated_at).total_seconds() > timeout_seconds
        )

    def _require_pending(self) -> None:
        if self.state is not GenerationState.PENDING:
            raise InvalidTransition(
                f"assistant generation {self.generation_id} is {self.state.value}", state=self.state.value
            )
