"""``content-service local up`` and ``local token`` as a user runs them, in a child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from content_service.local.stack import find_template

ROOT = find_template(Path(__file__).parent).parent
CLI_MODULE = ROOT / "shared" / "content_service" / "cli" / "local.py"

# The command group is mounted on its own Typer app, so this test depends only on cli/local.py.
RUN_GROUP = f"""
import importlib.util, sys, typer
spec = importlib.util.spec_from_file_location("cli_local_under_test", {str(CLI_MODULE)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
app = typer.Typer()
module.register(app)

@app.command()
def version() -> None:
    pass

app()
"""


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTENT_SERVICE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-c", RUN_GROUP, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _default_sigint() -> None:
    """Let Ctrl-C reach ``local up`` however pytest was started: a shell that runs a command in the
    background without job control (CI scripts, nohup) starts it with SIGINT ignored, the child
    inherits that, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, and no stack left running if it does not stop in time (the test fails on its own)."""
    process.send_signal(signal.SIGINT)
    try:
        # A zone's child may take up to CHILD_STOP_TIMEOUT (20 s) before it is killed, and the
        # first zone stops after it: on a loaded machine that is more than 30 s.
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _local_up(home: Path, *options: str) -> subprocess.Popen[str]:
    """``content-service local up OPTIONS`` in a process of its own, its state under ``home``."""
    return subprocess.Popen(
        [sys.executable, "-c", RUN_GROUP, "local", "up", *options],
        cwd=ROOT,
        env={**os.environ, "CONTENT_SERVICE_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def _wait_for_state(home: Path, process: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (home / "local.json").exists():
            return json.loads((home / "local.json").read_text(encoding="utf-8"))
        if process.poll() is not None:
            raise AssertionError(f"local up exited early: {process.communicate()}")
        time.sleep(0.1)
    raise AssertionError("local up never wrote its state file")


def test_local_up_serves_until_ctrl_c_and_local_token_works_meanwhile(tmp_path: Path) -> None:
    process = _local_up(tmp_path)
    try:
        state = _wait_for_state(tmp_path, process)
        minted = _cli(tmp_path, "local", "token", "--tenant", "tenant-a", "--user", "user-1")
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        assert token.count(".") == 2

        authorized = requests.get(
            f"{state['api_url']}/v1/packages", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        anonymous = requests.get(f"{state['api_url']}/v1/packages", timeout=10)
        assert authorized.status_code != 401
        assert anonymous.status_code == 401

        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert str(state["api_url"]) in stdout
    assert str(state["edge_url"]).startswith("http://127.0.0.1:")
    assert str(state["edge_url"]) in stdout
    assert not (tmp_path / "local.json").exists()


def test_local_token_without_a_running_stack_fails_clearly(tmp_path: Path) -> None:
    result = _cli(tmp_path, "local", "token", "--tenant", "tenant-a", "--user", "user-1")
    assert result.returncode == 1
    assert "no local stack is running" in result.stderr


def test_fail_region_makes_the_api_answer_503_until_heal(tmp_path: Path) -> None:
    process = _local_up(tmp_path)
    try:
        state = _wait_for_state(tmp_path, process)
        jwks = f"{state['api_url']}/v1/.well-known/jwks.json"
        assert requests.get(jwks, timeout=10).status_code == 200
        failed = _cli(tmp_path, "local", "fail-region", str(state["region"]))
        assert failed.returncode == 0, failed.stderr
        refused = requests.get(jwks, timeout=10)
        assert refused.status_code == 503
        assert refused.headers["Content-Type"] == "application/problem+json"
        healed = _cli(tmp_path, "local", "heal")
        assert healed.returncode == 0, healed.stderr
        assert requests.get(jwks, timeout=10).status_code == 200
        bad = _cli(tmp_path, "local", "fail-region", "not a region")
        assert bad.returncode == 2
        assert "not a region name" in bad.stderr
    finally:
        _interrupt(process)


def test_fail_region_without_a_running_stack_fails_clearly(tmp_path: Path) -> None:
    result = _cli(tmp_path, "local", "fail-region", "eu-west-1")
    assert result.returncode == 1
    assert "no local stack is running" in result.stderr


def test_residency_scan_finds_nothing_then_a_planted_object_and_refuses_an_unknown_zone(
    tmp_path: Path,
) -> None:
    process = _local_up(tmp_path)
    try:
        state = _wait_for_state(tmp_path, process)
        clean = _cli(tmp_path, "local", "residency-scan", "--tenant", "tenant-eu-1", "--zone", "us")
        assert clean.returncode == 0, clean.stderr
        assert "nothing of tenant-eu-1 in zone us (us-east-1, us-west-2)" in clean.stdout
        s3 = boto3.client(
            "s3",
            endpoint_url=str(state["endpoint_url"]),
            region_name="us-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="planted", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        s3.put_object(Bucket="planted", Key="tenants/tenant-eu-1/x.json", Body=b"{}")
        found = _cli(tmp_path, "local", "residency-scan", "--tenant", "tenant-eu-1", "--zone", "us")
        assert found.returncode == 1
        assert "s3 us-west-2 planted: tenants/tenant-eu-1/x.json (key)" in found.stdout
        assert "1 place(s) in zone us" in found.stderr
        unknown = _cli(tmp_path, "local", "residency-scan", "--tenant", "tenant-eu-1", "--zone", "mars")
        assert unknown.returncode == 2
        assert "unknown residency zone 'mars'" in unknown.stderr
        assert "Traceback" not in unknown.stderr
    finally:
        _interrupt(process)


def test_residency_scan_without_a_running_stack_fails_clearly(tmp_path: Path) -> None:
    result = _cli(tmp_path, "local", "residency-scan", "--tenant", "tenant-a", "--zone", "us")
    assert result.returncode == 1
    assert "no local stack is running" in result.stderr


def test_local_up_with_the_peer_api_serves_both_regions_apis_and_fails_each_apart(tmp_path: Path) -> None:
    process = _local_up(tmp_path, "--zone", "eu", "--peer-region", "eu-central-1", "--peer-api")
    try:
        state = _wait_for_state(tmp_path, process)
        primary = f"{state['api_url']}/v1/.well-known/jwks.json"
        peer = f"{state['peer_api_url']}/v1/.well-known/jwks.json"
        # One key set: the peer signs with the replica of the same key (ECDSA signatures differ per call).
        assert (
            requests.get(peer, timeout=10).json()["keys"] == requests.get(primary, timeout=10).json()["keys"]
        )
        assert _cli(tmp_path, "local", "fail-region", "eu-west-1").returncode == 0
        assert requests.get(primary, timeout=10).status_code == 503
        assert requests.get(peer, timeout=10).status_code == 200
        assert _cli(tmp_path, "local", "fail-region", "eu-central-1").returncode == 0
        assert requests.get(peer, timeout=10).status_code == 503
    finally:
        _interrupt(process)


def test_the_peer_api_of_one_zone_without_a_peer_region_is_refused_in_one_line(tmp_path: Path) -> None:
    refused = _cli(tmp_path, "local", "up", "--zone", "eu", "--peer-api")
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "--peer-api needs --peer-region" in refused.stderr


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_local_up_runs_both_zones_each_with_its_api_edge_and_the_others_migration_target(
    tmp_path: Path,
) -> None:
    process = _local_up(tmp_path)
    try:
        state = _wait_for_state(tmp_path, process)
        zones = state["zones"]
        assert sorted(zones) == ["eu", "us"]
        assert (zones["eu"]["region"], zones["eu"]["peer_region"]) == ("eu-west-1", "eu-central-1")
        assert (zones["us"]["region"], zones["us"]["peer_region"]) == ("us-east-1", "us-west-2")
        # One moto for both zones; each zone its own API, edge and process.
        assert zones["eu"]["endpoint_url"] == zones["us"]["endpoint_url"] == state["endpoint_url"]
        assert zones["eu"]["api_url"] == state["api_url"] != zones["us"]["api_url"]
        assert zones["eu"]["edge_url"] != zones["us"]["edge_url"]
        child = int(state["children"]["us"])
        assert zones["us"]["pid"] == child != process.pid == state["pid"]
        # Each zone's migration target is the other's real table, buckets and API.
        eu_targets = json.loads(zones["eu"]["environment"]["MIGRATION_TARGETS"])
        us_targets = json.loads(zones["us"]["environment"]["MIGRATION_TARGETS"])
        assert list(eu_targets) == ["us"] and list(us_targets) == ["eu"]
        assert eu_targets["us"]["api_endpoints"] == [zones["us"]["api_url"]]
        assert eu_targets["us"]["table_name"] == zones["us"]["tables"]["Table"]
        assert eu_targets["us"]["buckets"]["bundles"] == zones["us"]["buckets"]["BundlesBucket"]
        assert us_targets["eu"]["api_endpoints"] == [zones["eu"]["api_url"]]
        assert us_targets["eu"]["buckets"]["packages"] == zones["eu"]["buckets"]["PackagesBucket"]

        tokens = {}
        for zone in ("eu", "us"):
            minted = _cli(
                tmp_path,
                "local",
                "token",
                "--tenant",
                "t-1",
                "--user",
                "u-1",
                "--role",
                "author",
                "--zone",
                zone,
            )
            assert minted.returncode == 0, minted.stderr
            tokens[zone] = minted.stdout.strip()
        for zone in ("eu", "us"):
            packages = f"{zones[zone]['api_url']}/v1/packages"
            answered = requests.get(packages, headers={"Authorization": f"Bearer {tokens[zone]}"}, timeout=10)
            assert answered.status_code == 200, (zone, answered.text)
            assert answered.json()["items"] == []
        # A token of one zone's issuer is not the other's.
        crossed = requests.get(
            f"{zones['us']['api_url']}/v1/packages",
            headers={"Authorization": f"Bearer {tokens['eu']}"},
            timeout=10,
        )
        assert crossed.status_code == 401
        unknown = _cli(tmp_path, "local", "token", "--tenant", "t-1", "--user", "u-1", "--zone", "mars")
        assert unknown.returncode == 2 and "runs no zone 'mars'" in unknown.stderr
        # A migration started on eu's API over HTTP lands in the running us zone: after the switch
        # us's own API serves the tenant's settings, naming us.
        admin = {
            zone: _cli(
                tmp_path,
                "local",
                "token",
                "--tenant",
                "t-move",
                "--user",
                "a-1",
                "--role",
                "admin",
                "--zone",
                zone,
            ).stdout.strip()
            for zone in ("eu", "us")
        }
        started = requests.post(
            f"{zones['eu']['api_url']}/v1/tenant/migrations",
            json={"target_zone": "us"},
            headers={"Authorization": f"Bearer {admin['eu']}", "Idempotency-Key": "move-t-move-1"},
            timeout=10,
        )
        assert started.status_code == 202, started.text
        migration = f"{zones['eu']['api_url']}/v1/tenant/migrations/{started.json()['migration_id']}"
        deadline = time.monotonic() + 40
        while (
            view := requests.get(
                migration, headers={"Authorization": f"Bearer {admin['eu']}"}, timeout=10
            ).json()
        )["state"] not in ("switched", "cleaning", "done"):
            assert view["state"] != "failed" and time.monotonic() < deadline, view
            time.sleep(0.3)
        in_us = requests.get(
            f"{zones['us']['api_url']}/v1/tenant/settings",
            headers={"Authorization": f"Bearer {admin['us']}"},
            timeout=10,
        )
        assert in_us.status_code == 200, in_us.text
        # Revision 0 would be us's defaults for an unknown tenant: this is the item the switch wrote.
        assert in_us.json()["zone"] == "us" and in_us.json()["revision"] >= 1, in_us.json()
        # The fault switch reaches the child's gateway: us fails, eu does not.
        assert _cli(tmp_path, "local", "fail-region", "us-east-1").returncode == 0
        jwks = "/v1/.well-known/jwks.json"
        assert requests.get(f"{zones['us']['api_url']}{jwks}", timeout=10).status_code == 503
        assert requests.get(f"{zones['eu']['api_url']}{jwks}", timeout=10).status_code == 200

        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert zones["eu"]["api_url"] in stdout and zones["us"]["api_url"] in stdout
    assert "zone us (us-east-1 + us-west-2)" in stdout
    assert _gone(child), "the us zone's process outlived local up"
    assert not (tmp_path / "local.json").exists()


def test_local_up_refuses_an_unknown_zone_and_a_peer_region_for_several_zones_in_one_line(
    tmp_path: Path,
) -> None:
    unknown = _cli(tmp_path, "local", "up", "--zone", "mars")
    assert unknown.returncode == 2
    assert "unknown residency zone 'mars'" in unknown.stderr and "Traceback" not in unknown.stderr
    several = _cli(tmp_path, "local", "up", "--peer-region", "eu-central-1")
    assert several.returncode == 2
    assert several.stderr.strip().count("\n") == 0 and "--peer-region needs one --zone" in several.stderr


def test_local_up_with_the_peer_api_serves_each_zones_peer_api_the_child_zones_too(tmp_path: Path) -> None:
    process = _local_up(tmp_path, "--peer-api")
    try:
        zones = _wait_for_state(tmp_path, process, timeout=90)["zones"]
        jwks = "/v1/.well-known/jwks.json"
        for zone in ("eu", "us"):
            primary, peer = zones[zone]["api_url"], zones[zone]["peer_api_url"]
            assert peer and peer != primary
            # The peer signs with the replica of the primary's multi-Region key: one key set.
            peer_keys = requests.get(f"{peer}{jwks}", timeout=10).json()["keys"]
            assert peer_keys and peer_keys == requests.get(f"{primary}{jwks}", timeout=10).json()["keys"]
        # us runs in a child process attached to eu's moto: its peer API reads the us-west-2 replica.
        token = _cli(
            tmp_path, "local", "token", "--tenant", "t-1", "--user", "u-1", "--role", "author", "--zone", "us"
        ).stdout.strip()
        assert _cli(tmp_path, "local", "fail-region", "us-east-1").returncode == 0
        headers = {"Authorization": f"Bearer {token}"}
        assert (
            requests.get(f"{zones['us']['api_url']}/v1/packages", headers=headers, timeout=10).status_code
            == 503
        )
        listed = requests.get(f"{zones['us']['peer_api_url']}/v1/packages", headers=headers, timeout=10)
        assert listed.status_code == 200, listed.text
        assert listed.json()["items"] == []
    finally:
        _interrupt(process)
