"""Bad input of any kind, on the installed command: one line on stderr, a non-zero exit, no traceback.

Each case is one a user can type; each runs the real console script in a fresh process (as
``errors.run`` runs it), then checks the exit code, that stderr is exactly one line, and that
nothing was left behind. ``--json`` commands must still print a JSON document on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from content_service.samples import sample_zip_bytes

CLI = Path(sys.executable).parent / "content-service"
LINUX_PROC = Path("/proc/self/mem").exists()


def run(
    *args: str, env: dict[str, str | None] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script with ``env`` over the environment (a None value removes the variable)."""
    merged = {**os.environ, "COLUMNS": "40", **(env or {})}
    return subprocess.run(
        [str(CLI), *args],
        capture_output=True,
        text=True,
        env={name: value for name, value in merged.items() if value is not None},
        cwd=cwd,
        check=False,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str], exit_code: int, *phrases: str) -> str:
    """The single stderr line of a failed run, after checking its exit code and shape."""
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    line = result.stderr.strip()
    assert line.startswith("content-service"), line
    for phrase in phrases:
        assert phrase in line, line
    return line


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "welcome.zip"
    path.write_bytes(sample_zip_bytes("welcome"))
    return path


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["validate"], "Missing argument"),
        (["validate", "x.zip", "--no-such-option"], "No such option"),
        (["no-such-command"], "No such command"),
        (["export", "x.zip", "-o", "y.zip"], "--format"),
        (["local", "token", "--tenant", "t", "--user", "u", "--ttl", "0"], "--ttl"),
        (["local", "token", "--tenant", "t", "--user", "u", "--ttl", "100000000000000000000"], "--ttl"),
        (["local", "token", "--tenant", "t", "--user", "u\n"], "not a user or client id"),
        (["local", "up", "--port", "70000"], "--port"),
        (["local", "up", "--port", "-1"], "--port"),
        (["device", "sync", "--interval", "abc"], "--interval"),
    ],
)
def test_a_command_line_that_does_not_parse_is_one_line_and_exit_2(argv: list[str], phrase: str) -> None:
    # Typer draws these in a box of several lines; --port 70000 reached bind() as an OverflowError.
    result = run(*argv)
    line = one_line_error(result, 2, phrase)
    assert "╭" not in line and result.stdout == ""


def test_no_arguments_still_prints_the_help() -> None:
    result = run()
    assert result.returncode == 2 and "Usage: content-service" in result.stdout


@pytest.mark.parametrize("argv", [["validate", "--json"], ["validate", "nope.zip", "--json"]])
def test_validate_json_prints_a_json_report_when_it_cannot_start(argv: list[str], tmp_path: Path) -> None:
    result = run(*argv, cwd=tmp_path)
    one_line_error(result, 2)
    report = json.loads(result.stdout)
    assert report["valid"] is False and [p["code"] for p in report["problems"]] == ["cli.usage"]


def test_build_json_prints_a_json_result_when_it_cannot_start(tmp_path: Path) -> None:
    result = run("build", "nope.zip", "--json", cwd=tmp_path)  # no -o either
    one_line_error(result, 2, "--output")
    assert json.loads(result.stdout) == {
        "built": False,
        "problem": {
            "code": "cli.usage",
            "detail": json.loads(result.stdout)["problem"]["detail"],
            "path": None,
        },
    }
    assert json.loads(result.stdout)["problem"]["detail"] in result.stderr


@pytest.mark.skipif(not LINUX_PROC, reason="needs Linux /proc")
@pytest.mark.parametrize(
    "command", [["validate"], ["build", "-o", "out"], ["export", "-f", "xapi", "-o", "e.zip"]]
)
def test_an_input_that_opens_but_cannot_be_read_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    # /proc/self/mem is a "regular file" whose seek fails: it was reported as a defect of the
    # service (internal.*_crashed) after a logged traceback, or a traceback outright for build.
    name, *options = command
    result = run(name, "/proc/self/mem", *options, cwd=tmp_path)
    one_line_error(result, 2, "cannot read /proc/self/mem")
    assert list(tmp_path.iterdir()) == []


def test_a_fifo_is_not_a_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.zip"
    os.mkfifo(fifo)
    one_line_error(run("validate", str(fifo)), 2, "not a file")


@pytest.mark.skipif(not LINUX_PROC, reason="needs Linux /proc")
def test_an_output_that_cannot_be_created_is_one_line_and_json(sample: Path) -> None:
    result = run("build", str(sample), "-o", "/proc/content-service-out", "--json")
    one_line_error(result, 1, "No such file or directory")
    assert json.loads(result.stdout)["built"] is False
    one_line_error(
        run("export", str(sample), "-f", "xapi", "-o", "/proc/x.zip"), 1, "No such file or directory"
    )


def test_export_refuses_to_overwrite_its_input(sample: Path) -> None:
    before = sample.read_bytes()
    one_line_error(run("export", str(sample), "-f", "scorm12", "-o", str(sample)), 2, "is the input")
    assert sample.read_bytes() == before
    # The same file by another name is the same file.
    alias = sample.parent / "alias.zip"
    alias.symlink_to(sample)
    one_line_error(run("export", str(sample), "-f", "scorm12", "-o", str(alias)), 2, "is the input")
    assert sample.read_bytes() == before


def test_export_onto_a_directory_is_a_usage_error_and_leaves_nothing(sample: Path, tmp_path: Path) -> None:
    (tmp_path / "out.zip").mkdir()
    one_line_error(
        run("export", str(sample), "-f", "xapi", "-o", str(tmp_path / "out.zip")), 2, "is a directory"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip", "welcome.zip"]
    assert list((tmp_path / "out.zip").iterdir()) == []


def test_an_invalid_environment_variable_is_named_in_one_line(sample: Path, tmp_path: Path) -> None:
    result = run(
        "build", str(sample), "-o", str(tmp_path / "out"), "--json", env={"IMPORT_LIMITS__MAX_FILES": "many"}
    )
    one_line_error(result, 2, "IMPORT_LIMITS__MAX_FILES")
    assert json.loads(result.stdout)["problem"]["code"] == "cli.environment"
    assert not (tmp_path / "out").exists()
    one_line_error(
        run("validate", str(sample), env={"CONTENT_FORMAT_VERSION": "9"}), 2, "CONTENT_FORMAT_VERSION"
    )
    # A nested setting given whole must be JSON: pydantic-settings' own SettingsError.
    one_line_error(run("validate", str(sample), env={"IMPORT_LIMITS": "["}), 2, "environment is invalid")


@pytest.mark.parametrize(
    ("state", "phrase"),
    [
        ({}, "no local stack is running"),  # no pid: os.kill(-1, 0) said "alive"
        ({"pid": "abc"}, "no local stack is running"),  # int("abc")
        ({"pid": 0}, "no local stack is running"),  # os.kill(0, 0) is this process group
        ({"pid": "live"}, "not a local stack's state file"),  # a live process, the rest missing
        ({"pid": "live", "api_url": "x", "endpoint_url": "x", "issuer": {}, "environment": {}}, "'issuer'"),
    ],
)
def test_a_corrupt_state_file_of_the_local_stack_is_one_line(
    state: dict, phrase: str, tmp_path: Path
) -> None:
    if state.get("pid") == "live":
        state = {**state, "pid": os.getpid()}
    (tmp_path / "local.json").write_text(json.dumps(state))
    env = {"CONTENT_SERVICE_HOME": str(tmp_path)}
    for argv in (
        ["local", "token", "--tenant", "t", "--user", "u"],
        ["local", "token", "--tenant", "t", "--user", "u", "--zone", "us"],
        ["local", "residency-scan", "--tenant", "t", "--zone", "eu"],
    ):
        one_line_error(run(*argv, env=env), 1, phrase)


def test_local_fail_region_and_heal_without_a_stack_are_one_line(tmp_path: Path) -> None:
    env = {"CONTENT_SERVICE_HOME": str(tmp_path)}
    for argv in (["local", "fail-region", "eu-west-1"], ["local", "heal"], ["local", "metrics"]):
        one_line_error(run(*argv, env=env), 1, "no local stack is running")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("template", "exit_code"),
    [("missing.yaml", 2), ("binary.yaml", 2), ("directory.yaml", 2), ("empty.yaml", 2)],
)
def test_local_up_with_a_bad_template_is_one_line(template: str, exit_code: int, tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00\x81junk")
    (tmp_path / "directory.yaml").mkdir()
    (tmp_path / "empty.yaml").write_bytes(b"")
    # COLUMNS=40: the local commands' rich console used to wrap their message at the width.
    result = run(
        "local",
        "up",
        "--template",
        str(tmp_path / template),
        env={"CONTENT_SERVICE_HOME": str(tmp_path / "home")},
    )
    one_line_error(result, exit_code, "cannot start the local stack")


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({"AWS_DEFAULT_REGION": ""}, "cannot reach the table"),  # botocore's ValueError, a traceback
        ({"AWS_ENDPOINT_URL": "not a url"}, "cannot reach the table"),
        ({"TABLE_NAME": ""}, "TableName"),  # botocore's message has two lines
    ],
)
def test_migrate_with_a_junk_environment_is_one_line(env: dict[str, str], phrase: str) -> None:
    # Each is refused by botocore before any request is sent: no endpoint is ever reached.
    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": None}
    one_line_error(run("migrate", "status", env={**fake, **env}), 1, phrase)


def test_a_failed_enrolment_leaves_no_state_directory(tmp_path: Path) -> None:
    home = tmp_path / "new" / "device"
    result = run("device", "enroll", "--api", "http://127.0.0.1:9", "--token", "t", "--home", str(home))
    one_line_error(result, 1, "Offline")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_enrolment_keeps_a_state_directory_that_was_there(tmp_path: Path) -> None:
    home = tmp_path / "device"
    home.mkdir(mode=0o700)
    (home / "mine.txt").write_text("keep")
    result = run("device", "enroll", "--api", "http://127.0.0.1:9", "--token", "t", "--home", str(home))
    one_line_error(result, 1, "Offline")
    assert (home / "mine.txt").read_text() == "keep"


def test_residency_scan_with_a_junk_zone_table_in_the_state_file_is_a_usage_error(tmp_path: Path) -> None:
    env = _live_state(tmp_path, environment={"RESIDENCY_ZONES": "junk;;=="})
    result = run("local", "residency-scan", "--tenant", "t", "--zone", "eu", env=env)
    line = one_line_error(result, 2, "RESIDENCY_ZONES")
    assert "unexpected" not in line


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("http://127.0.0.1:70000", "Port out of range"),  # was "Offline: cannot be reached: InvalidURL"
        ("http://[::1", "Invalid IPv6 URL"),
        ("http:///no-host", "with a host"),
        ("ftp://example.org", "http(s) URL"),
        ("http://127.0.0.1:0", "port 0"),
        ("http://exa mple.org", "a space"),  # requests refused it: "Offline" after the directory was made
        ("http://ex<ample.org", "invalid host name"),  # a DNS failure: "Offline" too
        ("notaurl", "http(s) URL"),
    ],
)
def test_an_api_url_no_client_could_use_is_a_usage_error_before_anything_is_created(
    url: str, phrase: str, tmp_path: Path
) -> None:
    home = tmp_path / "device"
    one_line_error(run("device", "enroll", "--api", url, "--token", "t", "--home", str(home)), 2, phrase)
    one_line_error(run("device", "flush", "--lrs", url, "--home", str(home)), 2, phrase)
    assert list(tmp_path.iterdir()) == []


def _live_state(home: Path, **extra: object) -> dict[str, str]:
    """A state file naming this (live) test process, pointing at a closed port; the CLI's env."""
    state = {
        "pid": os.getpid(),
        "api_url": "http://127.0.0.1:9",
        "endpoint_url": "http://127.0.0.1:9",
        "issuer": {"issuer": "i", "audience": "a"},
        "environment": {},
        **extra,
    }
    (home / "local.json").write_text(json.dumps(state))
    return {"CONTENT_SERVICE_HOME": str(home)}


@pytest.mark.parametrize("key", [b"\xff\xfe", b'{"kid": 5}', b"[]"])
def test_an_altered_dev_issuer_key_is_one_line_not_unexpected(key: bytes, tmp_path: Path) -> None:
    env = _live_state(tmp_path)
    (tmp_path / "dev-issuer-key.json").write_bytes(key)
    line = one_line_error(run("local", "token", "--tenant", "t", "--user", "u", env=env), 1, "dev issuer key")
    assert "unexpected" not in line


def test_an_unreachable_moto_endpoint_is_one_line_not_unexpected(tmp_path: Path) -> None:
    env = _live_state(tmp_path)
    result = run(
        "local", "residency-scan", "--tenant", "t", "--zone", "eu", env={**env, "AWS_MAX_ATTEMPTS": "1"}
    )
    line = one_line_error(result, 1, "Could not connect")
    assert "unexpected" not in line


def _file_size_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn``: files of the child cannot grow past ``limit`` bytes (a write fails, EFBIG).

    Python ignores SIGXFSZ, so the write fails rather than killing the child: a disk filling up
    while the output is being written, without filling a disk.
    """
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("command", [["build", "-o"], ["export", "-f", "xapi", "-o"]])
def test_an_output_that_fails_part_way_is_named_as_the_user_gave_it(
    command: list[str], sample: Path, tmp_path: Path
) -> None:
    # The line named the hidden staging path (/proc/.out.partial-4242), or no path at all.
    name, *options = command
    if LINUX_PROC:
        line = one_line_error(run(name, str(sample), *options, "/proc/out"), 1)
        assert line.endswith(": /proc/out") and ".partial" not in line, line
    # Relative, as typed; the container or the zip is larger than the child may write.
    result = subprocess.run(
        [str(CLI), name, sample.name, *options, "out"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        preexec_fn=_file_size_limit(1024),
        check=False,
        timeout=120,
    )
    line = one_line_error(result, 1, "File too large")
    assert line.endswith(": out") and ".partial" not in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["welcome.zip"]


def _closed_stdout(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script writing to a pipe whose reader is gone (``| head -c0``, deterministic)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [str(CLI), *args], stdout=writer, stderr=subprocess.PIPE, text=True, cwd=cwd, check=False, timeout=120
        )
    finally:
        os.close(writer)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        [],  # no arguments: the help, exit 2 otherwise
        ["device", "--help"],
        ["validate", "welcome.zip", "--json"],
        ["validate", "welcome.zip"],
        ["export", "--help"],
    ],
)
def test_a_stdout_closed_early_exits_141_and_says_nothing(argv: list[str], sample: Path) -> None:
    # --help exited 1 (click's choice); validate exited 120 after "Exception ignored ... BrokenPipeError".
    result = _closed_stdout(*argv, cwd=sample.parent)
    assert (result.returncode, result.stderr) == (141, "")


def test_a_closed_stdout_does_not_hide_a_usage_error(tmp_path: Path) -> None:
    # Nothing was written to stdout: the line is still the usage error's, on stderr.
    one_line_error(_closed_stdout("validate", cwd=tmp_path), 2, "Missing argument")
