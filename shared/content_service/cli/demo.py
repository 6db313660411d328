"""``content-service demo``: upload the shipped sample package and watch it build, end to end."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from content_service.cli.assistant_demo import generate_and_approve, read_on_device
from content_service.cli.errors import track
from content_service.cli.failover_demo import run_failover_demo
from content_service.client import ApiClient, ApiError, put_upload
from content_service.device.agent import DeviceAgent
from content_service.device.store import DeviceStore
from content_service.domain.errors import DomainError
from content_service.samples import sample_zip_bytes

console = Console()
err = Console(stderr=True, soft_wrap=True)  # one line, however narrow the terminal

DEMO_TENANT = "tenant-demo"
DEMO_AUTHOR = "author-demo"
DEMO_LEARNER = "learner-demo"
DEMO_ADMIN = "admin-demo"
DEMO_CATALOG_CLIENT = "catalog"


@dataclass(frozen=True)
class StackHandle:
    """The running stack and one token per role the demo plays: each step uses the caller it has in production."""

    api_url: str
    author_token: str
    admin_token: str
    catalog_token: str
    learner_token: str
    started_here: bool


def _handle(stack: object, started_here: bool) -> StackHandle:
    mint_token = stack.mint_token  # type: ignore[attr-defined]
    mint_service_token = stack.mint_service_token  # type: ignore[attr-defined]
    return StackHandle(
        stack.api_url,  # type: ignore[attr-defined]
        author_token=mint_token(DEMO_TENANT, DEMO_AUTHOR, roles=["author"]),
        admin_token=mint_token(DEMO_TENANT, DEMO_ADMIN, roles=["admin"]),
        catalog_token=mint_service_token(DEMO_TENANT, DEMO_CATALOG_CLIENT, ["catalog"]),
        learner_token=mint_token(DEMO_TENANT, DEMO_LEARNER),
        started_here=started_here,
    )


@contextlib.contextmanager
def open_stack() -> Iterator[StackHandle]:
    """Use the running local stack if there is one, else start one for the demo's lifetime."""
    from content_service.local.stack import LocalStack, RunningStack

    running = RunningStack.find()
    if running is not None:
        yield _handle(running, started_here=False)
        return
    # The handlers run in this process; keep their INFO logs and the EMF metric lines Lambda
    # would hand to CloudWatch out of the demo's own output.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    with LocalStack() as stack:
        yield _handle(stack, started_here=True)


def run_demo(timeout: float) -> int:
    data = sample_zip_bytes("welcome")
    with (
        console.status("starting the embedded local stack (moto on 127.0.0.1)..."),
        contextlib.ExitStack() as stack_scope,
    ):
        handle = stack_scope.enter_context(open_stack())
        console.print(
            f"[green]✓[/] local stack {'started' if handle.started_here else 'found running'}: API {handle.api_url}"
        )
        client = ApiClient(handle.api_url, handle.author_token)
        created = client.create_upload(len(data))
        package = created["package"]
        console.print(
            f"[green]✓[/] [cyan]author {DEMO_AUTHOR}[/]: POST /v1/uploads → package "
            f"{package['package_id']} v{package['version']} (building)"
        )
        put_upload(created["upload"], data)
        console.print(f"[green]✓[/] PUT {len(data)} bytes to the presigned upload URL")
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("building: waiting for the upload event → SQS → build_package", total=None)
            settled = client.wait_until_settled(
                package["package_id"],
                package["version"],
                timeout=timeout,
                on_poll=lambda p: bar.update(task, description=f"package state: {p['state']}"),
            )
        show(settled)
        if settled["state"] != "built":
            problem = settled.get("problem") or {}
            err.print(
                f"demo failed: the package is {settled['state']}: {problem.get('code')}: {problem.get('detail')}"
            )
            return 1
        manifest = client.get_manifest(package["package_id"], package["version"])["manifest"]
        for launch in manifest["launches"]:
            console.print(f"  launch [bold]{launch['id']}[/]: {launch['title']} → {launch['href']}")
        generate_and_approve(console, ApiClient(handle.api_url, handle.admin_token), package)
        play_offline(
            ApiClient(handle.api_url, handle.catalog_token),
            ApiClient(handle.api_url, handle.learner_token),
            package,
            manifest,
            data,
        )
        console.print(
            "[bold green]demo finished: built, bundled, licensed, downloaded, verified and read on the device[/]"
        )
        return 0


def play_offline(
    catalog: ApiClient, learner: ApiClient, package: dict, manifest: dict, source_zip: bytes
) -> None:
    """The device half: the catalog bundles for the learner; the learner's device enrols, gets a
    licence, downloads, verifies and reads a file, decrypted on read."""
    bundle = catalog.create_bundle(
        [{"package_id": package["package_id"]}], f"demo-{uuid.uuid4().hex}", user_id=DEMO_LEARNER
    )
    console.print(
        f"[green]✓[/] [cyan]catalog service {DEMO_CATALOG_CLIENT}[/] (client-credentials token): "
        f"POST /v1/bundles for {DEMO_LEARNER} → {bundle['bundle_id']} ({bundle['state']}, signed manifest)"
    )
    with tempfile.TemporaryDirectory(prefix="demo-device-") as home:
        store = DeviceStore(Path(home)).ensure()
        agent = DeviceAgent(store, session=requests.Session())
        record = agent.enroll(learner, "demo tablet")
        console.print(
            f"[green]✓[/] [cyan]learner {DEMO_LEARNER}[/]'s device enrolled: {record.device_id} "
            "(X25519 key in a 0600 file, JWKS pinned)"
        )
        with Progress(TextColumn("{task.description}"), console=console) as bar:
            task = bar.add_task("downloading through the CDN edge (signed URLs)", total=None)
            agent.download(
                bundle["bundle_id"],
                progress=lambda name, done, total: bar.update(task, completed=done, total=total or None),
            )
        console.print("[green]✓[/] downloaded the signed manifest and the encrypted container")
        claims = agent.fetch_licence(bundle["bundle_id"])
        console.print(
            f"[green]✓[/] licence {claims['jti']}: content key wrapped to this device only, "
            f"offline grace {claims['offline_grace'] // 86400} days"
        )
        report = agent.verify(bundle["bundle_id"])
        console.print(
            f"[green]✓[/] verified: signatures, licence binding, {report.files} file hashes, every segment"
        )
        entry = manifest["launches"][0]["href"]
        mounted = agent.mount(bundle["bundle_id"])
        try:
            plaintext = mounted.read(package["package_id"], entry)
        finally:
            agent.unmount(bundle["bundle_id"])
        with zipfile.ZipFile(io.BytesIO(source_zip)) as archive:
            if plaintext != archive.read(entry):
                raise RuntimeError(f"{entry} read from the mounted bundle differs from the uploaded file")
        console.print(
            f"[green]✓[/] read {entry} ({len(plaintext)} bytes) from the mounted bundle under the licence: "
            "identical to the uploaded file"
        )
        read_on_device(console, agent, bundle["bundle_id"], package["package_id"])


def show(package: dict) -> None:
    table = Table(title="PlayPackage", show_header=False)
    for field in (
        "package_id",
        "version",
        "state",
        "standard",
        "title",
        "language",
        "files",
        "bytes",
        "launches",
        "content_hash",
    ):
        table.add_row(field, str(package.get(field)))
    if package.get("problem"):
        table.add_row("problem", f"{package['problem']['code']}: {package['problem']['detail']}")
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command()
    @track
    def demo(
        timeout: float = typer.Option(
            120.0, min=1, help="seconds to wait for the build (and, with --failover, for replication)"
        ),
        failover: bool = typer.Option(
            False,
            "--failover",
            help="fail the primary region mid-download: the device finishes from the secondary, verified",
        ),
        replication_delay: float = typer.Option(
            0.0, min=0, help="with --failover: seconds of replication lag the local replicator plays"
        ),
    ) -> None:
        """Upload the sample package to the local stack, wait for the build, print the PlayPackage.

        With --failover: its own stack with a peer region; the primary fails mid-download and the
        device finishes from the secondary; exits 0 only when it read verified content.
        """
        try:
            code = run_failover_demo(console, timeout, replication_delay) if failover else run_demo(timeout)
        except (ApiError, DomainError, TimeoutError, OSError, RuntimeError) as error:
            err.print(f"demo failed: {error}")
            raise typer.Exit(1) from error
        raise typer.Exit(code)
