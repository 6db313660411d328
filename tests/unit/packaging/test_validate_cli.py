"""The validate command's exit codes and output, on a throwaway app holding only that command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from content_service.cli import validate
from tests.security.hostile import manifest, package
from tests.zipcraft import Entry


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()

    @application.callback()
    def main() -> None:
        """Throwaway root so that `validate` stays a subcommand."""

    validate.register(application)
    return application


def test_a_missing_file_is_a_usage_error_with_one_line(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.zip")])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "no such file" in result.stderr


def test_a_directory_is_a_usage_error(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])

    assert result.exit_code == 2
    assert "not a file" in result.stderr


def test_a_valid_package_exits_0_with_a_json_report(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "ok.zip"
    path.write_bytes(package())

    result = CliRunner().invoke(app, ["validate", str(path), "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid"] is True


def test_a_refused_package_exits_1_and_lists_its_problems(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(package(Entry("[red]x[/red].php", b"<?php")))

    result = CliRunner().invoke(app, ["validate", str(path)])

    assert result.exit_code == 1
    assert "zip.server_executable" in result.stdout
    assert "[red]x[/red].php" in result.stdout.replace("\n", "")


def test_launch_ids_from_the_descriptor_reach_the_terminal_escaped(app: typer.Typer, tmp_path: Path) -> None:
    # XML allows C1 controls (U+009B is an 8-bit CSI) and bidi overrides in an identifier.
    path = tmp_path / "ok.zip"
    path.write_bytes(
        package(descriptor=manifest().replace(b'identifier="I1"', 'identifier="I\u009b2J\u202e"'.encode()))
    )

    result = CliRunner().invoke(app, ["validate", str(path)])

    assert result.exit_code == 0, result.output
    assert "\u009b" not in result.stdout and "\u202e" not in result.stdout
    assert "I\\x9b2J\\u202e" in result.stdout
