"""Every residency zone of the template on one machine: what ``content-service local up`` starts.

Each zone runs as a :class:`~content_service.local.stack.LocalStack` of its own: the zone's
primary region (with the zone's second region as its peer when several zones run), its own stack
name, API gateway, CDN edge and S3 front, and ``MigrationTargets`` naming the other zones' table,
buckets and local API, so a migration started over HTTP in one zone writes into the other.

Why one child process per further zone, all on the first zone's moto server:

* A stack puts its functions' environment (region, table, buckets, queues, ``API_URL``...) and
  the AWS settings into ``os.environ``, which every handler reads; two stacks in one process
  would overwrite each other's (``LocalStack`` refuses a second one). A process per zone gives
  each zone its own environment with no change to the handlers.
* One moto for every zone, as one AWS account holds every region: moto serves each region by the
  request's signature, so zone ``us``'s us-east-1 resources sit beside ``eu``'s eu-west-1 ones, a
  migration's copy from eu reaches us's real table and buckets, and ``local residency-scan``
  sees every zone through one endpoint. The first zone's process starts it. With ``--peer-api``
  each zone also serves its peer region's API (the keys are multi-Region with replicas made by
  KMS's ``ReplicateKey`` over HTTP, so a child's peer signs and decrypts like the first's).
* The children share the state directory: the fault switch (``faults.json``: the moto wrapper in
  the first process fails S3, each zone's gateway its API), the dev issuer's key and the
  metrics file. Only this process writes the state file, once every zone is ready, with every
  zone's endpoints under ``zones``.

A child prints its stack's state document as one JSON line when it is ready and stops when its
standard input closes (this process stopped or died: no orphan) or on SIGTERM / SIGINT.

Run a child by hand (what :class:`LocalZones` does): ``python -m content_service.local.zones SPEC``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from content_service.domain.zones import Zones
from content_service.local.state import RunningStack, ensure_home, remove_state, state_home, write_state
from content_service.local.template import DEFAULT_STACK_NAME, load_local_template

logger = logging.getLogger(__name__)

#: How long a zone's child process may take to start its stack (moto is already running).
CHILD_READY_TIMEOUT = 120.0
#: How long a child may take to stop after its stdin closed and SIGTERM, before it is killed.
CHILD_STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class ZoneRun:
    """How one zone's local stack is started."""

    zone: str
    region: str
    stack_name: str
    peer_region: str | None = None
    port: int = 0
    parameters: dict[str, str] = field(default_factory=dict)


def zone_stack_name(zone: str, default_zone: str) -> str:
    """The template's default zone keeps the local stack name (single-zone runs are unchanged);
    another zone gets its own, since bucket names are account-wide (``<stack>-uploads-<account>``)."""
    return DEFAULT_STACK_NAME if zone == default_zone else f"{DEFAULT_STACK_NAME}-{zone}"


def plan_zones(
    template_path: Path,
    names: Sequence[str] = (),
    *,
    port: int = 0,
    peer_region: str | None = None,
) -> list[ZoneRun]:
    """The runs of ``names`` (default: every zone of the template's ``ResidencyZones``).

    One zone runs as ``local up`` always did: its primary alone, or with ``peer_region``, and no
    migration target. Several zones each run with their zone's second region as the peer and with
    ``MigrationTargets`` naming the others; their API ports are chosen here, before any starts,
    because each zone's settings name the others' endpoints. ``port`` is the first zone's.
    """
    base = load_local_template(template_path)
    zones = Zones.parse(str(base.resolver.refs["ResidencyZones"]))
    default_zone = str(base.resolver.refs["ResidencyZone"])
    chosen = [zones.get(name) for name in names] if names else list(zones.zones)
    if len({zone.name for zone in chosen}) != len(chosen):
        raise ValueError("a zone is named twice")
    if len(chosen) == 1:
        zone = chosen[0]
        return [
            ZoneRun(
                zone.name,
                zone.primary,
                zone_stack_name(zone.name, default_zone),
                peer_region=peer_region,
                port=port,
                parameters={"ResidencyZone": zone.name},
            )
        ]
    if peer_region is not None:
        raise ValueError("--peer-region needs one --zone")  # several zones: each with its own peer
    runs = [
        ZoneRun(
            zone.name,
            zone.primary,
            zone_stack_name(zone.name, default_zone),
            peer_region=zone.regions[1] if len(zone.regions) > 1 else None,
            port=port if index == 0 and port else _free_port(),
        )
        for index, zone in enumerate(chosen)
    ]
    targets = {run.zone: _migration_target(template_path, run) for run in runs}
    return [
        ZoneRun(
            run.zone,
            run.region,
            run.stack_name,
            run.peer_region,
            run.port,
            {
                "ResidencyZone": run.zone,
                "MigrationTargets": json.dumps({z: t for z, t in targets.items() if z != run.zone}),
            },
        )
        for run in runs
    ]


def _migration_target(template_path: Path, run: ZoneRun) -> dict[str, Any]:
    """``run``'s zone as another zone's ``MigrationTargets`` names it: its primary region's table
    and buckets (read from the template as that zone loads it) and its local API."""
    template = load_local_template(
        template_path,
        stack_name=run.stack_name,
        region=run.region,
        parameter_overrides={
            "ResidencyZone": run.zone,
            **({"PeerRegion": run.peer_region} if run.peer_region else {}),
        },
    )
    return {
        "region": run.region,
        "table_name": template.tables["Table"].name,
        "buckets": {
            "bundles": template.buckets["BundlesBucket"].name,
            "packages": template.buckets["PackagesBucket"].name,
            "exports": template.buckets["ExportsBucket"].name,
        },
        "api_endpoints": [f"http://127.0.0.1:{run.port}/{template.api_stage}"],
    }


#: Where zones' API ports are picked: below Linux's ephemeral range (32768-60999), so that no
#: socket bound to port 0 meanwhile (moto, the edges, the S3 fronts) is given the port picked.
PICKED_PORTS = range(20000, 32768)


def _free_port() -> int:
    """A port free now on loopback, that the zone's gateway binds moments later (SO_REUSEADDR)."""
    for port in random.sample(PICKED_PORTS, 50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port on 127.0.0.1 in {PICKED_PORTS.start}-{PICKED_PORTS.stop - 1}")


class ZoneStartFailedError(RuntimeError):
    """A zone's child process exited, or did not report ready in time."""


class LocalZones:
    """The first run's stack in this process (it owns moto), every other run in a child process."""

    def __init__(
        self,
        template_path: Path,
        runs: Sequence[ZoneRun],
        *,
        home: Path | None = None,
        peer_api: bool = False,
        verbose: bool = False,
    ) -> None:
        if not runs:
            raise ValueError("no zone to run")
        self.template_path = template_path
        self.runs = list(runs)
        self.home = ensure_home(state_home(home))
        self._peer_api = peer_api
        self._verbose = verbose
        self.first: Any = None  # the LocalStack of runs[0]; imported lazily (it imports moto)
        self.children: dict[str, subprocess.Popen[str]] = {}
        self.states: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> LocalZones:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalZones:
        """Start every zone, then write the state file; on any failure stop what started."""
        from content_service.local.stack import LocalStack, StackAlreadyRunningError

        if (running := RunningStack.find(self.home)) is not None:
            raise StackAlreadyRunningError(
                f"a local stack is already running (pid {running.state['pid']}, API {running.api_url})"
            )
        first = self.runs[0]
        try:
            self.first = LocalStack(
                self.template_path,
                home=self.home,
                stack_name=first.stack_name,
                region=first.region,
                gateway_port=first.port,
                write_state_file=False,
                peer_region=first.peer_region,
                peer_api=self._peer_api,
                parameters=first.parameters,
            ).start()
            self.states[first.zone] = self.first.state_document()
            endpoint = self.first.endpoints.endpoint_url
            for run in self.runs[1:]:
                self.states[run.zone] = self._start_child(run, endpoint)
        except BaseException:
            self.stop()
            raise
        write_state(self.home, self.state_document())
        return self

    def state_document(self) -> dict[str, Any]:
        """The first zone's state at the top (what single-zone readers know), every zone's under ``zones``."""
        first = self.states[self.runs[0].zone]
        return {
            **first,
            "zone": self.runs[0].zone,
            "zones": self.states,
            "children": {zone: child.pid for zone, child in self.children.items()},
        }

    def exited_zone(self) -> str | None:
        """A zone whose child process has exited (the rest cannot work on without it), or None."""
        return next((zone for zone, child in self.children.items() if child.poll() is not None), None)

    def stop(self) -> None:
        """Stop the children (stdin closed, SIGTERM, killed after a while), then this process's stack."""
        for child in self.children.values():
            _close_quietly(child)
            if child.poll() is None:
                child.terminate()
        for zone, child in self.children.items():
            try:
                child.wait(timeout=CHILD_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.warning("zone %s did not stop in %.0fs; killing it", zone, CHILD_STOP_TIMEOUT)
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
        self.children = {}
        if self.first is not None:
            self.first.stop()
            self.first = None
        remove_state(self.home, os.getpid())

    def _start_child(self, run: ZoneRun, moto_endpoint: str) -> dict[str, Any]:
        spec = {
            **asdict(run),
            "template": str(self.template_path),
            "home": str(self.home),
            "moto_endpoint": moto_endpoint,
            "peer_api": self._peer_api,
            "verbose": self._verbose,
        }
        child = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", __name__, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.children[run.zone] = child
        lines: queue.Queue[str] = queue.Queue()
        assert child.stdout is not None
        reader = threading.Thread(target=lambda: lines.put(child.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        try:
            line = lines.get(timeout=CHILD_READY_TIMEOUT)
        except queue.Empty:
            raise ZoneStartFailedError(
                f"zone {run.zone} did not start in {CHILD_READY_TIMEOUT:.0f}s"
            ) from None
        if not line:
            code = child.wait()
            raise ZoneStartFailedError(f"zone {run.zone} exited with {code} while starting (see above)")
        return dict(json.loads(line))


def _close_quietly(child: subprocess.Popen[str]) -> None:
    if child.stdin is not None:
        with contextlib.suppress(OSError):
            child.stdin.close()


# ------------------------------------------------------------------ the child process
def _serve_zone(spec: dict[str, Any]) -> int:
    from content_service.local.stack import LocalStack

    logging.basicConfig(
        level=logging.INFO if spec.get("verbose") else logging.WARNING,
        format=f"%(levelname)s [zone {spec['zone']}] %(name)s: %(message)s",
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    # The parent holds the other end of stdin: end of file means it stopped or died.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stack = LocalStack(
        Path(spec["template"]),
        home=Path(spec["home"]),
        stack_name=spec["stack_name"],
        region=spec["region"],
        gateway_port=int(spec["port"]),
        write_state_file=False,
        peer_region=spec.get("peer_region"),
        peer_api=bool(spec.get("peer_api")),
        parameters=spec.get("parameters") or {},
        moto_endpoint=spec["moto_endpoint"],
    )
    try:
        stack.start()
    except Exception as error:  # noqa: BLE001 - reported in one line; the parent says which zone
        sys.stderr.write(f"zone {spec['zone']} cannot start: {error}\n")
        return 1
    try:
        if stop.is_set():
            return 0
        sys.stdout.write(json.dumps(stack.state_document()) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_serve_zone(json.loads(sys.argv[1])))
