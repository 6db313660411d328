"""Routes for withdrawing a package version (Idempotency-Key) and following its fan-out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from pydantic import BaseModel, Field

from content_service.api.auth import principal_of
from content_service.api.idempotency import IDEMPOTENCY_KEY_PATTERN
from content_service.api.models import RevokeRequest
from content_service.api.responses import create_once
from content_service.bootstrap import dependencies
from content_service.domain.identifiers import PACKAGE_ID
from content_service.domain.withdrawal import WithdrawalProgress
from content_service.service import withdrawal as cases

router = Router()

MAX_VERSION = 10**9


class WithdrawalView(BaseModel):
    withdrawal_id: str
    package_id: str
    version: int
    reason: str
    state: Literal["pending", "planning", "fanning_out", "done"] = Field(
        description="pending: the version is revoked, the fan-out not started; planning: listing the "
        "holding bundles; fanning_out: chunks queued, some not done; done: every holding bundle is "
        "revoked and every active device of its user has bundle.revoked in its feed"
    )
    started_at: datetime | None = None
    planned_at: datetime | None = None
    completed_at: datetime | None = None
    bundles_total: int | None = Field(default=None, description="holding bundles found by the planner")
    chunks_total: int | None = None
    chunks_done: int = 0
    bundles_revoked: int = 0
    devices_notified: int = Field(default=0, description="device feeds that got bundle.revoked")

    @classmethod
    def of(cls, progress: WithdrawalProgress) -> WithdrawalView:
        return cls(
            withdrawal_id=progress.withdrawal_id,
            package_id=progress.package_id,
            version=progress.version,
            reason=progress.reason,
            state=progress.state.value,  # type: ignore[arg-type]
            started_at=progress.started_at,
            planned_at=progress.planned_at,
            completed_at=progress.completed_at,
            bundles_total=progress.bundles_total,
            chunks_total=progress.chunks_total,
            chunks_done=progress.chunks_done,
            bundles_revoked=progress.bundles_revoked,
            devices_notified=progress.devices_notified,
        )


def _location(package_id: str, version: int) -> str:
    return f"/v1/packages/{package_id}/versions/{version}/withdrawal"


def _withdraw(request: dict[str, Any]) -> dict[str, Any]:
    deps = dependencies()
    tenant = principal_of(router.current_event).tenant_id
    body = request["body"]
    package_id, version = body["package_id"], body["version"]
    cases.withdraw_version(
        tenant, package_id, version, body["reason"], packages=deps.packages, clock=deps.clock
    )
    progress = cases.withdrawal_progress(
        tenant, package_id, version, packages=deps.packages, log=deps.withdrawal_log
    )
    return WithdrawalView.of(progress).model_dump(mode="json")


@router.post(
    "/v1/packages/<package_id>/versions/<version>/revoke",
    operation_id="withdraw_package_version",
    summary="Withdraw a built package version from every bundle and device (Idempotency-Key required)",
)
def withdraw_package_version(
    package_id: Annotated[str, Path(pattern=PACKAGE_ID)],
    version: Annotated[int, Path(ge=1, le=MAX_VERSION)],
    body: RevokeRequest,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)],
) -> Response[WithdrawalView]:
    return create_once(
        router.current_event,
        "withdraw_package_version",
        _withdraw,
        key=idempotency_key,
        body={"package_id": package_id, "version": version, "reason": body.reason},
        location=lambda _view: _location(package_id, version),
        status=202,
    )


@router.get(
    "/v1/packages/<package_id>/versions/<version>/withdrawal",
    operation_id="get_withdrawal",
    summary="The progress of a package version's withdrawal",
)
def get_withdrawal(
    package_id: Annotated[str, Path(pattern=PACKAGE_ID)],
    version: Annotated[int, Path(ge=1, le=MAX_VERSION)],
) -> WithdrawalView:
    deps = dependencies()
    progress = cases.withdrawal_progress(
        principal_of(router.current_event).tenant_id,
        package_id,
        version,
        packages=deps.packages,
        log=deps.withdrawal_log,
    )
    return WithdrawalView.of(progress)
