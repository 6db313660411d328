"""Routes for exports: request one (Idempotency-Key), then read it and its download URL."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from content_service.api.auth import principal_of
from content_service.api.idempotency import IDEMPOTENCY_KEY_PATTERN
from content_service.api.models import SAFE_TEXT, JsonVersion, ProblemDetail
from content_service.api.responses import create_once
from content_service.bootstrap import dependencies
from content_service.domain.export import ExportJob
from content_service.domain.identifiers import EXPORT_ID, PACKAGE_ID
from content_service.service import exports as cases
from content_service.standards.export import ExportFormat, ExportOptions
from content_service.standards.export.options import LaunchMethod, MoveOn, Reporting

#: The BCP 47 shape ExportOptions checks, stated in the schema so clients see it.
LANGUAGE_TAG = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"

router = Router()



class ExportRequestOptions(ExportOptions):
    """The export options as the API takes them: strict JSON types, names without controls.

    The CLI builds :class:`ExportOptions` from its arguments; over HTTP the same fields take JSON as
    it is (no "0.5" for 0.5, no "true" for true). Enum members are still matched by value, which
    is what strict mode cannot do for JSON that went through ``json.loads``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, strict=True)

    reporting: Reporting = Field(default=Reporting.COMPLETED_INCOMPLETE, strict=False)
    identifier: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=SAFE_TEXT,
        description="manifest/course identifier: an absolute IRI or a plain name; made valid per format",
    )
    title: str | None = Field(default=None, min_length=1, max_length=300, pattern=SAFE_TEXT)
    language: str | None = Field(
        default=None, max_length=35, pattern=LANGUAGE_TAG, description="a BCP 47 tag: en, de-CH, pt-BR"
    )
    move_on: MoveOn | None = Field(
        default=None, strict=False, description="cmi5 only; derived from reporting when unset"
    )
    launch_method: LaunchMethod = Field(default=LaunchMethod.ANY_WINDOW, strict=False)
    # The branding an export carries is the tenant's, recorded by the service (``branding: true``
    # on the request), never taken from the caller: not part of the API's options.
    branding: SkipJsonSchema[None] = Field(default=None, exclude=True)


class CreateExport(BaseModel):
    """Export a built package version to a standard's format."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: ExportFormat = Field(strict=False)
    version: JsonVersion | None = Field(default=None, description="default: the latest version")
    options: ExportRequestOptions = Field(default_factory=ExportRequestOptions)
    branding: bool = Field(
        default=False,
        description="carry the tenant's branding (content-branding.css linked from each launched page,"
        " content-branding.json beside it); a 409 when the tenant has no branding",
    )


class ExportView(BaseModel):
    export_id: str
    package_id: str
    version: int
    format: str
    state: Literal["pending", "done", "failed"]
    options: dict[str, Any]
    created_at: datetime
    size: int | None = None
    sha256: str | None = None
    download_url: str | None = Field(default=None, description="a presigned GET, once the export is done")
    problem: ProblemDetail | None = None

    @classmethod
    def of(cls, job: ExportJob, download_url: str | None = None) -> ExportView:
        return cls(
            export_id=job.export_id,
            package_id=job.package_id,
            version=job.version,
            format=job.format,
            state=job.state.value,  # type: ignore[arg-type]
            options=job.options,
            created_at=job.created_at,
            size=job.result.size if job.result else None,
            sha256=job.result.sha256 if job.result else None,
            download_url=download_url,
            problem=ProblemDetail(**job.problem.as_dict()) if job.problem else None,
        )


def _request_export(request: dict[str, Any]) -> dict[str, Any]:
    deps = dependencies()
    fields = dict(request["body"])
    package_id = fields.pop("package_id")
    body = CreateExport.model_validate(fields)
    job = cases.request_export(
        principal_of(router.current_event).tenant_id,
        package_id,
        body.version,
        body.format.value,
        body.options.model_dump(mode="json"),
        packages=deps.packages,
        exports=deps.exports,
        queue=deps.export_queue,
        clock=deps.clock,
        branding=deps.tenant_settings if body.branding else None,
    )
    return ExportView.of(job).model_dump(mode="json")


@router.post(
    "/v1/packages/<package_id>/exports",
    operation_id="create_export",
    summary="Export a built package (Idempotency-Key required)",
)
def create_export(
    package_id: Annotated[str, Path(pattern=PACKAGE_ID)],
    body: CreateExport,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)],
) -> Response[ExportView]:
    return create_once(
        router.current_event,
        "create_export",
        _request_export,
        key=idempotency_key,
        body={"package_id": package_id, **body.model_dump(mode="json")},
        location=lambda view: f"/v1/exports/{view['export_id']}",
        status=202,
    )


@router.get(
    "/v1/exports/<export_id>",
    operation_id="get_export",
    summary="An export, with a presigned download URL once done",
)
def get_export(export_id: Annotated[str, Path(pattern=EXPORT_ID)]) -> ExportView:
    deps = dependencies()
    found = cases.get_export(
        principal_of(router.current_event).tenant_id,
        export_id,
        exports=deps.exports,
        results=deps.export_store,
        url_ttl_seconds=deps.settings.export_url_ttl_seconds,
    )
    return ExportView.of(found.job, found.download_url)
