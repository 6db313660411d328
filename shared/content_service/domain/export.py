"""The ExportJob aggregate: one export of a built package version to a standard's format.

States: ``pending → done`` and ``pending → failed``; both are final.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from content_service.domain.errors import InvalidTransition, InvariantViolated
from content_service.domain.events import DomainEvent
from content_service.domain.package import Problem

FORMATS = frozenset({"scorm12", "scorm2004", "xapi", "cmi5"})


class ExportState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ExportResult:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ExportJob:
    tenant_id: str
    export_id: str
    package_id: str
    version: int
    format: str
    options: dict[str, Any]
    state: ExportState
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    result: ExportResult | None = None
    problem: Problem | None = None
    events: tuple[DomainEvent, ...] = ()

    @classmethod
    def request(
        cls,
        *,
        tenant_id: str,
        export_id: str,
        package_id: str,
        version: int,
        format: str,
        options: dict[str, Any],
        now: datetime,
    ) -> ExportJob:
        if format not in FORMATS:
            raise InvariantViolated(f"unknown export format {format!r}; one of {sorted(FORMATS)}")
        job = cls(
            tenant_id, export_id, package_id, version, format, dict(options), ExportState.PENDING, now, now
        )
        return job._record("content.export.requested.v1", now, {"package_id": package_id, "format": format})

    def complete(self, result: ExportResult, now: datetime) -> ExportJob:
        self._require_pending()
        done = replace(self, state=ExportState.DONE, result=result, updated_at=now)
        return done._record("content.export.done.v1", now, {"key": result.key, "size": result.size})

    def fail(self, problem: Problem, now: datetime) -> ExportJob:
        self._require_pending()
        failed = replace(self, state=ExportState.FAILED, problem=problem, updated_at=now)
        return failed._record("content.export.failed.v1", now, problem.as_dict())

    def is_stale(self, now: datetime, export_timeout_seconds: float) -> bool:
        """An export still pending after the timeout was abandoned by a crashed or killed run."""
        return (
            self.state is ExportState.PENDING
            and (now - self.updated_at).total_seconds() > export_timeout_seconds
        )

    def _require_pending(self) -> None:
        if self.state is not ExportState.PENDING:
            raise InvalidTransition(f"export {self.export_id} is {self.state.value}", state=self.state.value)

    def _record(self, name: str, now: datetime, data: dict[str, Any]) -> ExportJob:
        return replace(
            self, events=(*self.events, DomainEvent(name, self.tenant_id, self.export_id, now, data))
        )
