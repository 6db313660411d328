"""``content-service local up|token|fail-region|heal|residency-scan``: run the embedded local stack,
mint dev tokens for it, fail or heal one of its regions (S3 and API answer 503), and look through a
zone's regions for anything of a tenant."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from content_service.cli.errors import CliError, configure_logging, track_commands

if TYPE_CHECKING:
    from content_service.local.zones import LocalZones

console = Console()


def _endpoint_table(zone: str, state: dict[str, Any], home: Path) -> Table:
    """One zone's endpoints and resource names, from its state document."""
    peer = state.get("peer_region")
    regions = f"{state['region']} + {peer}" if peer else str(state["region"])
    table = Table(title=f"zone {zone} ({regions})", show_header=False)
    table.add_row("API", str(state["api_url"]))
    if state.get("peer_api_url"):
        table.add_row(f"peer API ({peer})", str(state["peer_api_url"]))
    table.add_row("AWS_ENDPOINT_URL", str(state["endpoint_url"]))
    table.add_row("region", str(state["region"]))
    for logical_id, url in dict(state.get("edges") or {}).items():
        table.add_row(f"CDN edge {logical_id}", str(url))
    for kind, key in (
        ("bucket", "buckets"),
        ("table", "tables"),
        ("queue", "queues"),
        ("KMS key", "keys"),
        ("secret", "secrets"),
    ):
        for logical_id, name in dict(state.get(key) or {}).items():
            table.add_row(f"{kind} {logical_id}", str(name))
    table.add_row("state", str(home))
    return table


def _zones_table(zones: LocalZones) -> Table:
    """Every zone's API and edge on one screen (its process, for ``kill``)."""
    table = Table(title="content-service local zones")
    for column in ("zone", "regions", "API", "CDN edge", "pid"):
        table.add_column(column, overflow="fold")
    for zone, state in zones.states.items():
        peer = state.get("peer_region")
        table.add_row(
            zone,
            f"{state['region']}, {peer}" if peer else str(state["region"]),
            str(state["api_url"]),
            str(state.get("edge_url") or "-"),
            str(state["pid"]),
        )
    return table


def _wait_for_interrupt(gone: Callable[[], str | None] = lambda: None) -> str | None:
    """Wait for Ctrl-C or SIGTERM, or until ``gone`` names a zone whose process ended (returned)."""
    # SIGTERM is treated like Ctrl-C, so "kill <pid>" also stops the stack cleanly.
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stop.wait(0.5):
            if (zone := gone()) is not None:
                return zone
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return None


def _start_zones(
    template: Path | None,
    port: int,
    zone_names: list[str],
    peer_region: str | None,
    peer_api: bool,
    verbose: bool,
) -> LocalZones:
    """Start ``local up``'s zones, or exit with one line."""
    from content_service.domain.errors import ValidationFailed
    from content_service.local.stack import StackAlreadyRunningError, find_template
    from content_service.local.zones import LocalZones, ZoneStartFailedError, plan_zones

    try:
        template_path = template or find_template()
        runs = plan_zones(template_path, zone_names, port=port, peer_region=peer_region)
    except (OSError, ValueError, ValidationFailed) as error:
        raise CliError(f"cannot start the local stack: {error}", 2) from error
    if peer_api and any(run.peer_region is None for run in runs):
        # Several zones each take their zone's second region as the peer; one --zone names it.
        raise CliError("cannot start the local stack: --peer-api needs --peer-region with --zone", 2)
    try:
        with console.status(
            f"starting moto and zone(s) {', '.join(run.zone for run in runs)} (the template's resources)..."
        ):
            return LocalZones(template_path, runs, peer_api=peer_api, verbose=verbose).start()
    except (StackAlreadyRunningError, ZoneStartFailedError, OSError, KeyError, ValueError) as error:
        raise CliError(f"cannot start the local stack: {error}", 1) from error


def register(app: typer.Typer) -> None:
    """Add the ``local`` command group to the CLI."""
    local_app = typer.Typer(
        help="The embedded local stack (moto on 127.0.0.1, no Docker, no AWS account).", no_args_is_help=True
    )

    _register_up(local_app)
    _register_token(local_app)
    _register_faults(local_app)
    _register_metrics(local_app)
    _register_residency_scan(local_app)
    app.add_typer(track_commands(local_app), name="local")


def _register_up(local_app: typer.Typer) -> None:
    @local_app.command("up")
    def up(
        template: Annotated[
            Path | None, typer.Option(help="template.yaml to run (default: found upwards)")
        ] = None,
        port: Annotated[
            int, typer.Option(min=0, max=65535, help="the first zone's gateway port (0 picks a free one)")
        ] = 0,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log every invocation")] = False,
        zone: Annotated[
            list[str] | None,
            typer.Option(
                help="start only this zone (repeat for more; default: every zone of ResidencyZones, "
                "each with its peer region, in a process of its own)"
            ),
        ] = None,
        peer_region: Annotated[
            str | None,
            typer.Option(
                help="with one --zone: run it as its primary with this peer: replica bucket and table, edge failover"
            ),
        ] = None,
        peer_api: Annotated[
            bool,
            typer.Option(
                "--peer-api",
                help="also serve each zone's peer region's API (one --zone: with --peer-region); enrolments "
                "name both; slower: one invocation at a time",
            ),
        ] = False,
    ) -> None:
        """Start every zone (or --zone's), print their endpoints, run until Ctrl-C, then stop everything."""
        configure_logging(logging.INFO if verbose else logging.WARNING)
        zones = _start_zones(template, port, zone or [], peer_region, peer_api, verbose)
        gone = None
        try:
            for name, state in zones.states.items():
                console.print(_endpoint_table(name, state, zones.home))
            console.print(_zones_table(zones))
            console.print(
                "Mint a token with [bold]content-service local token --tenant T --user U [--role author] "
                "[--zone Z][/]. Ctrl-C stops."
            )
            gone = _wait_for_interrupt(zones.exited_zone)
        finally:
            zones.stop()
        if gone is not None:
            raise CliError(f"zone {gone}'s process ended; stopped every zone", 1)
        console.print("local stack stopped")


def _register_token(local_app: typer.Typer) -> None:
    @local_app.command("token")
    def token(
        tenant: Annotated[str, typer.Option(help="custom:tenant_id claim")],
        user: Annotated[str | None, typer.Option(help="a person: the sub claim")] = None,
        role: Annotated[
            list[str] | None,
            typer.Option(help="a role (author, catalog, admin); repeat for more; learner is implied"),
        ] = None,
        service: Annotated[
            str | None, typer.Option(help="a service client instead of a person (authoring, catalog)")
        ] = None,
        ttl: Annotated[
            int, typer.Option(min=1, max=86400, help="seconds until the token expires (at most a day, as Cognito's)")
        ] = 3600,
        zone: Annotated[
            str | None, typer.Option(help="the zone whose API accepts it (default: the first zone, eu)")
        ] = None,
    ) -> None:
        """Print a dev token the running local stack accepts: a person's ID token (--user) or a
        service's client-credentials access token (--service, whose roles are --role; --role
        catalog alone means the catalog service's token)."""
        from content_service.auth.verifier import PRINCIPAL_ID, TENANT_ID
        from content_service.domain.principal import Role
        from content_service.local.stack import RunningStack

        roles = role or []
        unknown = sorted(set(roles) - {r.value for r in Role})
        if unknown:
            raise CliError(f"unknown role {unknown[0]!r}; roles are {', '.join(r.value for r in Role)}", 2)
        if service is None and roles == ["catalog"]:
            # The catalog role is the catalog / enrollment services': it mints their access token.
            service = "catalog"
            user = None
        if (user is None) == (service is None):
            raise CliError("give exactly one of --user (a person) or --service (a service client)", 2)
        if not TENANT_ID.fullmatch(tenant):
            raise CliError(f"{tenant!r} is not a tenant id (letters, digits, _ and -, up to 64)", 2)
        subject = user if user is not None else service
        if subject is not None and not PRINCIPAL_ID.fullmatch(subject):
            # The API refuses a token whose subject is not one; minting it would only hide that.
            raise CliError(f"{subject!r} is not a user or client id (letters, digits, _:.@+-, up to 128)", 2)
        found = RunningStack.find()
        if found is None:
            raise CliError("no local stack is running here; start one with content-service local up", 1)
        try:
            running = found.zone(zone)
        except KeyError as error:
            raise CliError(str(error.args[0]), 2) from error
        if service is not None:
            if service not in running.service_clients:
                raise CliError(
                    f"no service client {service!r}; the stack has {', '.join(running.service_clients) or 'none'}",
                    2,
                )
            if not roles:
                raise CliError("a service token needs at least one --role (its OAuth scopes)", 2)
            minted = running.mint_service_token(tenant, service, roles, ttl)
        else:
            assert user is not None
            minted = running.mint_token(tenant, user, ttl, roles=roles)
        # Plain print: the token is meant for $(...) and must not be wrapped or styled.
        print(minted)  # noqa: T201


def _register_faults(local_app: typer.Typer) -> None:
    @local_app.command("fail-region")
    def fail_region(
        region: Annotated[str, typer.Argument(help="the region to fail, e.g. eu-west-1")],
    ) -> None:
        """Make REGION's S3 and API answer 503 in the running local stack, as in a regional outage."""
        from content_service.local.faults import FaultSwitch

        switch = FaultSwitch(_running_home())
        try:
            failed = switch.fail(region)
        except ValueError as error:
            raise CliError(str(error), 2) from error
        console.print(f"failed regions: {', '.join(sorted(failed))}")

    @local_app.command("heal")
    def heal(
        region: Annotated[
            str | None, typer.Argument(help="the region to heal (default: every region)")
        ] = None,
    ) -> None:
        """Undo fail-region for REGION, or for every region."""
        from content_service.local.faults import FaultSwitch

        still = FaultSwitch(_running_home()).heal(region)
        console.print(f"failed regions: {', '.join(sorted(still)) or 'none'}")


def _register_metrics(local_app: typer.Typer) -> None:
    @local_app.command("metrics")
    def metrics(
        watch: Annotated[bool, typer.Option(help="refresh every 2 s until Ctrl-C")] = False,
        minutes: Annotated[int, typer.Option(min=1, help="only the last N minutes")] = 60,
    ) -> None:
        """The figures the running local stack's functions emitted (what the dashboards would show)."""
        import time

        from content_service.local.metrics_view import read_summaries
        from content_service.local.stack import LOCAL_METRICS_FILE

        path = _running_home() / LOCAL_METRICS_FILE

        def table() -> Table:
            shown = Table(title=f"content-service figures, last {minutes} min ({path})")
            for column in ("figure", "dimensions", "unit", "values", "sum", "p95", "latest"):
                shown.add_column(
                    column, justify="right" if column in ("values", "sum", "p95", "latest") else "left"
                )
            for s in read_summaries(path, since=time.time() - 60 * minutes):
                dims = ", ".join(f"{k}={v}" for k, v in s.dimensions if k != "service")
                shown.add_row(
                    s.name,
                    dims,
                    s.unit,
                    str(len(s.values)),
                    f"{s.total:g}",
                    f"{s.p95:g}",
                    f"{s.values[-1]:g}",
                )
            return shown

        if not watch:
            console.print(table())
            return
        from rich.live import Live

        with Live(table(), console=console, refresh_per_second=1) as live:
            try:
                while True:
                    time.sleep(2)
                    live.update(table())
            except KeyboardInterrupt:
                pass


def _register_residency_scan(local_app: typer.Typer) -> None:
    @local_app.command("residency-scan")
    def residency_scan(
        tenant: Annotated[str, typer.Option(help="the tenant id to look for")],
        zone: Annotated[str, typer.Option(help="the zone whose regions are scanned, e.g. us")],
    ) -> None:
        """Look through every bucket, table, KMS key, log group and queue of ZONE's regions in the
        running local stack for TENANT; print each place it appears, exit 1 if there is any."""
        import os

        from content_service.auth.verifier import TENANT_ID
        from content_service.domain.errors import ValidationFailed
        from content_service.domain.zones import DEFAULT_ZONES, Zones
        from content_service.local.moto_server import DUMMY_CREDENTIALS
        from content_service.local.residency_scan import scan
        from content_service.local.stack import RunningStack

        if not TENANT_ID.fullmatch(tenant):
            raise CliError(f"{tenant!r} is not a tenant id (letters, digits, _ and -, up to 64)", 2)
        running = RunningStack.find()
        if running is None:
            raise CliError("no local stack is running here; start one with content-service local up", 1)
        try:
            regions = (
                Zones.parse(running.environment.get("RESIDENCY_ZONES") or DEFAULT_ZONES).get(zone).regions
            )
        except (ValidationFailed, ValueError) as error:
            # An unknown zone, or a RESIDENCY_ZONES in the state file that does not parse.
            raise CliError(str(error), 2) from error
        os.environ.update(DUMMY_CREDENTIALS)  # the moto endpoint's; never a real account's
        findings = scan(running.endpoint_url, regions, tenant)
        for finding in findings:
            console.print(str(finding), markup=False, highlight=False)
        if findings:
            raise CliError(f"{len(findings)} place(s) in zone {zone} ({', '.join(regions)}) name {tenant}", 1)
        console.print(f"nothing of {tenant} in zone {zone} ({', '.join(regions)})")


def _running_home() -> Path:
    from content_service.local.stack import RunningStack

    running = RunningStack.find()
    if running is None:
        raise CliError("no local stack is running here; start one with content-service local up", 1)
    return running.home
