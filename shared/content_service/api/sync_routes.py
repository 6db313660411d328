"""The device sync route: a device's change feed since its cursor, with a signed fresh status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from content_service.api.auth import principal_of
from content_service.bootstrap import dependencies
from content_service.domain.identifiers import DEVICE_ID
from content_service.service import sync as sync_cases
from content_service.service.outbox_ports import FeedEntry

router = Router()

#: A device's one-time value for a status: 16-128 URL-safe characters (devices send 32 random bytes).
NONCE = r"^[A-Za-z0-9_-]{16,128}$"
MAX_CHANGES = 500


class ChangeView(BaseModel):
    seq: int = Field(description="position in this device's feed; strictly increasing, no gaps")
    type: Literal["bundle.added", "bundle.revoked", "licence.renewed", "tenant.migrated", "assistant_config.approved"]
    bundle_id: str = Field(description="the bundle changed; empty for tenant.migrated")
    at: datetime = Field(description="when the change happened (the domain event's time)")
    event_id: str = Field(description="the event that caused the change")
    reason: str | None = None
    zone: str | None = Field(default=None, description="tenant.migrated: the tenant's new residency zone")
    api_endpoints: list[str] | None = Field(
        default=None, description="tenant.migrated: the new zone's API endpoints, primary first; re-point to them"
    )
    package_id: str | None = Field(default=None, description="assistant_config.approved: the package")
    version: int | None = Field(default=None, description="assistant_config.approved: the package version")
    config_id: str | None = Field(
        default=None, description="assistant_config.approved: the config now approved; fetch the bundle's overlay"
    )
    revision: int | None = Field(default=None, description="assistant_config.approved: the config's revision number")
    resume_after_seq: int | None = Field(
        default=None,
        description=(
            "tenant.migrated: the new zone's copy of this feed keeps every position; sync there from"
            " the start (no cursor: cursors are sealed per zone) and skip what is at or before this"
        ),
    )

    @classmethod
    def of(cls, entry: FeedEntry, device_id: str) -> ChangeView:
        change = entry.change
        if change.type == "tenant.migrated":
            detail = change.detail or {}
            return cls(
                seq=entry.seq,
                type="tenant.migrated",
                bundle_id="",
                at=change.at,
                event_id=change.event_id,
                zone=str(detail.get("zone", "")),
                api_endpoints=[str(url) for url in detail.get("api_endpoints", [])],
                # Before this change: the new zone's feed has its own tenant.migrated (the same event
                # id) at or after this position, so a device reading on after it misses nothing. A
                # cursor would not do: each zone seals cursors under its own key.
                resume_after_seq=entry.seq - 1,
            )
        if change.type == "assistant_config.approved":
            detail = change.detail or {}
            return cls(
                seq=entry.seq,
                type="assistant_config.approved",
                bundle_id=change.bundle_id,
                at=change.at,
                event_id=change.event_id,
                package_id=str(detail.get("package_id", "")),
                version=int(detail.get("version", 0)),
                config_id=str(detail.get("config_id", "")),
                revision=int(detail.get("revision", 0)),
            )
        return cls(
            seq=entry.seq,
            type=change.type,  # type: ignore[arg-type]
            bundle_id=change.bundle_id,
            at=change.at,
            event_id=change.event_id,
            reason=change.reason,
        )


class SyncView(BaseModel):
    changes: list[ChangeView]
    next_cursor: str = Field(description="opaque; send it back as ?cursor= (old cursors keep working)")
    has_more: bool = Field(description="more changes are waiting: sync again with next_cursor at once")
    server_time: datetime
    status: str = Field(description='compact JWS, typ "device-status+jwt": the device\'s fresh signed status')


@router.get(
    "/v1/devices/<device_id>/sync",
    operation_id="sync_device",
    summary="A device's changes since its cursor, and a signed status",
)
def sync_device(
    device_id: Annotated[str, Path(pattern=DEVICE_ID)],
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_CHANGES)] = None,
    nonce: Annotated[
        str | None,
        Query(pattern=NONCE, description="echoed in the signed status, so a captured status cannot be replayed"),
    ] = None,
) -> SyncView:
    deps = dependencies()
    page = sync_cases.sync_device(
        principal_of(router.current_event),
        device_id,
        cursor,
        limit or 100,
        devices=deps.devices,
        store=deps.sync_store,
        signer=deps.key_ring,
        clock=deps.clock,
        cursors=deps.cursor_seal,
        nonce=nonce,
        settings=deps.tenant_settings,
        zone=deps.settings.residency_zone,
        zone_endpoints=deps.zone_api_endpoints,
    )
    return SyncView(
        changes=[ChangeView.of(entry, device_id) for entry in page.entries],
        next_cursor=page.next_cursor,
        has_more=page.has_more,
        server_time=page.server_time,
        status=page.status,
    )
