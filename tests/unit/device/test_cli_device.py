"""``content-service device ...`` against the fake service: the commands, exit codes and one-line errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from content_service.cli.device import register
from content_service.domain.tenant import Branding
from tests.unit.device.conftest import WELCOME
from tests.unit.device.fake_service import FakeService


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("other")
    def other() -> None:
        """Typer needs a second command to keep the group name in the command line."""

    return app


@pytest.fixture
def live() -> Iterator[FakeService]:
    # The CLI runs on the real clocks, so the service does too.
    running = FakeService(now=time.time).start()
    yield running
    running.stop()


def run(cli: typer.Typer, *args: str):  # noqa: ANN201 - click's Result
    return CliRunner().invoke(cli, ["device", *args], catch_exceptions=False)


def test_enroll_download_verify_read_list_remove(cli: typer.Typer, live: FakeService, tmp_path: Path) -> None:
    home = str(tmp_path / "device")
    bundle_id = live.add_bundle({"pkg_welcome": WELCOME})
    enrolled = run(
        cli, "enroll", "--api", live.api_url, "--token", live.token, "--name", "cli", "--home", home
    )
    assert enrolled.exit_code == 0, enrolled.output
    assert "enrolled dev_" in enrolled.stdout
    downloaded = run(cli, "download", bundle_id, "--home", home)
    assert downloaded.exit_code == 0, downloaded.output
    verified = run(cli, "verify", bundle_id, "--home", home)
    assert verified.exit_code == 0 and "1 package(s), 4 file(s)" in verified.stdout
    read = run(cli, "read", bundle_id, "pkg_welcome", "index.html", "--home", home)
    assert read.exit_code == 0 and read.stdout_bytes == WELCOME["index.html"]
    out = tmp_path / "logo.svg"
    assert (
        run(
            cli, "read", bundle_id, "pkg_welcome", "images/logo.svg", "-o", str(out), "--home", home
        ).exit_code
        == 0
    )
    assert out.read_bytes() == WELCOME["images/logo.svg"]
    listed = run(cli, "list", "--home", home)
    assert listed.exit_code == 0 and bundle_id[:12] in listed.stdout
    flushed = run(cli, "flush", "--home", home)
    assert flushed.exit_code == 0 and "tamper: sent 0, pending 0" in flushed.stdout
    assert run(cli, "remove", bundle_id, "--home", home).exit_code == 0
    gone = run(cli, "read", bundle_id, "pkg_welcome", "index.html", "--home", home)
    assert gone.exit_code == 1 and gone.stderr.count("\n") == 1 and "BundleNotFound" in gone.stderr


def test_a_tampered_bundle_exits_1_with_one_line(cli: typer.Typer, live: FakeService, tmp_path: Path) -> None:
    home = str(tmp_path / "device")
    bundle_id = live.add_bundle({"pkg_welcome": WELCOME})
    run(cli, "enroll", "--api", live.api_url, "--token", live.token, "--home", home)
    run(cli, "download", bundle_id, "--home", home)
    container = next((tmp_path / "device" / "bundles" / bundle_id).glob("*.cspc"))
    data = bytearray(container.read_bytes())
    data[-1] ^= 1
    container.write_bytes(bytes(data))
    result = run(cli, "verify", bundle_id, "--home", home)
    assert result.exit_code == 1
    assert (
        result.stderr.startswith("content-service device: TamperDetected:") and result.stderr.count("\n") == 1
    )
    assert [r["kind"] for r in live.tamper_reports] == ["container"]


def test_usage_errors_exit_2(cli: typer.Typer, tmp_path: Path) -> None:
    assert run(cli, "verify").exit_code == 2
    assert (
        run(cli, "enroll", "--api", "ftp://x", "--token", "t", "--home", str(tmp_path / "d")).exit_code == 2
    )


def test_commands_before_enrolment_exit_1_and_create_nothing(cli: typer.Typer, tmp_path: Path) -> None:
    result = run(cli, "list", "--home", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "NotEnrolled" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_sync_prints_applied_changes_and_removes_a_revoked_bundle(
    cli: typer.Typer, live: FakeService, tmp_path: Path
) -> None:
    home = str(tmp_path / "dev")
    assert run(cli, "enroll", "--api", live.api_url, "--token", live.token, "--home", home).exit_code == 0
    bundle_id = live.add_bundle({"pkg_welcome": WELCOME})
    assert run(cli, "download", bundle_id, "--home", home).exit_code == 0
    first = run(cli, "sync", "--home", home)
    assert first.exit_code == 0, first.output
    assert f"#1 bundle.added {bundle_id}: available" in first.output
    live.revoke_bundle(bundle_id, "withdrawn")
    second = run(cli, "sync", "--home", home)
    assert second.exit_code == 0, second.output
    assert f"#2 bundle.revoked {bundle_id} (withdrawn): removed" in second.output
    assert not (tmp_path / "dev" / "bundles" / bundle_id).exists()
    assert run(cli, "sync", "--interval", "60", "--watch", "--home", home).exit_code == 2


def test_refresh_jwks_pins_a_rotated_key_and_an_altered_state_is_one_line(
    cli: typer.Typer, live: FakeService, tmp_path: Path
) -> None:
    home = str(tmp_path / "dev")
    assert run(cli, "enroll", "--api", live.api_url, "--token", live.token, "--home", home).exit_code == 0
    live.rotate_key()
    refreshed = run(cli, "refresh-jwks", "--home", home)
    assert refreshed.exit_code == 0 and "added 1 key(s)" in refreshed.stdout
    assert live.signer.kid in refreshed.stdout
    record = tmp_path / "dev" / "device.json"
    record.write_text(record.read_text().replace('"user_id": "', '"user_id": "x'))
    altered = run(cli, "list", "--home", home)
    assert altered.exit_code == 1 and altered.stderr.count("\n") == 1 and "EnrolmentAltered" in altered.stderr


def test_branding_shows_what_launch_applies_and_a_tampered_overlay_launches_unbranded(
    cli: typer.Typer, live: FakeService, tmp_path: Path
) -> None:
    home = str(tmp_path / "device")
    bundle_id = live.add_bundle({"pkg_welcome": WELCOME})
    live.brand(Branding("Acme", "#0a5cff"))
    assert run(cli, "enroll", "--api", live.api_url, "--token", live.token, "--home", home).exit_code == 0
    assert run(cli, "download", bundle_id, "--home", home).exit_code == 0
    shown = run(cli, "branding", "--offline", "--home", home)
    assert shown.exit_code == 0 and json.loads(shown.stdout)["branding"]["name"] == "Acme"
    launched = run(cli, "launch", bundle_id, "pkg_welcome", "index.html", "--home", home)
    assert launched.exit_code == 0 and b"--brand-primary: #0a5cff;" in launched.stdout_bytes
    overlay = tmp_path / "device" / "branding.jws"
    overlay.write_text(overlay.read_text()[:-4] + "AAAA")
    refused = run(cli, "launch", bundle_id, "pkg_welcome", "index.html", "--home", home)
    assert refused.exit_code == 0 and refused.stdout_bytes == WELCOME["index.html"]
    assert "branding refused, unbranded" in refused.stderr
    assert json.loads(run(cli, "branding", "--offline", "--home", home).stdout)["applied"] is False
