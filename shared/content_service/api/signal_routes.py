"""The device signal route: a device tells the service it was sent a forged status, key set or branding."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field

from content_service.api.auth import principal_of
from content_service.bootstrap import dependencies
from content_service.domain.identifiers import DEVICE_ID
from content_service.service import device_signals

router = Router()



class DeviceSignal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["device.status_forged", "device.branding_refused"] = Field(
        description="device.status_forged: a sync status or key set that failed verification; "
        "device.branding_refused: a branding overlay that failed verification (shown unbranded)"
    )
    detail: str = Field(default="", max_length=1000)


class SignalAccepted(BaseModel):
    accepted: bool = True


@router.post(
    "/v1/devices/<device_id>/signals",
    operation_id="report_device_signal",
    summary="A device reports a security signal (never a tamper report; revokes nothing)",
)
def report_signal(
    device_id: Annotated[str, Path(pattern=DEVICE_ID)], body: DeviceSignal
) -> Response[SignalAccepted]:
    deps = dependencies()
    device_signals.record_signal(
        principal_of(router.current_event),
        device_id,
        body.type,
        body.detail,
        devices=deps.devices,
        metrics=deps.metrics,
    )
    return Response(
        status_code=202,
        content_type="application/json",
        body=SignalAccepted().model_dump(mode="json"),
    )
