"""``device read``/``launch -o``: the output is written whole or not at all, and a bad one is one line.

The device agent runs against the fake service of tests/unit/device (enrol, download); only the
command line's handling of ``-o`` is under test here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from content_service.cli.device import register
from tests.unit.device.conftest import WELCOME
from tests.unit.device.fake_service import FakeService


@pytest.fixture
def downloaded(tmp_path: Path) -> Iterator[tuple[typer.Typer, str, str]]:
    """(app, home, bundle id) of a device that holds the welcome bundle."""
    app = typer.Typer()
    register(app)

    @app.command("other")
    def other() -> None:
        """Typer needs a second command to keep the group name in the command line."""

    service = FakeService(now=time.time).start()
    try:
        home = str(tmp_path / "device")
        bundle_id = service.add_bundle({"pkg_welcome": WELCOME})
        assert (
            run(app, "enroll", "--api", service.api_url, "--token", service.token, "--home", home).exit_code
            == 0
        )
        assert run(app, "download", bundle_id, "--home", home).exit_code == 0
        yield app, home, bundle_id
    finally:
        service.stop()


def run(app: typer.Typer, *args: str):  # noqa: ANN201 - click's Result
    return CliRunner().invoke(app, ["device", *args])


def one_line(result, exit_code: int, phrase: str) -> None:  # noqa: ANN001
    assert result.exit_code == exit_code, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert phrase in result.stderr


@pytest.mark.parametrize("command", ["read", "launch"])
def test_an_output_that_is_a_directory_or_has_no_parent_is_a_usage_error(
    command: str, downloaded: tuple[typer.Typer, str, str], tmp_path: Path
) -> None:
    app, home, bundle_id = downloaded
    (tmp_path / "out").mkdir()
    base = [command, bundle_id, "pkg_welcome", "index.html", "--home", home, "-o"]
    one_line(run(app, *base, str(tmp_path / "out")), 2, "is a directory")
    one_line(run(app, *base, str(tmp_path / "nowhere" / "page.html")), 2, "no such directory")
    assert list((tmp_path / "out").iterdir()) == [] and not (tmp_path / "nowhere").exists()


def test_an_existing_output_is_replaced_whole_with_nothing_beside_it(
    downloaded: tuple[typer.Typer, str, str], tmp_path: Path
) -> None:
    app, home, bundle_id = downloaded
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "logo.svg"
    target.write_bytes(b"old")
    result = run(app, "read", bundle_id, "pkg_welcome", "images/logo.svg", "-o", str(target), "--home", home)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == WELCOME["images/logo.svg"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["logo.svg"]
