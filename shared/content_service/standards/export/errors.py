"""Why an export was refused."""

from __future__ import annotations

from content_service.domain.errors import PROBLEM_BASE, DomainError


class ExportError(DomainError):
    """The package cannot be exported as asked (a launch the format cannot carry, bad options)."""

    problem_type = PROBLEM_BASE + "export-refused"
    title = "The package cannot be exported in this format"
    status = 422


class ExportCheckFailed(ExportError):
    """An export broke one of its own format's rules: a bug in the exporter, never shipped."""

    problem_type = PROBLEM_BASE + "export-check-failed"
    title = "The export failed its own conformance checks"
    status = 500

    def __init__(self, failures: list[str]) -> None:
        super().__init__("; ".join(failures), failures=failures)
        self.failures = failures
