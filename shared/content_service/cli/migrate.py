"""``content-service migrate status|up|down [--to N]``: the table's item migrations.

Runs against the table named by the settings (``TABLE_NAME``, the region and ``AWS_ENDPOINT_URL``
as for the functions, so the same command serves the local stack and AWS). A run shows its
progress page by page; an interrupted run is resumed by running the command again. Exit 0 on
success, 1 when the table cannot be migrated (another run is active, an unknown version, an item
of a kind no migration knows, an AWS error), 2 for usage errors; errors are one line on stderr.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError

from content_service.cli.errors import CliError, track_commands
from content_service.migrations.kinds import UnknownItemKind
from content_service.migrations.registry import migrations
from content_service.migrations.runner import MigrationBusy, MigrationRunner, Progress, UnknownVersion
from content_service.settings import get_settings

EXIT_REFUSED = 1

migrate = typer.Typer(
    help="Migrate the table's items between schema versions (resumable).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the ``migrate`` command group to the CLI."""
    app.add_typer(track_commands(migrate), name="migrate")


def _runner() -> MigrationRunner:
    settings = get_settings()
    try:
        client = boto3.client("dynamodb", region_name=settings.aws_region)
    except (ValueError, BotoCoreError) as error:
        # botocore refuses a region or AWS_ENDPOINT_URL it cannot make an endpoint of.
        _refuse(f"cannot reach the table: {error}")
    return MigrationRunner(client, settings.table_name, migrations(settings.licence_terms), progress=_show)


def _show(progress: Progress) -> None:
    arrow = "→" if progress.direction == "up" else "←"
    state = "done" if progress.finished else "…"
    typer.echo(
        f"v{progress.version} {arrow} {progress.description}: {progress.scanned} items scanned, "
        f"{progress.changed} changed {state}"
    )


def _refuse(message: str) -> NoReturn:
    raise CliError(message, EXIT_REFUSED)


def _guarded(action: str, to: int | None) -> None:
    try:
        runner = _runner()
        version = runner.up(to) if action == "up" else runner.down(to)
    except (MigrationBusy, UnknownVersion, UnknownItemKind) as error:
        _refuse(str(error))
    except (ClientError, BotoCoreError) as error:
        _refuse(f"the table could not be migrated: {error}")
    typer.echo(f"the table is at version {version} of {runner.latest}")


@migrate.command("status")
def status_command() -> None:
    """Show the table's schema version, the newest one, and any interrupted run."""
    try:
        status = _runner().status()
    except (ClientError, BotoCoreError) as error:
        _refuse(f"the table could not be read: {error}")
    typer.echo(f"version {status.version} of {status.latest}")
    if status.running:
        running = status.running
        typer.echo(
            f"interrupted: {running['direction']} to v{running['target']} after {running['scanned']} items "
            f"({running['changed']} changed); run `content-service migrate {running['direction']}` to resume"
        )


@migrate.command("up")
def up_command(
    to: Annotated[
        int | None, typer.Option("--to", help="Stop at this version (default: the newest).")
    ] = None,
) -> None:
    """Apply migrations (resuming an interrupted run first)."""
    _guarded("up", to)


@migrate.command("down")
def down_command(
    to: Annotated[int | None, typer.Option("--to", help="Stop at this version (default: one back).")] = None,
) -> None:
    """Undo migrations (resuming an interrupted run first)."""
    _guarded("down", to)
