"""``content-service validate PATH [--json]``: would this package build? Offline, no stack.

Exit 0 if it would build, 1 if it would be refused, 2 for usage errors. An unexpected error
inside the sandbox is never a traceback: ``validate_zip`` reports it as an ``internal.*``
problem (the stack goes to the log, on stderr), so the JSON verdict and exit 1 still come out,
as the build would fail the package with the same code. Package contents are
hostile input: nothing is written outside a private temporary directory, which is removed
afterwards, and names from the archive are escaped before they reach the terminal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from content_service.cli.errors import json_failure, track
from content_service.cli.paths import input_file
from content_service.cli.tempdirs import private_tempdir
from content_service.domain.package import Problem
from content_service.packaging.inspect import ValidationReport, validate_zip
from content_service.packaging.zipformat import printable
from content_service.settings import get_settings

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def register(app: typer.Typer) -> None:
    """Add the ``validate`` command to the CLI."""
    app.command("validate")(track(validate_command))


def _failure_report(code: str, detail: str) -> dict:
    """The JSON report when the package could not even be looked at (cli/errors.py prints it)."""
    return ValidationReport(valid=False, problems=[Problem(code, detail)]).as_json_dict()


@json_failure(_failure_report)
def validate_command(
    path: Annotated[Path, typer.Argument(help="The package zip to check.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a package zip as the build would, without storing anything."""
    input_file(path)
    with private_tempdir("content-service-validate-"):
        # The same limits the build uses, including IMPORT_LIMITS__* overrides from the environment.
        report = validate_zip(path, get_settings().import_limits)
    if as_json:
        sys.stdout.write(json.dumps(report.as_json_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_human(report)
    raise typer.Exit(EXIT_VALID if report.valid else EXIT_INVALID)


def _print_human(report: ValidationReport) -> None:
    console = Console(highlight=False)
    if report.valid:
        console.print(f"[green]valid[/green]: {escape(report.standard or '')} {escape(repr(report.title))}")
        console.print(f"{report.files} files, {report.bytes} bytes, {len(report.launches)} launch entries")
        for launch in report.launches:
            # Launch ids come from the descriptor: XML allows C1 controls (U+009B is a CSI) and bidi overrides.
            shown_id, shown_href = printable(str(launch["id"])), printable(str(launch["href"]))
            console.print(f"  launch {escape(shown_id)}: {escape(shown_href)}")
        return
    console.print(f"[red]refused[/red]: {len(report.problems)} problem(s)")
    table = Table("code", "path", "detail")
    for problem in report.problems:
        table.add_row(escape(problem.code), escape(problem.path or ""), escape(problem.detail))
    console.print(table)
