"""``content-service demo --failover``: the primary region fails mid-download; the device finishes
from the secondary through the zone's edge, verifies every byte and reads the content.

The demo runs its own local stack with a peer region (``LocalStack(peer_region=...)``): the
replicator copies the bundles bucket and the table to the peer, and the zone's edge serves an
origin group (the primary's bucket, then the peer's), and the peer's API runs. A device enrols and starts a
container download; a third of the way in, the primary region fails (the fault switch: its S3 and
its API answer 503) and the connection drops. The device resumes with ``Range`` and the signed
URL it holds; the edge, on a location that does not hold the object, fails over to the peer's
bucket; the device checks the container's SHA-256 against the signed manifest, verifies every
segment and file, gets its licence from the secondary's API (the primary's answers 503),
mounts the bundle and reads a file identical to the one uploaded. Last, a revocation made
through the secondary's API reaches the device, whose sync the secondary answers.

The pieces (``start_zone``, ``sample_bundle``, ``wait_for_replicas``, ``drill``) are what
benchmarks/failover.py repeats.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from content_service.client import ApiClient, put_upload
from content_service.device.agent import DeviceAgent
from content_service.device.errors import DownloadIncomplete
from content_service.device.store import DeviceStore
from content_service.local.edge_cache import EdgeCache
from content_service.local.outage import RegionFailsMidDownload
from content_service.local.replicator import Copy
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack, StackAlreadyRunningError
from content_service.samples import sample_zip_bytes

#: The default zone's secondary (``eu``: eu-west-1, then eu-central-1).
PEER_REGION = "eu-central-1"
DISTRIBUTION = "BundlesDistribution"
DEMO_TENANT = "tenant-demo"
DEMO_LEARNER = "learner-demo"


class FailoverDemoFailed(RuntimeError):
    """A step of the failover demo did not do what it must (the message is the one line shown)."""


@contextlib.contextmanager
def start_zone(
    replication_delay: float = 0.0, home: Path | None = None, *, peer_api: bool = True
) -> Iterator[LocalStack]:
    """The local stack as a zone's primary with its peer (and the peer's API unless ``peer_api``
    is False); every region healthy again on exit."""
    # The handlers run in this process; keep their logs and EMF lines out of the output. The
    # replicator retries (and logs) while the primary is failed, which is expected here.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.getLogger("content_service.local.replicator").setLevel(logging.ERROR)
    try:
        stack = LocalStack(
            home=home,
            runner_settings=RunnerSettings(schedules_enabled=False),
            peer_region=PEER_REGION,
            replication_delay=replication_delay,
            peer_api=peer_api,
        ).start()
    except StackAlreadyRunningError as error:
        raise FailoverDemoFailed(
            f"{error}; the failover demo runs its own stack with a peer region: "
            "stop that one (`content-service local down`) or set CONTENT_SERVICE_HOME"
        ) from error
    try:
        yield stack
    finally:
        stack.faults.heal()
        stack.stop()


def build_sample(stack: LocalStack, timeout: float) -> tuple[dict, bytes]:
    """Upload the shipped sample as an author and wait for its build; (package, the zip).

    The package carries its launch entry (``entry``), the file the device reads at the end.
    """
    data = sample_zip_bytes("welcome")
    author = ApiClient(stack.api_url, stack.mint_token(DEMO_TENANT, "author-demo", roles=["author"]))
    created = author.create_upload(len(data))
    put_upload(created["upload"], data)
    package = author.wait_until_settled(
        created["package"]["package_id"], created["package"]["version"], timeout=timeout, interval=0.1
    )
    if package["state"] != "built":
        problem = package.get("problem") or {}
        raise FailoverDemoFailed(
            f"the package is {package['state']}: {problem.get('code')}: {problem.get('detail')}"
        )
    manifest = author.get_manifest(package["package_id"], package["version"])["manifest"]
    return {**package, "entry": manifest["launches"][0]["href"]}, data


def sample_bundle(stack: LocalStack, package: dict) -> str:
    """A bundle of ``package`` for the demo learner, created by the catalog service; its id."""
    catalog = ApiClient(stack.api_url, stack.mint_service_token(DEMO_TENANT, "catalog", ["catalog"]))
    bundle = catalog.create_bundle(
        [{"package_id": package["package_id"]}], f"failover-{uuid.uuid4().hex}", user_id=DEMO_LEARNER
    )
    return str(bundle["bundle_id"])


def fail_primary(stack: LocalStack) -> None:
    """Fail the primary region, and let the resume reach an edge location without the object.

    A warm edge location would answer from its cache and never ask an origin; an empty one
    proves the origin group: the bytes must come from an origin, now the peer's bucket.
    """
    stack.faults.fail(stack.region)
    stack.edges[DISTRIBUTION].cache = EdgeCache()


def device_network(stack: LocalStack) -> RegionFailsMidDownload:
    """The device's session: the primary fails the moment an armed container body is cut."""
    return RegionFailsMidDownload(
        stack.edges[DISTRIBUTION].base_url, stack.api_url, lambda: fail_primary(stack)
    )


def enrolled_device(stack: LocalStack, home: Path, network: RegionFailsMidDownload) -> DeviceAgent:
    """A reference device for the demo learner, enrolled through the primary's API."""
    agent = DeviceAgent(DeviceStore(home).ensure(), session=network)
    agent.enroll(ApiClient(stack.api_url, stack.mint_token(DEMO_TENANT, DEMO_LEARNER)), "failover tablet")
    return agent


def object_key(url: str) -> str:
    """The bucket key a signed CDN URL names (its path)."""
    return url.split("?", 1)[0].split("/", 3)[3]


def wait_for_replicas(stack: LocalStack, keys: Sequence[str], timeout: float) -> list[Copy]:
    """Wait until every key was copied to the peer's bucket; their copies (with the lag)."""
    assert stack.replicator is not None
    deadline = time.monotonic() + timeout
    while True:
        copies = {copy.what: copy for copy in stack.replicator.copies if copy.kind == "object"}
        if all(key in copies for key in keys):
            return [copies[key] for key in keys]
        if time.monotonic() > deadline:
            missing = ", ".join(key.rsplit("/", 1)[-1] for key in keys if key not in copies)
            raise FailoverDemoFailed(f"{missing} not replicated to {stack.peer_region} within {timeout:g} s")
        time.sleep(0.05)


@dataclass(frozen=True)
class Drill:
    """One download the primary's failure interrupted, and how the device finished it."""

    size: int
    cut: int
    kept: int
    resume_range: str | None
    failure_to_next_byte: float
    api_calls_after_failure: int
    peer_hits: int
    sha256: str


def drill(
    stack: LocalStack, agent: DeviceAgent, network: RegionFailsMidDownload, bundle_id: str, cut: int
) -> Drill:
    """Download ``bundle_id``: the primary fails after ``cut`` container bytes; the device resumes.

    The resume is the device's own ``download`` again: the signed URLs it holds, ``Range`` from
    what it kept, the container's SHA-256 checked against the signed manifest before it is kept.
    Raises ``FailoverDemoFailed`` when a step did not happen as it must.
    """
    edge = stack.edges[DISTRIBUTION]
    network.arm(cut)
    try:
        agent.download(bundle_id)
    except DownloadIncomplete:
        pass
    else:
        raise FailoverDemoFailed("the download finished before the primary region failed")
    if not stack.faults.is_failed(stack.region):
        raise FailoverDemoFailed(f"{stack.region} did not fail")
    files = agent.store.bundle(bundle_id)
    partials = list(files.root.glob("*.part"))
    kept = partials[0].stat().st_size if partials else 0
    peer_before = edge.origin_hits[1]
    agent.download(bundle_id)
    manifest_container = _container_of(agent, bundle_id)
    waited = network.failure_to_next_byte
    if waited is None:
        raise FailoverDemoFailed("no byte arrived after the primary failed")
    return Drill(
        size=int(manifest_container["size"]),
        cut=cut,
        kept=kept,
        resume_range=network.ranges[-1],
        failure_to_next_byte=waited,
        api_calls_after_failure=network.api_calls_after_failure,
        peer_hits=edge.origin_hits[1] - peer_before,
        sha256=str(manifest_container["sha256"]),
    )


def _container_of(agent: DeviceAgent, bundle_id: str) -> dict:
    """The first container entry of the bundle's signed manifest, as the device holds it."""
    manifest = agent.parts.checks.manifest(bundle_id, agent.store.bundle(bundle_id).manifest.read_bytes())
    return dict(manifest["packages"][0]["container"])


def run_failover_demo(console: Console, timeout: float, replication_delay: float = 0.0) -> int:
    """The whole demo; 0 only when the device read verified content (else FailoverDemoFailed)."""
    with contextlib.ExitStack() as scope:
        with console.status("starting the embedded local stack with a peer region..."):
            stack = scope.enter_context(start_zone(replication_delay))
        return _run(console, stack, timeout)


def _run(console: Console, stack: LocalStack, timeout: float) -> int:
    edge = stack.edges[DISTRIBUTION]
    console.print(
        f"[green]✓[/] local zone started: primary {stack.region} (API {stack.api_url}), "
        f"peer {stack.peer_region} (bucket and table replicas, replicator running), "
        f"edge {edge.base_url} with origin group {' → '.join(o.region or '?' for o in edge.origins)}"
    )
    package, data = build_sample(stack, timeout)
    console.print(
        f"[green]✓[/] [cyan]author[/]: uploaded the sample, built {package['package_id']} v{package['version']}"
    )
    bundle_id = sample_bundle(stack, package)
    console.print(f"[green]✓[/] [cyan]catalog service[/]: POST /v1/bundles for {DEMO_LEARNER} → {bundle_id}")
    with tempfile.TemporaryDirectory(prefix="demo-failover-device-") as home:
        network = device_network(stack)
        agent = enrolled_device(stack, Path(home), network)
        endpoints = " then ".join(agent.api.candidates)
        console.print(f"[green]✓[/] device enrolled: {agent.device_id} (API endpoints: {endpoints})")
        listing = agent.api.download_urls(bundle_id, agent.device_id)
        container = listing["containers"][0]
        keys = [object_key(listing["manifest_url"]), object_key(container["url"])]
        copies = wait_for_replicas(stack, keys, timeout)
        console.print(
            f"[green]✓[/] replicated to {stack.peer_region}: manifest and container "
            f"(lag {', '.join(f'{c.lag_seconds * 1000:.0f} ms' for c in copies)})"
        )
        size = int(container["size"])
        done = drill(stack, agent, network, bundle_id, cut=size // 3)
        console.print(
            f"[green]✓[/] [red]{stack.region} failed[/] after {done.kept} of {done.size} container bytes "
            "(its S3 and API answer 503); the connection dropped"
        )
        if done.resume_range != f"bytes={done.kept}-" or done.peer_hits < 1:
            raise FailoverDemoFailed(
                f"the resume did not come from the peer with Range (range {done.resume_range}, peer hits {done.peer_hits})"
            )
        console.print(
            f"[green]✓[/] resumed with Range: {done.resume_range} and the signed URL the device held "
            f"({done.api_calls_after_failure} API calls); the edge failed over to {stack.peer_region}'s bucket "
            f"({done.peer_hits} origin requests there); next byte {done.failure_to_next_byte * 1000:.0f} ms after the failure"
        )
        console.print(
            f"[green]✓[/] every byte verified: the container's SHA-256 is the signed manifest's ({done.sha256[:16]}…)"
        )
        _licence_from_secondary(console, stack, agent, network, bundle_id)
        report = agent.verify(bundle_id)
        console.print(
            f"[green]✓[/] verified offline: signatures, licence binding, {report.files} file hashes, every segment"
        )
        plaintext, entry = _read_entry(agent, bundle_id, package, data)
        console.print(
            f"[green]✓[/] read {entry} ({len(plaintext)} bytes) from the mounted bundle: identical to the uploaded file"
        )
        _revocation_from_secondary(console, stack, agent, network, bundle_id, timeout)
    console.print(
        f"[bold green]failover demo finished: {stack.region} failed mid-download, the device finished from "
        f"{stack.peer_region}, verified every byte, read the content, got a licence from the secondary "
        "and lost the bundle to a revocation made there[/]"
    )
    return 0


def _read_entry(agent: DeviceAgent, bundle_id: str, package: dict, source_zip: bytes) -> tuple[bytes, str]:
    entry = str(package["entry"])
    mounted = agent.mount(bundle_id)
    try:
        plaintext = mounted.read(package["package_id"], entry)
    finally:
        agent.unmount(bundle_id)
    with zipfile.ZipFile(io.BytesIO(source_zip)) as archive:
        if plaintext != archive.read(entry):
            raise FailoverDemoFailed(f"{entry} read from the mounted bundle differs from the uploaded file")
    return plaintext, entry


def _licence_from_secondary(
    console: Console, stack: LocalStack, agent: DeviceAgent, network: RegionFailsMidDownload, bundle_id: str
) -> None:
    """With the primary failed, the device's first licence: the secondary's API issues it (the
    device's API fails over along its enrolment endpoints), signing and unwrapping the content
    key in its own region with the replicas of the primary's keys."""
    peer_url = stack.peer_api_url.rstrip("/")
    seen = len(network.answers)
    claims = agent.fetch_licence(bundle_id)
    answered = [(url, status) for url, status in network.answers[seen:] if "/licenses" in url]
    if not answered or not answered[-1][0].startswith(peer_url) or answered[-1][1] >= 400:
        raise FailoverDemoFailed(f"the licence did not come from the secondary's API ({answered})")
    refused = [str(status) for url, status in answered if not url.startswith(peer_url)]
    console.print(
        f"[green]✓[/] licence {claims['jti']} issued by the secondary's API ({stack.peer_region}) after the "
        f"primary's {', '.join(refused) or 'silence'}: content key unwrapped there and wrapped to this device, "
        "signed with the replica of the signing key"
    )


def _revocation_from_secondary(
    console: Console,
    stack: LocalStack,
    agent: DeviceAgent,
    network: RegionFailsMidDownload,
    bundle_id: str,
    timeout: float,
) -> None:
    """Still with the primary failed: a revocation made through the secondary's API reaches the
    device through its sync, which the secondary answers."""
    peer_url = stack.peer_api_url.rstrip("/")
    seen = len(network.answers)
    catalog = ApiClient(peer_url, stack.mint_service_token(DEMO_TENANT, "catalog", ["catalog"]))
    catalog.revoke_bundle(bundle_id, "withdrawn")
    revoked_at = time.monotonic()
    console.print(f"[green]✓[/] [cyan]catalog service[/]: revoked {bundle_id} through the secondary's API")
    deadline = revoked_at + timeout
    while agent.store.bundle(bundle_id).root.exists():
        if time.monotonic() > deadline:
            raise FailoverDemoFailed(
                f"the revocation made in {stack.peer_region} did not reach the device within {timeout:g} s"
            )
        time.sleep(0.2)
        agent.sync_once()
    synced = [status for url, status in network.answers[seen:] if "/sync" in url and url.startswith(peer_url)]
    if 200 not in synced:
        raise FailoverDemoFailed("the device's sync was not answered by the secondary's API")
    console.print(
        f"[green]✓[/] the device synced through the secondary's API and removed the revoked bundle "
        f"{(time.monotonic() - revoked_at) * 1000:.0f} ms after the revocation (the feed entry is the "
        "primary's fan_out's: locally it keeps running, see docs/regions.md)"
    )
