"""Installed without its ``local`` extra, the command says what to install, in one line.

``pip install content-service`` gives the console script but not typer, rich or the local stack's
libraries. The test runs the real entry point in a fresh interpreter where those modules cannot
be imported (``sys.modules[name] = None`` makes ``import name`` fail as a missing module does).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCKED_RUN = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None
sys.argv = ["content-service", *{argv!r}]
from content_service.cli import main
main()
"""


def run_without(blocked: list[str], *argv: str) -> subprocess.CompletedProcess[str]:
    code = BLOCKED_RUN.format(blocked=blocked, argv=list(argv))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "command", [["validate", "x.zip"], ["build", "x.zip", "-o", "out"], ["export", "--help"]]
)
def test_without_the_local_extra_every_command_prints_the_install_line(command: list[str]) -> None:
    result = run_without(["typer", "rich"], *command)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "pip install 'content-service[local]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_local_stack_command_without_moto_prints_the_install_line() -> None:
    result = run_without(["moto"], "local", "up")
    assert result.returncode == 1
    assert "pip install 'content-service[local]'" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_module_outside_the_extra_is_a_real_error() -> None:
    # Only the extra's own modules get the hint: anything else missing is a broken install.
    result = run_without(["defusedxml"], "validate", "x.zip")
    assert result.returncode == 1
    assert "ModuleNotFoundError" in result.stderr and "content-service[local]" not in result.stderr
