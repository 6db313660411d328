"""Routes for a tenant's residency migration: start one (admins, Idempotency-Key), follow its progress."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from pydantic import BaseModel, ConfigDict, Field

from content_service.api.auth import principal_of
from content_service.api.idempotency import IDEMPOTENCY_KEY_PATTERN
from content_service.api.models import ZoneName
from content_service.api.responses import create_once
from content_service.bootstrap import dependencies
from content_service.domain.identifiers import MIGRATION_ID
from content_service.domain.migration import TenantMigration
from content_service.service import migration as cases

router = Router()



class MigrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    target_zone: ZoneName = Field(description="the zone to move the caller's tenant to")


class MigrationProgress(BaseModel):
    objects_total: int | None = Field(description="objects the verification found (null until it finished)")
    items_total: int | None = Field(description="items the verification found (null until it finished)")
    objects_copied: int
    items_copied: int
    bytes_copied: int
    objects_verified: int = Field(description="copies read back with the source's SHA-256")
    items_verified: int
    recopied: int = Field(description="copies that differed or were missing at verification and were copied again")
    devices_notified: int = Field(description="active devices given tenant.migrated in their feed")
    objects_deleted: int = Field(description="source objects deleted by a confirmed clean-up batch")
    items_deleted: int


class MigrationView(BaseModel):
    migration_id: str
    source_zone: str
    target_zone: str
    state: Literal["requested", "copying", "verifying", "verified", "switched", "cleaning", "done", "failed"] = (
        Field(
            description="requested → copying → verifying → verified → switched (devices told; the old "
            "zone keeps its copies for the grace period) → cleaning → done; failed only before the switch"
        )
    )
    step: str = Field(description="the work the migration waits for: copy, verify, switch, notify, clean, none")
    progress: MigrationProgress
    requested_by: str
    requested_at: datetime
    updated_at: datetime
    switched_at: datetime | None
    notified_at: datetime | None
    clean_after: datetime | None = Field(description="the old zone's copies are deleted after this")
    completed_at: datetime | None
    failure: str | None

    @classmethod
    def of(cls, migration: TenantMigration) -> MigrationView:
        return cls(
            migration_id=migration.migration_id,
            source_zone=migration.source_zone,
            target_zone=migration.target_zone,
            state=migration.state.value,  # type: ignore[arg-type]
            step=migration.step,
            progress=MigrationProgress(**migration.progress()),
            requested_by=migration.requested_by,
            requested_at=migration.requested_at,
            updated_at=migration.updated_at,
            switched_at=migration.switched_at,
            notified_at=migration.notified_at,
            clean_after=migration.clean_after,
            completed_at=migration.completed_at,
            failure=migration.failure,
        )


def _location(migration_id: str) -> str:
    return f"/v1/tenant/migrations/{migration_id}"


def _start(request: dict[str, Any]) -> dict[str, Any]:
    deps = dependencies()
    migration = cases.request_migration(
        principal_of(router.current_event),
        request["body"]["target_zone"],
        migrations=deps.migrations,
        settings=deps.tenant_settings,
        queue=deps.migration_queue,
        zones=deps.settings.zones,
        served_zone=deps.settings.residency_zone,
        clock=deps.clock,
        grace=timedelta(seconds=deps.settings.migration_grace_seconds),
        configured=deps.settings.migration_target_map.keys(),
    )
    return MigrationView.of(migration).model_dump(mode="json")


@router.post(
    "/v1/tenant/migrations",
    operation_id="create_migration",
    summary="Start moving the caller's tenant to another residency zone (Idempotency-Key required)",
)
def create_migration(
    body: MigrationRequest,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)],
) -> Response[MigrationView]:
    return create_once(
        router.current_event,
        "create_migration",
        _start,
        key=idempotency_key,
        body={"target_zone": body.target_zone},
        location=lambda view: _location(view["migration_id"]),
        status=202,
    )


@router.get(
    "/v1/tenant/migrations/<migration_id>",
    operation_id="get_migration",
    summary="A residency migration of the caller's tenant and its progress",
)
def get_migration(migration_id: Annotated[str, Path(pattern=MIGRATION_ID)]) -> MigrationView:
    deps = dependencies()
    return MigrationView.of(
        cases.migration_of(principal_of(router.current_event), migration_id, migrations=deps.migrations)
    )
