"""`content-service demo --failover`: the primary fails mid-download, the device finishes from the
secondary, verifies every byte, gets its licence from the secondary's API, reads the content and
loses the bundle to a revocation made in the secondary; the exit code says whether it did."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).parent / "content-service"


def _demo(home: Path, *args: str, columns: int = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "demo", "--failover", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CONTENT_SERVICE_HOME": str(home), "COLUMNS": str(columns)},
        cwd=Path(__file__).parents[2],
        timeout=240,
        check=False,
    )


def test_the_failover_demo_finishes_the_download_from_the_secondary_and_exits_0(tmp_path: Path) -> None:
    result = _demo(tmp_path, "--timeout", "60")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "peer eu-central-1" in out and "origin group eu-west-1 → eu-central-1" in out
    failed = re.search(r"eu-west-1 failed after (\d+) of (\d+) container bytes", out)
    assert failed and 0 < int(failed[1]) < int(failed[2]), out
    # The resume: Range from what the device kept, with the URL it held (no API), from the peer.
    assert f"resumed with Range: bytes={failed[1]}- and the signed URL the device held (0 API calls)" in out
    assert "the edge failed over to eu-central-1's bucket" in out
    assert "every byte verified: the container's SHA-256 is the signed manifest's" in out
    assert "identical to the uploaded file" in out
    # The API half: the device's first licence and a revocation, both through the secondary.
    assert re.search(
        r"licence lic_\w+ issued by the secondary's API \(eu-central-1\) after the primary's 503", out
    ), out
    assert "revoked bnd_" in out and "through the secondary's API" in out
    assert "the device synced through the secondary's API and removed the revoked bundle" in out
    assert "failover demo finished" in out
    assert not (tmp_path / "local.json").exists()
    assert not re.search(r"\w*Warning: |Traceback", out + result.stderr), out + result.stderr
    assert '"_aws"' not in out


def test_the_failover_demo_exits_non_zero_with_one_line_when_the_peer_has_no_copy(tmp_path: Path) -> None:
    # Replication held back far longer than the demo waits: the secondary cannot serve the download.
    result = _demo(tmp_path, "--timeout", "15", "--replication-delay", "600", columns=60)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert (
        len(lines) == 1
        and lines[0].startswith("demo failed: ")
        and "not replicated to eu-central-1" in lines[0]
    )
    assert "failover demo finished" not in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
