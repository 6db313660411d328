"""What an export dialog offers: the target format and one completion model for every format.

The completion model is the same whatever the target, and each exporter writes it where its
standard reads it (docs/export.md has the table):

- ``reporting``: the pair of statuses the content reports, success first. ``passed/incomplete``
  reports ``passed`` when the learner succeeds or completes, and ``incomplete`` otherwise;
  ``passed/failed`` reports ``passed`` or ``failed``; ``completed/incomplete`` and
  ``completed/failed`` the same with ``completed``.
- ``completion_threshold``: the progress (0..1) at which the content counts as completed.
- ``mastery_score``: the scaled score (0..1) at which the learner passes. SCORM 1.2 writes it
  as ``adlcp:masteryscore`` (0..100), SCORM 2004 as the primary objective's
  ``minNormalizedMeasure`` with ``satisfiedByMeasure``, cmi5 as the AU's ``masteryScore``.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from content_service.domain.errors import ValidationFailed
from content_service.domain.tenant import Branding


class ExportFormat(enum.StrEnum):
    """The standards a package can be exported to."""

    SCORM12 = "scorm12"
    SCORM2004 = "scorm2004"
    XAPI = "xapi"
    CMI5 = "cmi5"


class Reporting(enum.StrEnum):
    """The status pair the content reports: what success reports, then what the rest reports."""

    PASSED_INCOMPLETE = "passed/incomplete"
    PASSED_FAILED = "passed/failed"
    COMPLETED_INCOMPLETE = "completed/incomplete"
    COMPLETED_FAILED = "completed/failed"

    @property
    def success(self) -> str:
        return self.value.split("/")[0]

    @property
    def failure(self) -> str:
        return self.value.split("/")[1]


class MoveOn(enum.StrEnum):
    """cmi5 moveOn: what an AU must report before the learner may move on."""

    PASSED = "Passed"
    COMPLETED = "Completed"
    COMPLETED_AND_PASSED = "CompletedAndPassed"
    COMPLETED_OR_PASSED = "CompletedOrPassed"
    NOT_APPLICABLE = "NotApplicable"


class LaunchMethod(enum.StrEnum):
    """cmi5 launchMethod."""

    ANY_WINDOW = "AnyWindow"
    OWN_WINDOW = "OwnWindow"


_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


class ExportOptions(BaseModel):
    """Options of one export. Every field has a default, so ``ExportOptions()`` is a valid export."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    reporting: Reporting = Reporting.COMPLETED_INCOMPLETE
    completion_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    mastery_score: float | None = Field(default=None, ge=0.0, le=1.0)
    identifier: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="manifest/course identifier: an absolute IRI or a plain name; made valid per format",
    )
    title: str | None = Field(default=None, min_length=1, max_length=300)
    language: str | None = Field(default=None, max_length=35)
    move_on: MoveOn | None = Field(default=None, description="cmi5 only; derived from reporting when unset")
    launch_method: LaunchMethod = LaunchMethod.ANY_WINDOW
    complete_on_launch: bool = Field(
        default=False, description="the bridge completes the content as soon as it starts (static pages)"
    )
    auto_start: bool | None = Field(
        default=None,
        description="the bridge starts on page load and finishes on page hide; default: on for native"
        " packages, off for imported ones (they carry their own runtime calls)",
    )

    branding: dict[str, Any] | None = Field(
        default=None,
        description="the tenant's branding (Branding.as_dict) the export carries as a stylesheet and JSON",
    )

    @field_validator("branding")
    @classmethod
    def _branding_rules(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            return Branding.from_dict(value).as_dict()
        except ValidationFailed as error:
            raise ValueError(error.detail) from error

    @field_validator("language")
    @classmethod
    def _bcp47(cls, value: str | None) -> str | None:
        if value is not None and not _LANGUAGE.fullmatch(value):
            raise ValueError("language must be a BCP 47 tag such as en, de-CH or pt-BR")
        return value

    def cmi5_move_on(self) -> MoveOn:
        """moveOn as set, or the one the reporting pair and mastery score imply."""
        if self.move_on is not None:
            return self.move_on
        return MoveOn.PASSED if self.reporting.success == "passed" else MoveOn.COMPLETED
