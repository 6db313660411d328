"""The template and the settings agree where a value lives in both."""

from __future__ import annotations

from pathlib import Path

from cfnlint.decode import decode_str

from content_service.settings import Settings

TEMPLATE, _ = decode_str((Path(__file__).parents[2] / "template.yaml").read_text())
RESOURCES = TEMPLATE["Resources"]


def test_the_build_gives_up_on_the_same_attempt_as_the_queue():
    queue = RESOURCES["BuildQueue"]["Properties"]
    function_env = RESOURCES["BuildPackageFunction"]["Properties"]["Environment"]["Variables"]
    assert int(function_env["BUILD_MAX_ATTEMPTS"]) == queue["RedrivePolicy"]["maxReceiveCount"]
    assert Settings().build_max_attempts == queue["RedrivePolicy"]["maxReceiveCount"]


def test_the_sweep_waits_longer_than_every_attempt_of_a_build():
    queue = RESOURCES["BuildQueue"]["Properties"]
    attempts = queue["RedrivePolicy"]["maxReceiveCount"] * queue["VisibilityTimeout"]
    sweep_env = RESOURCES["SweepStaleBuildsFunction"]["Properties"]["Environment"]["Variables"]
    assert int(sweep_env["BUILD_TIMEOUT_SECONDS"]) > attempts
    assert Settings().build_timeout_seconds > attempts


def test_the_queue_outlives_the_build_function():
    queue = RESOURCES["BuildQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * RESOURCES["BuildPackageFunction"]["Properties"]["Timeout"]


def test_the_export_gives_up_on_the_same_attempt_as_its_queue():
    queue = RESOURCES["ExportQueue"]["Properties"]
    function_env = RESOURCES["ExportFunction"]["Properties"]["Environment"]["Variables"]
    assert int(function_env["EXPORT_MAX_ATTEMPTS"]) == queue["RedrivePolicy"]["maxReceiveCount"]
    assert Settings().export_max_attempts == queue["RedrivePolicy"]["maxReceiveCount"]


def test_the_sweep_waits_longer_than_every_attempt_of_an_export():
    queue = RESOURCES["ExportQueue"]["Properties"]
    attempts = queue["RedrivePolicy"]["maxReceiveCount"] * queue["VisibilityTimeout"]
    sweep_env = RESOURCES["SweepStaleBuildsFunction"]["Properties"]["Environment"]["Variables"]
    assert int(sweep_env["EXPORT_TIMEOUT_SECONDS"]) > attempts
    assert Settings().export_timeout_seconds > attempts
    assert queue["VisibilityTimeout"] >= 6 * RESOURCES["ExportFunction"]["Properties"]["Timeout"]
