"""Benchmark: CloudFront signed-URL issue time, against a bare RSA-2048 PKCS#1 v1.5 SHA-1 signature.

Run from the repository root: ``.venv/bin/python benchmarks/signed_urls.py [--count 5000]``. It
times :class:`CdnSigner` issuing canned URLs and prefix (custom-policy) URLs one at a time, times
the bare ``cryptography`` signature those URLs cost as the baseline in the same run, times the
local edge's check of a canned URL, and writes the "Signed URLs" section of BENCHMARKS.md,
leaving every other section as it is. No network, nothing written but BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import cryptography
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from content_service.crypto.cdn import CdnSigner, canned_policy, generate_key_pair
from content_service.local.edge_auth import SignatureChecker, SignedRequest
from report import write_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Signed URLs (CloudFront, issue and edge check)"
BASE_URL = "https://d111111abcdef8.cloudfront.net"


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    """p50/p95/p99 and mean in microseconds."""
    ordered = sorted(samples_ns)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": statistics.fmean(ordered) / 1000}


def timed_each(count: int, operation: Callable[[int], object]) -> list[int]:
    """Run ``operation(i)`` ``count`` times after a short warm-up; one duration per call."""
    for i in range(min(200, count)):
        operation(i)
    samples = []
    for i in range(count):
        started = time.perf_counter_ns()
        operation(i)
        samples.append(time.perf_counter_ns() - started)
    return samples


def run(count: int) -> dict[str, dict[str, float]]:
    """Every measured row, by label."""
    pair = generate_key_pair()
    signer = CdnSigner("KBENCHMARK0001", pair.private_key_pem, BASE_URL)
    key = serialization.load_pem_private_key(pair.private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    epoch = int(expires.timestamp())
    paths = [f"tenants/t{i % 50}/containers/pkg_{i}/v1/{i:064x}.cspc" for i in range(count)]
    policies = [canned_policy(f"{BASE_URL}/{path}", epoch).encode() for path in paths]
    urls = [signer.signed_url(path, expires) for path in paths]
    checker = SignatureChecker({"KBENCHMARK0001": pair.public_key_pem}, clock=time.time)
    origin = f"{urlsplit(BASE_URL).scheme}://{urlsplit(BASE_URL).netloc}"
    split_urls = [urlsplit(url) for url in urls]
    return {
        "baseline: bare RSA-2048 PKCS#1 v1.5 SHA-1 sign (cryptography)": percentiles(
            timed_each(count, lambda i: key.sign(policies[i], padding.PKCS1v15(), hashes.SHA1()))  # noqa: S303
        ),
        "canned URL (`CdnSigner.signed_url`)": percentiles(
            timed_each(count, lambda i: signer.signed_url(paths[i], expires))
        ),
        "prefix URL, custom policy (`CdnSigner.signed_prefix_url`)": percentiles(
            timed_each(count, lambda i: signer.signed_prefix_url(paths[i], f"tenants/t{i % 50}/", expires))
        ),
        "local edge check of a canned URL (`SignatureChecker.check`)": percentiles(
            timed_each(
                count,
                lambda i: checker.check(
                    SignedRequest.parse(origin, split_urls[i].path, split_urls[i].query), "127.0.0.1"
                ),
            )
        ),
    }


def report(count: int, results: dict[str, dict[str, float]], load: tuple[float, float]) -> str:
    """The BENCHMARKS.md section."""
    baseline = next(iter(results.values()))["p50"]
    rows = "\n".join(
        f"| {label} | {r['p50']:,.0f} | {r['p95']:,.0f} | {r['p99']:,.0f} | {r['p50'] / baseline:.2f}× |"
        for label, r in results.items()
    )
    canned = results["canned URL (`CdnSigner.signed_url`)"]
    verdict = "met" if canned["p95"] < 1000 else "NOT met"
    return f"""{SECTION}

Command: `.venv/bin/python benchmarks/signed_urls.py --count {count}` (from the repository root).
Date {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; nproc {os.cpu_count()}; CPython {platform.python_version()};
cryptography {cryptography.__version__}; {platform.machine()}; 1-minute load average {load[0]:.2f} before,
{load[1]:.2f} after (the machine is shared, so every figure, baselines included, carries that noise).

{count:,} URLs of distinct objects, each timed on its own (one call, `perf_counter_ns`), after a
200-call warm-up; one RSA-2048 key. The baseline is the signature alone, in the same run: what
any CloudFront signed URL must cost. Figures in microseconds.

| operation | p50 µs | p95 µs | p99 µs | p50 vs baseline |
| --- | ---: | ---: | ---: | ---: |
{rows}

Aim: p95 < 1 ms to issue a canned URL: {verdict} ({canned["p95"]:,.0f} µs). Issuing is the RSA
signature plus building the policy and URL strings; a bundle download reply needs one URL per
container and one for the manifest, or a single prefix signature for all of them.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results = run(args.count)
    body = report(args.count, results, (load_before, os.getloadavg()[0]))
    print(body)  # noqa: T201
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
