"""cli/errors.py: the one place an error becomes one line on stderr and an exit code.

A throwaway application holds commands that raise; ``errors.run`` (what the console script
calls) and typer's ``CliRunner`` must both give one line and the right code, and ``--json``
commands a JSON document on stdout.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from content_service.cli import errors
from content_service.cli.paths import staged, write_atomically
from content_service.domain.errors import ValidationFailed


@pytest.fixture(autouse=True)
def root_logging_restored() -> object:
    """``errors.run`` installs the CLI's log handler on the root logger: take it off afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def build_app(raised: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Throwaway root."""

    @errors.json_failure(lambda code, detail: {"ok": False, "code": code, "detail": detail})
    def explode(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        raise raised

    app.command("explode")(explode)
    return errors.track_commands(app)


def run(app: typer.Typer, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = errors.run(typer.main.get_command(app), argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("raised", "exit_code", "phrase"),
    [
        (RuntimeError("boom\nsecond line"), 1, "unexpected RuntimeError: boom second line"),
        (KeyError("k"), 1, "unexpected KeyError"),
        (PermissionError(13, "Permission denied", "/x"), 1, "Permission denied: /x"),
        (ValidationFailed("no such zone"), 1, "no such zone"),
        (errors.UsageError("not a file: x"), 2, "not a file: x"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_whatever_a_command_raises_is_one_line_and_an_exit_code(
    raised: BaseException, exit_code: int, phrase: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    code, out, err = run(build_app(raised), ["explode"], capsys)
    assert code == exit_code
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("content-service explode: ") and phrase in err
    assert out == ""


def test_a_broken_pipe_exits_141_silently_even_with_json(capsys, monkeypatch) -> None:
    # The reader of stdout went away: no line, and no JSON document written after it.
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    for argv in (["explode"], ["explode", "--json"]):
        assert run(build_app(BrokenPipeError(32, "Broken pipe")), argv, capsys) == (141, "", "")
    # Not even under the traceback variable: a closed pipe is no bug.
    monkeypatch.setenv(errors.TRACEBACK_VARIABLE, "1")
    assert run(build_app(BrokenPipeError(32, "Broken pipe")), ["explode"], capsys) == (141, "", "")


def test_an_unusable_configured_url_is_a_configuration_error_exit_1(capsys, monkeypatch) -> None:
    from content_service.client import InvalidApiUrl

    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    code, _, err = run(build_app(InvalidApiUrl("notaurl", "must be an http(s) URL with a host")), ["explode"], capsys)
    assert (code, err) == (1, "content-service explode: the API URL 'notaurl' must be an http(s) URL with a host\n")


@pytest.mark.parametrize(
    ("raised", "line"),
    [
        (ValidationFailed("no such\nzone"), "content-service device: ValidationFailed: no such zone\n"),
        (PermissionError(13, "Permission denied", "/x"), "content-service device: [Errno 13] Permission denied: '/x'\n"),
        # Everything else is worded as in every other group.
        (errors.UsageError("not a file: x"), "content-service explode: not a file: x\n"),
        (KeyboardInterrupt(), "content-service explode: interrupted\n"),
    ],
)
def test_a_voice_words_a_group_s_refusals_its_own_way(
    raised: BaseException, line: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    # The device group's lines (were cli/device.py's own _refusals): the group and the type.
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Throwaway root."""

    @app.command("explode")
    def explode() -> None:
        raise raised

    errors.track_commands(app, errors.Voice(program="content-service device"))
    expected = {ValidationFailed: 1, PermissionError: 1, errors.UsageError: 2, KeyboardInterrupt: 130}
    assert run(app, ["explode"], capsys) == (expected[type(raised)], "", line)


def test_with_json_the_command_s_failure_document_is_printed(capsys, monkeypatch) -> None:
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    code, out, err = run(build_app(OSError(5, "Input/output error")), ["explode", "--json"], capsys)
    assert code == 1
    assert json.loads(out) == {"ok": False, "code": "cli.os_error", "detail": "Input/output error"}
    assert err.strip() == "content-service explode: Input/output error"


def test_a_usage_error_with_json_prints_the_document_too(capsys) -> None:
    code, out, err = run(build_app(RuntimeError()), ["explode", "--json", "--bogus"], capsys)
    assert code == 2 and json.loads(out)["code"] == "cli.usage"
    assert err.count("\n") == 1 and "No such option: --bogus" in err


def test_the_conversion_holds_under_clirunner_too(monkeypatch) -> None:
    # Commands are tracked where they are registered, so tests and app() get the same line.
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    result = CliRunner().invoke(build_app(ValueError("bad")), ["explode"])
    assert result.exit_code == 1
    # CliRunner names the program after the root callback; the line is the same.
    assert result.stderr.count("\n") == 1
    assert result.stderr.endswith(
        " explode: unexpected ValueError: bad (set CONTENT_SERVICE_TRACEBACK=1 for its stack)\n"
    )


def test_the_traceback_variable_lets_the_error_through(monkeypatch, capsys) -> None:
    monkeypatch.setenv(errors.TRACEBACK_VARIABLE, "1")
    with pytest.raises(RuntimeError, match="boom"):
        run(build_app(RuntimeError("boom")), ["explode"], capsys)


def test_tracking_twice_wraps_once() -> None:
    def command() -> None:
        """A command."""

    once = errors.track(command)
    assert errors.track(once) is once


def test_a_logged_exception_is_one_line(capsys, monkeypatch) -> None:
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    errors.configure_logging()
    try:
        raise OSError("disk\non fire")
    except OSError:
        logging.getLogger("content_service.test").exception("could not\nread %s", "x.zip")
    err = capsys.readouterr().err
    assert err == "error: content_service.test: could not read x.zip: OSError: disk on fire\n"


def test_write_atomically_leaves_the_old_file_and_no_partial_when_it_fails(
    tmp_path: Path, monkeypatch
) -> None:
    target = tmp_path / "page.html"
    target.write_bytes(b"old")

    def fail(src, dst):  # the rename fails (a full disk, an interrupt)
        raise OSError(28, "No space left on device", src, dst)

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space") as raised:
        write_atomically(target, b"new")
    # Named as the user gave it, not as the hidden sibling it was written to.
    assert raised.value.filename == str(target) and raised.value.filename2 is None
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_staged_leaves_an_error_about_another_file_as_it_is(tmp_path: Path) -> None:
    source = tmp_path / "in.zip"
    with pytest.raises(FileNotFoundError) as raised, staged(tmp_path / "out.zip") as stage:
        stage.path.write_bytes(b"half")
        source.read_bytes()  # the input, not the output
    assert raised.value.filename == str(source)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("code", "named"),
    [(errno.ENOSPC, True), (errno.EFBIG, True), (errno.EIO, False), (errno.EACCES, False)],
)
def test_staged_names_the_output_in_a_write_error_that_names_no_file_and_nothing_else(
    tmp_path: Path, code: int, named: bool
) -> None:
    target = tmp_path / "out.zip"
    with pytest.raises(OSError) as raised, staged(target):
        raise OSError(code, os.strerror(code))  # what a failed write() or read() raises
    assert raised.value.errno == code
    assert raised.value.filename == (str(target) if named else None)


def test_staged_leaves_a_staging_directory_it_did_not_make(tmp_path: Path) -> None:
    target = tmp_path / "out"
    partial = tmp_path / f".out.partial-{os.getpid()}"
    partial.mkdir()
    (partial / "someone-else's").write_bytes(b"x")
    with pytest.raises(FileExistsError) as raised, staged(target, directory=True):
        pass
    assert raised.value.filename == str(target)
    assert (partial / "someone-else's").read_bytes() == b"x"


def test_write_atomically_refuses_a_directory_and_a_missing_parent(tmp_path: Path) -> None:
    with pytest.raises(errors.UsageError, match="is a directory"):
        write_atomically(tmp_path, b"x")
    with pytest.raises(errors.UsageError, match="no such directory"):
        write_atomically(tmp_path / "nowhere" / "f", b"x")
    write_atomically(tmp_path / "f", b"x")
    assert (tmp_path / "f").read_bytes() == b"x"


def test_ctrl_c_during_a_build_is_one_line_exit_130_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    from content_service.cli import build
    from content_service.samples import sample_zip_bytes

    source = tmp_path / "welcome.zip"
    source.write_bytes(sample_zip_bytes("welcome"))

    def interrupted(*args, **kwargs):  # Ctrl-C while the package is being built
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_uploaded_package", interrupted)
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Throwaway root."""

    build.register(app)
    result = CliRunner().invoke(app, ["build", str(source), "-o", str(tmp_path / "out")])
    assert result.exit_code == 130
    assert result.stderr.count("\n") == 1 and result.stderr.endswith(" build: interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["welcome.zip"]


def test_a_broken_pipe_is_stdouts_only_when_stdouts_reader_is_gone(tmp_path: Path, monkeypatch) -> None:
    with (tmp_path / "out.txt").open("w") as a_file:
        monkeypatch.setattr(sys, "stdout", a_file)
        # A pipe of the command's own broke (a subprocess, a socket): an error like any other.
        assert errors.describe(BrokenPipeError(32, "Broken pipe"))[0] == errors.EXIT_FAILED
    reader, writer = os.pipe()
    os.close(reader)
    with os.fdopen(writer, "w") as closed_pipe:
        monkeypatch.setattr(sys, "stdout", closed_pipe)
        assert errors.describe(BrokenPipeError(32, "Broken pipe"))[0] == errors.EXIT_BROKEN_PIPE
        monkeypatch.undo()
