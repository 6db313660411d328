"""`content-service demo` runs the whole walking skeleton on its own stack and exits 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).parent / "content-service"


def test_the_demo_starts_a_stack_builds_the_sample_and_exits_0(tmp_path):
    result = subprocess.run(
        [str(CLI), "demo", "--timeout", "60"],
        capture_output=True,
        text=True,
        env={**os.environ, "CONTENT_SERVICE_HOME": str(tmp_path), "COLUMNS": "200"},
        cwd=Path(__file__).parents[2],
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "state        │ built" in result.stdout or "│ state        │ built" in result.stdout
    assert "demo finished" in result.stdout
    assert "identical to the uploaded file" in result.stdout
    assert "verified: signatures" in result.stdout
    # The assistant: generated from the sample's text, approved, and verified on the device.
    assert "Assistant config v1r1" in result.stdout and "local-extractive" in result.stdout
    assert "approved v1r1 (approved)" in result.stdout
    assert "assistant overlay verified on the device (v1r1" in result.stdout
    # The stack it started is gone again: no state file is left behind.
    assert not (tmp_path / "local.json").exists()
    # Nothing stray: no library warnings, no EMF metric lines from the handlers it ran.
    assert not re.search(r"\w*Warning: ", result.stdout + result.stderr), result.stdout + result.stderr
    assert '"_aws"' not in result.stdout and "No application metrics" not in result.stdout + result.stderr
