"""Assistant configurations on the single DynamoDB table (the entities' generic item model).

Key: pk = ``TENANT#{t}#ASSISTANT#{package}``, sk = ``V#{version:010d}``: one item per package
version holds all its revisions, so approving one and retiring the previous is one conditional
write on the item's revision. ``events`` carries the write's domain events (the outbox).

Generation jobs: pk = ``TENANT#{t}#ASSISTANT_JOB#{id}``, sk = ``ASSISTANT_JOB``; while pending
also gsi2pk = ``ASSISTANT_PENDING``, gsi2sk = ``{updated_at}`` (the sweep's sparse index, like
the export jobs').
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from content_service.adapters.entities import _events, _optional_iso, _optional_time, _Store
from content_service.adapters.index_reads import items_of
from content_service.domain.assistant import (
    AssistantConfigState,
    AssistantGeneration,
    AssistantRevision,
    GenerationProblem,
    GenerationState,
    PackageAssistant,
    Provenance,
)


def _key(tenant_id: str, package_id: str, version: int) -> tuple[str, str]:
    return f"TENANT#{tenant_id}#ASSISTANT#{package_id}", f"V#{version:010d}"


class DynamoAssistantRepository(_Store):
    """AssistantRepository on DynamoDB."""

    def get(self, tenant_id: str, package_id: str, version: int) -> PackageAssistant | None:
        try:
            item = self._model.get(*_key(tenant_id, package_id, version), consistent_read=True)
        except DoesNotExist:
            return None
        return self._assistant(item)

    def save(self, assistant: PackageAssistant) -> PackageAssistant:
        what = f"assistant configs of package {assistant.package_id} v{assistant.version}"
        if assistant.revision == 0:
            return self._insert(assistant, self._item, what)
        return self._update(assistant, self._item, what)

    def _item(self, assistant: PackageAssistant) -> Model:
        return self._model(
            *_key(assistant.tenant_id, assistant.package_id, assistant.version),
            entity="assistant_config",
            tenant_id=assistant.tenant_id,
            revision=assistant.revision,
            body={
                "package_id": assistant.package_id,
                "version": assistant.version,
                "content_hash": assistant.content_hash,
                "created_at": assistant.created_at.isoformat(),
                "updated_at": assistant.updated_at.isoformat(),
                "revisions": [
                    {
                        "config_id": r.config_id,
                        "number": r.number,
                        "state": r.state.value,
                        "config": r.config,
                        "provenance": r.provenance.as_dict(),
                        "approved_by": r.approved_by,
                        "approved_at": _optional_iso(r.approved_at),
                        "retired_at": _optional_iso(r.retired_at),
                    }
                    for r in assistant.revisions
                ],
            },
            events=_events(assistant.events),
        )

    @staticmethod
    def _assistant(item: Any) -> PackageAssistant:
        body = item.body
        return PackageAssistant(
            tenant_id=item.tenant_id,
            package_id=body["package_id"],
            version=int(body["version"]),
            content_hash=body["content_hash"],
            revisions=tuple(
                AssistantRevision(
                    config_id=r["config_id"],
                    number=int(r["number"]),
                    state=AssistantConfigState(r["state"]),
                    config=r["config"],
                    provenance=Provenance.from_dict(r["provenance"]),
                    approved_by=r.get("approved_by"),
                    approved_at=_optional_time(r.get("approved_at")),
                    retired_at=_optional_time(r.get("retired_at")),
                )
                for r in body["revisions"]
            ),
            created_at=datetime.fromisoformat(body["created_at"]),
            updated_at=datetime.fromisoformat(body["updated_at"]),
            revision=int(item.revision),
        )


ASSISTANT_PENDING_PARTITION = "ASSISTANT_PENDING"


class DynamoAssistantGenerationRepository(_Store):
    """AssistantGenerationRepository on DynamoDB; pending jobs are also in the sparse gsi2."""

    def add(self, job: AssistantGeneration) -> AssistantGeneration:
        return self._insert(job, self._item, f"assistant generation {job.generation_id}")

    def save(self, job: AssistantGeneration) -> AssistantGeneration:
        return self._update(job, self._item, f"assistant generation {job.generation_id}")

    def get(self, tenant_id: str, generation_id: str) -> AssistantGeneration:
        return self._job(
            self._get(
                f"TENANT#{tenant_id}#ASSISTANT_JOB#{generation_id}",
                "ASSISTANT_JOB",
                f"assistant generation {generation_id}",
            )
        )

    def pending_since_before(self, cutoff: datetime, limit: int) -> list[AssistantGeneration]:
        results = self._model.gsi2.query(
            ASSISTANT_PENDING_PARTITION, self._model.gsi2sk < cutoff.isoformat(), limit=limit
        )
        return [self._job(item) for item in items_of(self._model, results, ("gsi2pk", "gsi2sk"))]

    @staticmethod
    def _job(item: Any) -> AssistantGeneration:
        body = item.body
        return AssistantGeneration(
            tenant_id=item.tenant_id,
            generation_id=body["generation_id"],
            package_id=body["package_id"],
            version=int(body["version"]),
            parameters={k: int(v) for k, v in body["parameters"].items()},
            requested_by=body["requested_by"],
            state=GenerationState(body["state"]),
            created_at=datetime.fromisoformat(body["created_at"]),
            updated_at=datetime.fromisoformat(body["updated_at"]),
            revision=int(item.revision),
            config_id=body.get("config_id"),
            problem=GenerationProblem.from_dict(body["problem"]) if body.get("problem") else None,
        )

    def _item(self, job: AssistantGeneration) -> Model:
        pending = job.state is GenerationState.PENDING
        return self._model(
            f"TENANT#{job.tenant_id}#ASSISTANT_JOB#{job.generation_id}",
            "ASSISTANT_JOB",
            gsi2pk=ASSISTANT_PENDING_PARTITION if pending else None,
            gsi2sk=job.updated_at.isoformat() if pending else None,
            entity="assistant_generation",
            tenant_id=job.tenant_id,
            revision=job.revision,
            body={
                "generation_id": job.generation_id,
                "package_id": job.package_id,
                "version": job.version,
                "parameters": job.parameters,
                "requested_by": job.requested_by,
                "state": job.state.value,
                "created_at": job.created_at.isoformat(),
                "updated_at": job.updated_at.isoformat(),
                "config_id": job.config_id,
                "problem": None if job.problem is None else job.problem.as_dict(),
            },
            events=_events(job.events),
        )
