"""``content-service device ...``: the reference device agent on the command line.

Each command opens the device's private state directory (``--home``), does one thing with
``DeviceAgent`` and exits 0. A refusal (tampering, an expired or foreign licence, a revoked
device, the service unreachable) prints one line on stderr and exits 1, worded by cli/errors.py
(``VOICE``: ``content-service device: Offline: ...``); an API URL the device holds that is no URL
exits 1 too, and usage errors (an ``--api`` or ``--lrs`` that is no URL) exit 2.
Content is decrypted only to stdout or the file named by ``-o``, on the user's request.
"""

from __future__ import annotations

import json
import sys
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from content_service.cli.errors import PROGRAM, Voice, track_commands
from content_service.cli.paths import removed_on_failure, write_atomically
from content_service.cli.urls import http_url
from content_service.client import ApiClient, ApiError
from content_service.device.agent import DeviceAgent
from content_service.device.assistant import fetch_assistant, read_assistant
from content_service.device.branding import describe, fetch_branding
from content_service.device.errors import NotEnrolled, Offline
from content_service.device.http import HttpStatementSink
from content_service.device.store import DeviceStore
from content_service.device.sync import DEFAULT_SYNC_INTERVAL, MAX_SYNC_INTERVAL, SyncLoop, SyncResult

EXIT_REFUSED = 1
EXIT_USAGE = 2
DEFAULT_HOME = Path.home() / ".content-service" / "device"

device_app = typer.Typer(
    name="device",
    help="The reference device: enroll, download, verify and read offline bundles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

HomeOption = Annotated[
    Path,
    typer.Option(
        "--home",
        envvar="CONTENT_SERVICE_DEVICE_HOME",
        help="The device's private state directory.",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="CONTENT_SERVICE_TOKEN", help="Bearer token (default: the one given at enrolment)."
    ),
]
BundleArgument = Annotated[str, typer.Argument(help="The bundle id (bnd_...).", show_default=False)]


#: The group's refusal lines name the group and the refusal's type (cli/errors.py, ``Voice``).
VOICE = Voice(program=f"{PROGRAM} device")


def register(app: typer.Typer) -> None:
    """Add the ``device`` command group to the CLI."""
    app.add_typer(track_commands(device_app, VOICE), name="device")


def _agent(home: Path | None, token: str | None = None, *, enrolled: bool = True) -> DeviceAgent:
    store = DeviceStore(home or DEFAULT_HOME)
    if enrolled:
        # Checked before the agent opens the directory, so a mistyped --home creates nothing.
        store.check()
        if not store.is_enrolled():
            raise NotEnrolled(f"no device is enrolled in {store.home}; run `content-service device enroll`")
    agent = DeviceAgent(store, token=token)
    if enrolled:
        # The sealed record is read now, so an altered one is a one-line error, not a later surprise.
        agent.record  # noqa: B018
    return agent


def _when(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC") if epoch else "-"


@device_app.command("enroll")
def enroll_command(
    api: Annotated[str, typer.Option("--api", help="The API base URL.", show_default=False)],
    token: Annotated[
        str, typer.Option("--token", envvar="CONTENT_SERVICE_TOKEN", help="Bearer token.", show_default=False)
    ],
    name: Annotated[str, typer.Option("--name", help="A name for this device.")] = "",
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Make this device's key, enroll it, and pin the service's signing keys."""
    http_url(api, "--api")
    # A failed enrolment leaves no state directory behind (the agent creates it to enrol into).
    with removed_on_failure(home):
        record = _agent(home, enrolled=False).enroll(ApiClient(api, token), name)
    typer.echo(f"enrolled {record.device_id} (user {record.user_id}); state in {home}")


@device_app.command("list")
def list_command(home: HomeOption = DEFAULT_HOME, token: TokenOption = None) -> None:
    """The bundles on this device, and on the service when it answers."""
    infos = _agent(home, token).list_bundles()
    table = Table("bundle", "service", "downloaded", "licence until", "offline until")
    for info in infos:
        table.add_row(
            info.bundle_id,
            info.remote_state or "?",
            "yes" if info.downloaded else "no",
            _when(info.licence_expires_at),
            _when(info.grace_ends_at),
        )
    Console(highlight=False).print(table)


@device_app.command("download")
def download_command(
    bundle_id: BundleArgument, home: HomeOption = DEFAULT_HOME, token: TokenOption = None
) -> None:
    """Download a bundle (resuming a partial download) and fetch its licence."""
    agent = _agent(home, token)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(escape(name), total=total)
            bar.update(tasks[name], completed=done, total=total)

        packages = agent.download(bundle_id, progress=progress)
    claims = agent.fetch_licence(bundle_id)
    typer.echo(
        f"downloaded {bundle_id}: {len(packages)} package(s); licence until {_when(int(claims['exp']))}"
    )


@device_app.command("verify")
def verify_command(bundle_id: BundleArgument, home: HomeOption = DEFAULT_HOME) -> None:
    """Check the signatures, the licence binding and every container, segment and file hash."""
    report = _agent(home).verify(bundle_id)
    typer.echo(
        f"verified {bundle_id}: {report.packages} package(s), {report.files} file(s), "
        f"{report.container_bytes} bytes; offline until {_when(report.grace_ends_at)}"
    )


@device_app.command("read")
def read_command(
    bundle_id: BundleArgument,
    package_id: Annotated[str, typer.Argument(help="The package id.", show_default=False)],
    path: Annotated[str, typer.Argument(help="The file's path in the package.", show_default=False)],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file instead of stdout.")
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    token: TokenOption = None,
) -> None:
    """Decrypt one file of a bundle under its licence, to stdout or to -o FILE."""
    agent = _agent(home, token)
    with agent.mount(bundle_id) as mounted:
        data = mounted.read(package_id, path)
    _write_out(data, output)


@device_app.command("assistant")
def assistant_command(
    bundle_id: BundleArgument,
    package_id: Annotated[str, typer.Argument(help="The package id.", show_default=False)],
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not ask the service; read what is kept.")
    ] = False,
    home: HomeOption = DEFAULT_HOME,
    token: TokenOption = None,
) -> None:
    """Print a package's approved assistant config (JSON), verified; fetched first unless offline."""
    agent = _agent(home, token)
    if not offline:
        # Unreachable: read what the device already holds, verified as always.
        with suppress(Offline):
            fetch_assistant(agent, bundle_id)
    found = read_assistant(agent, bundle_id, package_id)
    typer.echo(json.dumps(found, indent=2, ensure_ascii=False, sort_keys=True))


@device_app.command("branding")
def branding_command(
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not ask the service; show what is kept.")
    ] = False,
    home: HomeOption = DEFAULT_HOME,
    token: TokenOption = None,
) -> None:
    """Print the tenant branding launches apply (JSON), verified; fetched first unless offline."""
    agent = _agent(home, token)
    if not offline:
        with suppress(Offline, ApiError):
            fetch_branding(agent)
    shown = describe(agent.branding())
    typer.echo(json.dumps(shown, indent=2, ensure_ascii=False, sort_keys=True))


@device_app.command("launch")
def launch_command(
    bundle_id: BundleArgument,
    package_id: Annotated[str, typer.Argument(help="The package id.", show_default=False)],
    path: Annotated[str, typer.Argument(help="The launch entry's path.", show_default=False)],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the page to this file instead of stdout.")
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    token: TokenOption = None,
) -> None:
    """Serve a launch entry as the launcher does: the content under its licence, branded if a page."""
    launch = _agent(home, token).launch(bundle_id, package_id, path)
    if launch.branding.refused:
        VOICE.warn(f"branding refused, unbranded: {launch.branding.refused}")
    _write_out(launch.page, output)


def _write_out(data: bytes, output: Path | None) -> None:
    """Bytes to stdout, or to ``output`` when given (read and launch)."""
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomically(output, data)


@device_app.command("remove")
def remove_command(bundle_id: BundleArgument, home: HomeOption = DEFAULT_HOME) -> None:
    """Delete a bundle from this device: its licence, keys and ciphertext."""
    removed = _agent(home).remove(bundle_id)
    typer.echo(f"removed {bundle_id}" if removed else f"{bundle_id} was not on this device")


@device_app.command("refresh-jwks")
def refresh_jwks_command(home: HomeOption = DEFAULT_HOME, token: TokenOption = None) -> None:
    """Take the service's signed key set: new keys are pinned, retired ones dropped."""
    agent = _agent(home, token)
    added = agent.refresh_jwks()
    pinned = [key["kid"] for key in agent.record.jwks["keys"]]
    typer.echo(f"added {len(added)} key(s); pinned: {', '.join(pinned)}")


@device_app.command("flush")
def flush_command(
    lrs: Annotated[
        str | None,
        typer.Option("--lrs", help="xAPI endpoint (statements are PUT by id); omit to keep them queued."),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    token: TokenOption = None,
) -> None:
    """Send queued tamper reports, signals and (with --lrs) xAPI statements; each is sent once."""
    if lrs:
        http_url(lrs, "--lrs")
    agent = _agent(home, token)
    results = agent.flush(HttpStatementSink(lrs, session=agent.session) if lrs else None)
    failed = False
    for kind, result in results.items():
        typer.echo(f"{kind}: sent {len(result.sent)}, pending {result.pending}")
        if result.error:
            failed = True
            VOICE.warn(f"{kind}: {result.error}")
    if failed:
        raise typer.Exit(EXIT_REFUSED)


def _print_sync(result: SyncResult) -> None:
    """One line per applied change, then a summary line."""
    for change in result.changes:
        action = (
            "removed" if change.removed else ("available" if change.type == "bundle.added" else "not held")
        )
        reason = f" ({change.reason})" if change.reason else ""
        typer.echo(f"#{change.seq} {change.type} {change.bundle_id}{reason}: {action}")
    for bundle_id in sorted(set(result.removed) - {c.bundle_id for c in result.changes}):
        typer.echo(f"{bundle_id}: removed (revoked in the signed status)")
    typer.echo(
        f"synced: {len(result.changes)} change(s), {len(result.removed)} removed, "
        f"device {result.device_state}, last seq {result.last_seq}, server time {_when(result.server_time)}"
    )


@device_app.command("sync")
def sync_command(
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep syncing every --interval seconds until Ctrl-C.")
    ] = False,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.1,
            max=MAX_SYNC_INTERVAL,
            help="Seconds between syncs with --watch (at most 15, so revocations arrive in time).",
        ),
    ] = DEFAULT_SYNC_INTERVAL,
    home: HomeOption = DEFAULT_HOME,
    token: TokenOption = None,
) -> None:
    """Pull the sync feed: verify the signed status, remove revoked bundles, list new ones."""
    agent = _agent(home, token)
    if not watch:
        _print_sync(agent.sync_once())
        return
    loop = SyncLoop(
        agent,
        interval,
        on_result=lambda result: _print_sync(result) if result.changes or result.removed else None,
        on_error=lambda error: VOICE.warn(f"{type(error).__name__}: {error}"),
    )
    loop.start()
    try:
        while loop.running:
            loop.join(1.0)
    except KeyboardInterrupt:
        return
    finally:
        loop.stop()
    # The loop ended by itself: on an error no sync can heal (a configured URL that is no URL).
    if loop.last_error is not None:
        raise loop.last_error


__all__ = ["device_app", "register"]
