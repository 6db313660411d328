"""The CLI's contract: exit codes, JSON shape, limits from the environment, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from content_service.samples import sample_zip_bytes

CLI = Path(sys.executable).parent / "content-service"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def test_validate_json_reports_a_valid_package(tmp_path):
    package = tmp_path / "welcome.zip"
    package.write_bytes(sample_zip_bytes("welcome"))
    result = run("validate", str(package), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"valid", "standard", "title", "launches", "files", "bytes", "problems"}
    assert report["valid"] is True and report["standard"] == "native" and report["problems"] == []


def test_validate_reads_the_import_limits_from_the_environment(tmp_path):
    package = tmp_path / "welcome.zip"
    package.write_bytes(sample_zip_bytes("welcome"))
    result = run("validate", str(package), "--json", env={"IMPORT_LIMITS__MAX_FILES": "2"})
    assert result.returncode == 1
    assert [p["code"] for p in json.loads(result.stdout)["problems"]] == ["zip.too_many_files"]


def test_usage_errors_exit_2_with_one_line(tmp_path):
    missing = run("validate", str(tmp_path / "nope.zip"))
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "no such file" in missing.stderr
    assert run("validate").returncode == 2
    assert run("no-such-command").returncode == 2


def test_local_token_without_a_running_stack_exits_1(tmp_path):
    result = run(
        "local", "token", "--tenant", "t", "--user", "u", env={"CONTENT_SERVICE_HOME": str(tmp_path)}
    )
    assert result.returncode == 1
    assert result.stderr.strip()
