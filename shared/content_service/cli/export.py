"""``content-service export PATH.zip --format F [options] -o OUT.zip``: export a package, offline.

The source is a native or imported (SCORM, xAPI, cmi5) zip. It goes through the same import
sandbox as ``validate`` and the build, inside a private temporary directory removed
afterwards; the export is written next to OUT and moved into place only when it is complete
and has passed its own checks (``paths.staged``: a failure to write it names OUT). Exit 0 on
success, 1 when the package is refused or cannot be exported in that format, 2 for usage
errors; errors are one line on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from content_service.cli.errors import CliError, track
from content_service.cli.paths import input_file, output_file, staged
from content_service.cli.tempdirs import private_tempdir
from content_service.domain.errors import DomainError
from content_service.packaging.model import PackageRejected
from content_service.settings import get_settings
from content_service.standards.export import ExportFormat, ExportOptions, LaunchMethod, Reporting
from content_service.standards.export.local import export_zip

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


def register(app: typer.Typer) -> None:
    """Add the ``export`` command to the CLI."""
    app.command("export")(track(export_command))


def export_command(  # noqa: PLR0913 - one parameter per export-dialog option
    path: Annotated[
        Path, typer.Argument(help="The package zip to export (native or imported).", show_default=False)
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="scorm12, scorm2004, xapi or cmi5.", show_default=False)
    ],
    out: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the exported zip.", show_default=False)
    ],
    reporting: Annotated[
        str, typer.Option(help="passed/incomplete, passed/failed, completed/incomplete or completed/failed.")
    ] = Reporting.COMPLETED_INCOMPLETE.value,
    completion_threshold: Annotated[
        str | None, typer.Option(help="Progress (0..1) that counts as completed.")
    ] = None,
    mastery_score: Annotated[str | None, typer.Option(help="Scaled score (0..1) that passes.")] = None,
    identifier: Annotated[
        str | None, typer.Option(help="Manifest/course identifier (an IRI or a name).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title (default: the package's).")] = None,
    language: Annotated[str | None, typer.Option(help="BCP 47 language (default: the package's).")] = None,
    move_on: Annotated[str | None, typer.Option(help="cmi5 moveOn (default: from --reporting).")] = None,
    launch_method: Annotated[
        str, typer.Option(help="cmi5 launchMethod: AnyWindow or OwnWindow.")
    ] = LaunchMethod.ANY_WINDOW.value,
    complete_on_launch: Annotated[
        bool, typer.Option(help="Complete as soon as a page opens (static pages).")
    ] = False,
    auto_start: Annotated[
        bool | None, typer.Option("--auto-start/--no-auto-start", help="Start on load, finish on leave.")
    ] = None,
) -> None:
    """Export a package zip as SCORM 1.2, SCORM 2004 4th edition, xAPI or cmi5."""
    # Choices and numbers are checked here, not by typer, so every error is one line.
    if fmt not in {choice.value for choice in ExportFormat}:
        raise CliError(
            f"--format must be one of {', '.join(choice.value for choice in ExportFormat)}, not {fmt!r}",
            EXIT_USAGE,
        )
    input_file(path)
    output_file(out, source=path)
    try:
        options = ExportOptions.model_validate(
            {
                "reporting": reporting,
                "completion_threshold": completion_threshold,
                "mastery_score": mastery_score,
                "identifier": identifier,
                "title": title,
                "language": language,
                "move_on": move_on,
                "launch_method": launch_method,
                "complete_on_launch": complete_on_launch,
                "auto_start": auto_start,
            }
        )
    except ValidationError as invalid:
        error = invalid.errors()[0]
        raise CliError(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}", EXIT_USAGE) from None
    with private_tempdir("content-service-export-") as private, staged(out) as stage:
        try:
            export_zip(path, fmt, options, stage.path, limits=get_settings().import_limits, workdir=private)
        except PackageRejected as rejected:
            first = rejected.problems[0]
            more = (
                f" (and {len(rejected.problems) - 1} more; see content-service validate)"
                if len(rejected.problems) > 1
                else ""
            )
            raise CliError(f"package refused: {first.code}: {first.detail}{more}", EXIT_REFUSED) from None
        except DomainError as refused:
            raise CliError(f"cannot export as {fmt}: {refused.detail}", EXIT_REFUSED) from None
        stage.publish()
    sys.stdout.write(f"{out}\n")
