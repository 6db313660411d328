"""Routes for devices, bundles, licences, downloads, tamper reports and the JWKS."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from content_service.api.auth import principal_of
from content_service.api.idempotency import IDEMPOTENCY_KEY_PATTERN
from content_service.api.models import (
    BundlePageView,
    BundleView,
    CreateBundle,
    DevicePageView,
    DeviceView,
    DownloadContainer,
    DownloadView,
    EnrollDevice,
    EnrolledDeviceView,
    IssueLicence,
    LicenceView,
    RevokeRequest,
    TamperReport,
    TamperReportAccepted,
)
from content_service.api.responses import create_once, created
from content_service.bootstrap import dependencies
from content_service.domain.identifiers import BUNDLE_ID, DEVICE_ID, USER_ID
from content_service.service import bundles as bundle_cases
from content_service.service import devices as device_cases
from content_service.service import tenants as tenant_cases

router = Router()



def _created(body: Any, location: str) -> Response:
    return created(router.current_event, body.model_dump(mode="json"), location)


@router.post(
    "/v1/devices",
    operation_id="enroll_device",
    summary="Enroll a device of the caller with its X25519 public key",
)
def enroll_device(body: EnrollDevice) -> Response[EnrolledDeviceView]:
    who = principal_of(router.current_event)
    deps = dependencies()
    device = device_cases.enroll_device(
        who.tenant_id,
        who.principal_id,
        body.public_key.as_jwk(),
        body.name,
        devices=deps.devices,
        clock=deps.clock,
        device_cap=deps.settings.device_cap,
    )
    view = EnrolledDeviceView(
        **DeviceView.of(device).model_dump(),
        api_endpoints=_api_endpoints(deps.settings.api_url, deps.settings.peer_api_url),
    )
    return _created(view, f"/v1/devices/{device.device_id}")


def _api_endpoints(own: str, peer: str) -> list[str]:
    """This region's API base URL, then the peer's: a device fails over between them itself."""
    if not own:
        context = router.current_event.request_context
        own = f"https://{context.domain_name}/{context.stage}"
    return [own] if not peer or peer == own else [own, peer]


@router.get("/v1/devices", operation_id="list_devices", summary="The caller's devices")
def list_devices(
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    user_id: Annotated[str | None, Query(pattern=USER_ID)] = None,
) -> DevicePageView:
    deps = dependencies()
    page = device_cases.list_devices(
        principal_of(router.current_event),
        devices=deps.devices,
        cursor=cursor,
        limit=limit or deps.settings.page_size_default,
        user_id=user_id,
    )
    return DevicePageView(items=[DeviceView.of(d) for d in page.items], next_cursor=page.next_cursor)


@router.get("/v1/devices/<device_id>", operation_id="get_device", summary="A device of the caller's tenant")
def get_device(device_id: Annotated[str, Path(pattern=DEVICE_ID)]) -> DeviceView:
    who = principal_of(router.current_event)
    return DeviceView.of(device_cases.get_device(who, device_id, devices=dependencies().devices))


@router.post(
    "/v1/devices/<device_id>/revoke", operation_id="revoke_device", summary="Revoke a device (idempotent)"
)
def revoke_device(device_id: Annotated[str, Path(pattern=DEVICE_ID)], body: RevokeRequest) -> DeviceView:
    deps = dependencies()
    device = device_cases.revoke_device(
        principal_of(router.current_event),
        device_id,
        body.reason,
        devices=deps.devices,
        clock=deps.clock,
        records=deps.licences,
        offline_grace=deps.settings.licence_terms.offline_grace,
    )
    return DeviceView.of(device)


def _create_bundle(request: dict[str, Any]) -> dict[str, Any]:
    deps = dependencies()
    body = CreateBundle.model_validate(request["body"])
    principal = principal_of(router.current_event)
    bundle = bundle_cases.create_bundle(
        principal.tenant_id,
        bundle_cases.bundle_owner(principal, body.user_id),
        [bundle_cases.PackageRequest(p.package_id, p.version) for p in body.packages],
        tenant_cases.settings_of(
            principal.tenant_id, settings=deps.tenant_settings, served_zone=deps.settings.residency_zone
        ).require_zone(body.residency_zone, deps.settings.residency_zone),
        packages=deps.packages,
        bundles=deps.bundles,
        store=deps.bundle_store,
        signer=deps.signer,
        clock=deps.clock,
    )
    return BundleView.of(bundle).model_dump(mode="json")


@router.post(
    "/v1/bundles",
    operation_id="create_bundle",
    summary="Create a bundle of built packages (Idempotency-Key required)",
)
def create_bundle(
    body: CreateBundle,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)],
) -> Response[BundleView]:
    return create_once(
        router.current_event,
        "create_bundle",
        _create_bundle,
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        location=lambda view: f"/v1/bundles/{view['bundle_id']}",
    )


@router.get("/v1/bundles", operation_id="list_bundles", summary="The tenant's bundles, newest first")
def list_bundles(
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    user_id: Annotated[str | None, Query(pattern=USER_ID)] = None,
) -> BundlePageView:
    deps = dependencies()
    page = bundle_cases.list_bundles(
        principal_of(router.current_event),
        bundles=deps.bundles,
        cursor=cursor,
        limit=limit or deps.settings.page_size_default,
        user_id=user_id,
    )
    return BundlePageView(items=[BundleView.of(b) for b in page.items], next_cursor=page.next_cursor)


@router.get("/v1/bundles/<bundle_id>", operation_id="get_bundle", summary="A bundle of the caller's tenant")
def get_bundle(bundle_id: Annotated[str, Path(pattern=BUNDLE_ID)]) -> BundleView:
    who = principal_of(router.current_event)
    return BundleView.of(bundle_cases.get_bundle(who, bundle_id, bundles=dependencies().bundles))


@router.post(
    "/v1/bundles/<bundle_id>/revoke",
    operation_id="revoke_bundle",
    summary="Revoke a bundle (idempotent): no more licences or downloads",
)
def revoke_bundle(bundle_id: Annotated[str, Path(pattern=BUNDLE_ID)], body: RevokeRequest) -> BundleView:
    deps = dependencies()
    bundle = bundle_cases.revoke_bundle(
        principal_of(router.current_event), bundle_id, body.reason, bundles=deps.bundles, clock=deps.clock
    )
    return BundleView.of(bundle)


@router.post(
    "/v1/bundles/<bundle_id>/licenses",
    operation_id="issue_licence",
    summary="A licence for one device (idempotent while valid)",
)
def issue_licence(
    bundle_id: Annotated[str, Path(pattern=BUNDLE_ID)], body: IssueLicence
) -> Response[LicenceView]:
    deps = dependencies()
    issued = bundle_cases.issue_licence(
        principal_of(router.current_event),
        bundle_id,
        body.device_id,
        bundles=deps.bundles,
        devices=deps.devices,
        packages=deps.packages,
        keys=deps.content_keys,
        signer=deps.signer,
        records=deps.licences,
        clock=deps.clock,
        terms=deps.settings.licence_terms,
    )
    view = LicenceView(license=issued.token, license_id=issued.licence_id, expires_at=issued.expires_at)
    return _created(view, f"/v1/bundles/{bundle_id}/licenses/{issued.licence_id}")


@router.get(
    "/v1/bundles/<bundle_id>/download",
    operation_id="download_bundle",
    summary="CDN signed URLs of a bundle's manifest and containers",
)
def download(
    bundle_id: Annotated[str, Path(pattern=BUNDLE_ID)],
    device_id: Annotated[str, Query(pattern=DEVICE_ID)],
) -> DownloadView:
    deps = dependencies()
    signed = bundle_cases.download_urls(
        principal_of(router.current_event),
        bundle_id,
        device_id,
        bundles=deps.bundles,
        devices=deps.devices,
        urls=deps.url_signer,
        clock=deps.clock,
        ttl=deps.settings.download_url_ttl,
    )
    return DownloadView(
        manifest_url=signed.manifest_url,
        containers=[DownloadContainer(**c) for c in signed.containers],  # type: ignore[arg-type]
        expires_at=signed.expires_at,
    )


@router.post(
    "/v1/devices/<device_id>/tamper-reports",
    operation_id="report_tamper",
    summary="A device reports tampered content",
)
def report_tamper(
    device_id: Annotated[str, Path(pattern=DEVICE_ID)], body: TamperReport
) -> Response[TamperReportAccepted]:
    deps = dependencies()
    report_id = bundle_cases.report_tamper(
        principal_of(router.current_event),
        device_id,
        body.bundle_id,
        body.kind,
        body.detail,
        body.evidence.as_evidence() if body.evidence else None,
        bundles=deps.bundles,
        devices=deps.devices,
        reports=deps.tamper_reports,
        clock=deps.clock,
    )
    return Response(
        status_code=202,
        content_type="application/json",
        body=TamperReportAccepted(report_id=report_id).model_dump(mode="json"),
    )


@router.get(
    "/v1/.well-known/jwks.json",
    operation_id="get_jwks",
    summary="The keys that verify bundle manifests and licences",
)
def jwks() -> dict[str, Any]:
    # The keys, the retired kids and signatures over both by every key of the ring: a device takes
    # new keys only through a signature by a key it already trusts (docs/offline-bundles.md).
    deps = dependencies()
    return deps.key_ring.signed_jwks(deps.clock.now())
