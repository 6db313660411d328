"""Benchmark: the primary region fails mid-download, again and again; the device finishes each
download from the secondary.

Run from the repository root:
``.venv/bin/python benchmarks/failover.py [--runs 20] [--seed 12] [--replication-delay 0]``.

The embedded local stack as a zone's primary (eu-west-1) with its peer (eu-central-1): the
local replicator copies the bundles bucket and the table, the zone's edge serves an origin group
(primary, then peer). One reference device is enrolled once. Each run creates a new bundle of the
sample package for the device's user, takes its licence, waits until the bundle's manifest is in
the peer's bucket, then:

* **baseline**: with every region healthy and the edge cache empty, the time to the first byte
  of the same ``Range`` request the resume will make (``bytes={cut}-``);
* **drill**: the device downloads the bundle; after ``cut`` container bytes (a random point of
  the container) the primary region fails (its S3 and API answer 503, the edge cache is emptied:
  the resume reaches a location without the object) and the connection drops; the device runs
  its download again, which resumes with ``Range`` and the signed URL it holds;
* **time from failure to the next good byte**: from the fault switch to the first body byte of
  the resumed container answer (the download's whole SHA-256 is then checked against the signed
  manifest: the byte is good only if the container verifies);
* **availability**: downloads whose container verified and whose bundle verified deep
  (``DeviceAgent.verify``: signatures, licence binding, every segment and file hash), over runs;
* then every region is healed before the next run.

Replication lag: every copy the replicator made during the whole benchmark (objects and items,
``LocalReplicator.copies``), from the source write to the replica write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from content_service.cli.failover_demo import (  # noqa: E402
    DISTRIBUTION,
    PEER_REGION,
    build_sample,
    device_network,
    drill,
    enrolled_device,
    object_key,
    sample_bundle,
    start_zone,
    wait_for_replicas,
)
from content_service.local.edge_cache import EdgeCache  # noqa: E402
from content_service.local.stack import LocalStack  # noqa: E402
from report import write_section  # noqa: E402

TITLE = "## Failover (primary region fails mid-download)"
PATIENCE = 60.0


@dataclass
class Results:
    failure_to_byte: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    cuts: list[tuple[int, int]] = field(default_factory=list)
    api_calls_after_failure: list[int] = field(default_factory=list)
    verified: int = 0
    failures: list[str] = field(default_factory=list)


def first_byte(url: str, offset: int) -> float:
    """Seconds from sending ``GET url`` with ``Range: bytes={offset}-`` to its first body byte."""
    started = time.monotonic()
    with requests.get(url, headers={"Range": f"bytes={offset}-"}, stream=True, timeout=30) as response:
        if response.status_code != 206:
            raise RuntimeError(f"the baseline range request got {response.status_code}")
        if not response.raw.read1(1):
            raise RuntimeError("the baseline range request got no byte")
        return time.monotonic() - started


def runs(stack: LocalStack, count: int, draw: random.Random, home: Path) -> Results:
    results = Results()
    package, _ = build_sample(stack, timeout=PATIENCE)
    network = device_network(stack)
    agent = enrolled_device(stack, home, network)
    edge = stack.edges[DISTRIBUTION]
    for run in range(count):
        try:
            bundle_id = sample_bundle(stack, package)
            agent.fetch_licence(bundle_id)
            listing = agent.api.download_urls(bundle_id, agent.device_id)
            container = listing["containers"][0]
            size = int(container["size"])
            wait_for_replicas(
                stack, [object_key(listing["manifest_url"]), object_key(container["url"])], PATIENCE
            )
            cut = draw.randint(1, size - 1)
            edge.cache = EdgeCache()
            results.baseline.append(first_byte(container["url"], cut))
            done = drill(stack, agent, network, bundle_id, cut)
            if done.resume_range != f"bytes={done.kept}-" or done.peer_hits < 1:
                raise RuntimeError(f"resume range {done.resume_range}, peer hits {done.peer_hits}")
            agent.verify(bundle_id)
            results.verified += 1
            results.failure_to_byte.append(done.failure_to_next_byte)
            results.cuts.append((done.kept, size))
            results.api_calls_after_failure.append(done.api_calls_after_failure)
        except Exception as error:  # noqa: BLE001 - a failed download is a result, not the end of the run
            results.failures.append(f"run {run}: {type(error).__name__}: {error}")
            traceback.print_exc()
        finally:
            stack.faults.heal()
    return results


def pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def row(name: str, values: list[float]) -> str:
    ms = [value * 1000 for value in values]
    return f"| {name} | {len(ms)} | {pct(ms, 0.5):.0f} ms | {pct(ms, 0.95):.0f} ms | {max(ms, default=float('nan')):.0f} ms |"


def render(
    results: Results, stack_lags: dict[str, list[float]], command: str, load: tuple[str, str], runs_: int
) -> str:
    available = results.verified / runs_ if runs_ else 0.0
    sizes = {size for _, size in results.cuts}
    lag_rows = "\n".join(row(f"replication lag, {kind}s", values) for kind, values in stack_lags.items())
    failures = "\n".join(f"- {failure}" for failure in results.failures) or "- none"
    api_calls = sum(results.api_calls_after_failure)
    return f"""{TITLE}

Command: `{command}`. Run on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs (shared
with other work: load average {load[0]} at the start, {load[1]} at the end), Python
{platform.python_version()}.

The embedded local stack as the `eu` zone's primary (eu-west-1) with its peer ({PEER_REGION}):
the local replicator plays S3 replication and the global table, the zone's local edge serves the
origin group (primary's bucket, then the peer's). One enrolled reference device; each run makes a
new bundle of the sample package (container {", ".join(f"{s:,}" for s in sorted(sizes)) or "?"} bytes), takes its licence and waits for the
bundle's manifest in the peer's bucket. Then the device downloads it and, after a random number
of container bytes (uniform over the container), the primary region fails (its S3 and API answer
503) and the connection drops; the device runs its download again, which resumes with `Range`
and the signed URL it holds, through an edge location without the object (its cache is emptied
at the failure, so the bytes must come from an origin: the peer's bucket). Every region is
healed before the next run.

| measure | runs | p50 | p95 | max |
| --- | ---: | ---: | ---: | ---: |
{row("failure → next byte of the resumed download (verified afterwards)", results.failure_to_byte)}
{row("baseline: first byte of the same Range request, no failure, cold edge", results.baseline)}
{lag_rows}

**Download availability: {results.verified} of {runs_} downloads verified ({available:.0%}).** Aim: no
failed download — {"met" if results.verified == runs_ else "NOT met"}. A download counts only when the
container's SHA-256 matched the signed manifest and `DeviceAgent.verify` passed (signatures, licence
binding, every segment and file hash). Failed runs:

{failures}

The time from the failure to the next byte is the device's own resume (the failure surfaces as a
dropped connection, `download` runs again at once), then the edge's origin-group failover twice
(the manifest, then the container: the primary's 503, then the peer), and the manifest's
signature check in between; the baseline is one range request to a healthy primary through a
cold edge. A device that waits before retrying adds its back-off to the first figure. The resumes
made {api_calls} API calls in all: a resume uses the signed URLs the device holds while they are
valid, so the failed region's API is not on the download path.

Replication lag here is the replicator's polling (every 0.2 s, `--replication-delay` 0 adds
nothing) plus the copy itself; it measures the emulation, not S3 Replication Time Control (15
minutes for 99.99 % of objects, most within seconds) or a global table (typically under a
second). A download can fail over only once its objects are in the peer; this benchmark waits
for that, and `content-service demo --failover --replication-delay` shows the wait.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--replication-delay", type=float, default=0.0)
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    command = (
        f".venv/bin/python benchmarks/failover.py --runs {args.runs} --seed {args.seed}"
        f" --replication-delay {args.replication_delay:g}"
    )
    load_start = "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())
    with (
        tempfile.TemporaryDirectory() as home,
        start_zone(args.replication_delay, home=Path(home) / "stack", peer_api=False) as stack,
    ):
        results = runs(stack, args.runs, random.Random(args.seed), Path(home) / "device")
        assert stack.replicator is not None
        lags = {
            kind: [copy.lag_seconds for copy in stack.replicator.copies if copy.kind == kind]
            for kind in ("object", "item")
        }
    load_end = "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())
    section = render(results, lags, command, (load_start, load_end), args.runs)
    print(section)
    if not args.no_write:
        write_section(section)


if __name__ == "__main__":
    main()
