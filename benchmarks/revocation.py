"""Benchmark: tamper → revocation → device feed latency on the local stack, and fan-out to N devices.

Run from the repository root:
``.venv/bin/python benchmarks/revocation.py [--runs 30] [--device-runs 20] [--devices 10000]``.

Latency: the embedded local stack with the real handlers (API, fan_out behind the table stream,
the runner polling the stream every 0.2 s like Lambda's poller). Each run creates a bundle for a
user with two devices and waits until both feeds list it; then either revokes it through the API
or files a tamper report, and polls both devices' sync (every 20 ms) until both show the
revocation. Times are wall clock from sending the request.

Device unmount: one enrolled reference device (``content_service.device``) runs a ``SyncLoop`` at
its default interval for the whole measurement. Each run creates a bundle, the device
licenses and downloads it, a random pause (0 to one interval) decorrelates the revocation from the
loop's phase, then the bundle is revoked through the API; the time runs from sending the revoke
until the bundle's folder (licence, keys, ciphertext) is gone from the device.

Fan-out: one ``bundle.revoked`` projected to N devices of one user (the per-user device cap is
an API rule and is bypassed here, so the per-device cost is what is measured), against the same
moto DynamoDB, counting every DynamoDB call. Baseline from the same run: N bare conditional
PutItem calls, the least any per-device write could cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from content_service.adapters.feed import DynamoSyncStore  # noqa: E402
from content_service.bootstrap import SystemClock  # noqa: E402
from content_service.client import ApiClient, put_upload  # noqa: E402
from content_service.crypto.licence import device_public_jwk, generate_device_key  # noqa: E402
from content_service.device.agent import DeviceAgent  # noqa: E402
from content_service.device.store import DeviceStore  # noqa: E402
from content_service.device.sync import DEFAULT_SYNC_INTERVAL, SyncLoop  # noqa: E402
from content_service.events.models import BundleRevokedData, BundleRevokedV1  # noqa: E402
from content_service.local.runner import RunnerSettings  # noqa: E402
from content_service.local.stack import LocalStack  # noqa: E402
from content_service.samples import sample_zip_bytes  # noqa: E402
from content_service.service.sync import project  # noqa: E402
from report import write_section  # noqa: E402

TITLE = "## Revocation and tamper response (local stack)"
POLL = 0.02


class CountingClient:
    """A boto3 client that counts its calls by operation."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


class NoMetrics:
    def count(self, name: str, value: float = 1) -> None:
        pass

    def seconds(self, name: str, value: float) -> None:
        pass


class Learner:
    def __init__(self, stack: LocalStack, user: str) -> None:
        self.base = stack.api_url
        self.session = requests.Session()
        # An admin person: a learner with devices who may also bundle and revoke for themselves,
        # so one client drives the whole measured loop.
        self.session.headers["Authorization"] = f"Bearer {stack.mint_token('bench', user, roles=['admin'])}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, self.base + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response

    def has(self, device: str, kind: str, bundle_id: str) -> bool:
        changes = self.call("GET", f"/v1/devices/{device}/sync").json()["changes"]
        return any(c["type"] == kind and c["bundle_id"] == bundle_id for c in changes)

    def wait(self, devices: list[str], kind: str, bundle_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        pending = list(devices)
        while pending:
            pending = [d for d in pending if not self.has(d, kind, bundle_id)]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"{kind} of {bundle_id} did not reach {pending}")
            if pending:
                time.sleep(POLL)


def built_package(stack: LocalStack) -> str:
    """The welcome sample, uploaded and built for the benchmark tenant."""
    author = ApiClient(stack.api_url, stack.mint_token("bench", "author", roles=["author"]))
    data = sample_zip_bytes("welcome")
    created = author.create_upload(len(data))
    put_upload(created["upload"], data)
    return str(
        author.wait_until_settled(created["package"]["package_id"], 1, timeout=60, interval=0.1)["package_id"]
    )


def latency_runs(stack: LocalStack, package_id: str, runs: int) -> dict[str, list[float]]:
    learner = Learner(stack, "learner")
    devices = [
        learner.call(
            "POST", "/v1/devices", json={"public_key": device_public_jwk(generate_device_key())}
        ).json()["device_id"]
        for _ in range(2)
    ]
    samples: dict[str, list[float]] = {"revoke_to_feed": [], "tamper_to_revoked": [], "tamper_to_feed": []}
    for run in range(runs):
        made = learner.call(
            "POST",
            "/v1/bundles",
            json={"packages": [{"package_id": package_id}]},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ).json()
        bundle_id, member = made["bundle_id"], made["packages"][0]
        learner.wait(devices, "bundle.added", bundle_id)
        started = time.perf_counter()
        if run % 2 == 0:
            learner.call("POST", f"/v1/bundles/{bundle_id}/revoke", json={"reason": "benchmark"})
            learner.wait(devices, "bundle.revoked", bundle_id)
            samples["revoke_to_feed"].append(time.perf_counter() - started)
        else:
            learner.call(
                "POST",
                f"/v1/devices/{devices[0]}/tamper-reports",
                json={
                    "bundle_id": bundle_id,
                    "kind": "container",
                    "detail": "benchmark",
                    "evidence": {
                        "object": "container",
                        "package_id": member["package_id"],
                        "version": member["version"],
                        "expected_sha256": member["container"]["sha256"],
                        "found_sha256": "0" * 64,
                    },
                },
            )
            while learner.call("GET", f"/v1/bundles/{bundle_id}").json()["state"] != "revoked":
                time.sleep(POLL)
            samples["tamper_to_revoked"].append(time.perf_counter() - started)
            learner.wait(devices, "bundle.revoked", bundle_id)
            samples["tamper_to_feed"].append(time.perf_counter() - started)
    return samples


def unmount_runs(stack: LocalStack, package_id: str, runs: int, home: Path) -> list[float]:
    """Revoke (API) → the device's SyncLoop (default interval) has removed the bundle, per run."""
    learner = ApiClient(stack.api_url, stack.mint_token("bench", "device-learner", roles=["admin"]))
    agent = DeviceAgent(DeviceStore(home / "device").ensure(), session=requests.Session())
    agent.enroll(learner, "benchmark device")
    samples: list[float] = []
    with SyncLoop(agent) as loop:
        for _ in range(runs):
            bundle_id = learner.create_bundle([{"package_id": package_id}], uuid.uuid4().hex)["bundle_id"]
            agent.fetch_licence(bundle_id)
            agent.download(bundle_id)
            folder = agent.store.bundle(bundle_id).root
            # Without this pause every revocation would land at the same phase of the loop.
            time.sleep(random.uniform(0, loop.interval))
            started = time.perf_counter()
            learner.revoke_bundle(bundle_id, "benchmark")
            deadline = time.monotonic() + 6 * loop.interval
            while folder.exists():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{bundle_id} still on the device: {loop.last_error!r}")
                time.sleep(0.01)
            samples.append(time.perf_counter() - started)
    return samples


def fan_out_run(stack: LocalStack, devices: int) -> dict[str, Any]:
    table = stack.endpoints.tables["Table"]
    plain = boto3.client("dynamodb")
    setup = DynamoSyncStore(plain, table)
    user = f"fanout-{uuid.uuid4().hex[:6]}"
    for i in range(devices):
        setup.put_device("bench", user, f"dev_{i:032x}")

    started = time.perf_counter()
    for i in range(devices):
        plain.put_item(
            TableName=table,
            Item={"pk": {"S": f"BASELINE#{user}#{i}"}, "sk": {"S": "X"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    baseline = time.perf_counter() - started

    counting = CountingClient(plain)
    now = dt.datetime.now(dt.UTC)
    event = BundleRevokedV1(
        id=f"evt_{uuid.uuid4().hex}",
        tenant_id="bench",
        occurred_at=now,
        data=BundleRevokedData(bundle_id="bnd_fanout", user_id=user, reason="benchmark"),
    )
    started = time.perf_counter()
    appended = project(
        event, store=DynamoSyncStore(counting, table), metrics=NoMetrics(), clock=SystemClock()
    )
    elapsed = time.perf_counter() - started
    assert appended == devices, appended
    return {
        "devices": devices,
        "seconds": elapsed,
        "baseline_seconds": baseline,
        "calls": dict(counting.calls),
    }


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render(samples: dict[str, list[float]], unmount: list[float], fan: dict[str, Any], command: str) -> str:
    labels = {
        "revoke_to_feed": "revoke (API) → `bundle.revoked` in both devices' feeds",
        "tamper_to_revoked": "tamper report (API) → bundle revoked",
        "tamper_to_feed": "tamper report (API) → `bundle.revoked` in both devices' feeds",
    }
    device_label = f"revoke (API) → bundle unmounted and deleted on a device (`SyncLoop` every {DEFAULT_SYNC_INTERVAL:.0f} s)"
    rows = [
        f"| {labels[name]} | {len(values)} | {statistics.median(values) * 1000:.0f} ms "
        f"| {pct(values, 0.95) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |"
        for name, values in samples.items()
    ]
    rows.append(
        f"| {device_label} | {len(unmount)} | {statistics.median(unmount) * 1000:.0f} ms "
        f"| {pct(unmount, 0.95) * 1000:.0f} ms | {max(unmount) * 1000:.0f} ms |"
    )
    unmount_p95 = pct(unmount, 0.95)
    p95 = max(pct(values, 0.95) for values in samples.values())
    n = fan["devices"]
    calls = fan["calls"]
    wru = calls.get("put_item", 0) + calls.get("update_item", 0)
    rru = calls.get("get_item", 0) + calls.get("query", 0)
    per_device_ms = fan["seconds"] / n * 1000
    baseline_ms = fan["baseline_seconds"] / n * 1000
    call_list = ", ".join(f"{name} × {count}" for name, count in sorted(calls.items()))
    return f"""{TITLE}

Command: `{command}`. Run on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs,
Python {platform.python_version()}.

The embedded local stack (moto server, the real API and fan_out handlers, the runner polling the
table stream every 0.2 s as Lambda's poller does about four times a second). Each run creates a
bundle for a user with two devices and waits until both feeds list it, then revokes it (even
runs) or files a tamper report for it (odd runs), and polls both devices' sync every 20 ms.

| path | runs | p50 | p95 | max |
| --- | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

Aim for the service paths (the first three rows): p95 < 5 s — {"met" if p95 < 5 else "NOT met"} (worst p95
{p95 * 1000:.0f} ms). The tamper path is two stream hops (the report's row, then the revoking write).

Device unmount (last row): one reference device runs a `SyncLoop` at its default interval
({DEFAULT_SYNC_INTERVAL:.0f} s) throughout; each run revokes a bundle the device holds at a random phase
of the loop and times until its folder (licence, wrapped keys, ciphertext) is gone. The SLO is
< 60 s online — {"met" if unmount_p95 < 60 else "NOT met"} (p95 {unmount_p95 * 1000:.0f} ms); the issue's 5 s p95 aim is
{"met" if unmount_p95 < 5 else "NOT met"}. The time is bounded by one sync interval plus the feed latency above
(worst case about {DEFAULT_SYNC_INTERVAL:.0f} s + 1 s): a p95 under 5 s for every phase would need an interval of
about 3 s (more requests per device) or a push channel.

Fan-out: one `bundle.revoked` projected to {n:,} devices of one user, one invocation, against the
same moto DynamoDB (the per-user device cap is bypassed: it is the per-device cost that scales).

| operation | devices | total | per device |
| --- | ---: | ---: | ---: |
| projection of one revocation (`service.sync.project`) | {n:,} | {fan["seconds"]:.1f} s | {per_device_ms:.2f} ms |
| baseline: bare conditional PutItem × N | {n:,} | {fan["baseline_seconds"]:.1f} s | {baseline_ms:.2f} ms |

DynamoDB calls: {call_list}. Each device costs one strongly consistent Query (the feed's last
entry; 1 read unit) and two writes (the event's claim and the entry; 2 write units): about
{wru:,} WRU and {rru:,} RRU for this revocation
(≈ ${(wru * 1.25 + rru * 0.25) / 1e6:.4f} at on-demand prices, $1.25 per million WRU and $0.25 per
million RRU). The bare conditional put is the floor for any per-device write; the claim and the
last-entry query are what keep each feed gapless and duplicate-free under concurrent writers and redelivery. Within one
invocation the appends run one after another: at a few ms per call on AWS, one event for 10,000
devices takes tens of seconds, which is why a user's devices are capped (5 by default, 100 at
most); a revocation for many users is many events, spread over shards and invocations, and a
package-version withdrawal fans out in parallel SQS chunks (see "Package withdrawal fan-out").
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--device-runs", type=int, default=20, help="runs of revoke → device unmount")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    command = (
        f".venv/bin/python benchmarks/revocation.py --runs {args.runs} --device-runs {args.device_runs}"
        f" --devices {args.devices}"
    )
    with (
        tempfile.TemporaryDirectory() as home,
        LocalStack(
            home=Path(home), runner_settings=RunnerSettings(schedules_enabled=False), write_state_file=False
        ) as stack,
    ):
        package_id = built_package(stack)
        samples = latency_runs(stack, package_id, args.runs)
        unmount = unmount_runs(stack, package_id, args.device_runs, Path(home))
        fan = fan_out_run(stack, args.devices)
    section = render(samples, unmount, fan, command)
    print(section)
    if not args.no_write:
        write_section(section)


if __name__ == "__main__":
    main()
