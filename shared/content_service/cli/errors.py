"""The one place where the command line turns an error into one line on stderr and an exit code.

Every command's callback is wrapped by :func:`track` where its group registers it, and the
console script runs the application through :func:`run`, which adds what happens outside the
callbacks (the command line not parsing). A usage error (a missing argument, an unknown option, a
value out of range, a path that is not what it must be) exits 2, a refusal or a failure exits 1,
Ctrl-C exits 130, and each prints a single line ``content-service COMMAND: what went wrong``. Nothing reaches the terminal as a
traceback: an error nobody expected is one line too (``CONTENT_SERVICE_TRACEBACK=1`` shows its
stack, for a bug report). Log records are one line each, their exception as ``Type: text``.

Stdout closed early (``content-service --help | head -1``: a ``BrokenPipeError``) exits 141,
as a process killed by SIGPIPE does, and prints nothing: the reader went away on purpose.

A group may word its refusals its own way (:class:`Voice`): the device group's lines name the
group and the refusal's type (``content-service device: Offline: ...``).

A command that offers ``--json`` names the document it prints on failure with
:func:`json_failure`; whatever stops it (a usage error included), ``--json`` then still gets
valid JSON on stdout, beside the line on stderr.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import select
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import typer

# typer (0.29+) vendors click and raises the vendored click's exceptions, which it does not re-export.
from typer._click import exceptions as click
from typer._click.globals import get_current_context

from content_service.cli import missing_extra

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE: what a shell reports for a writer whose reader went away.
EXIT_BROKEN_PIPE = 141
PROGRAM = "content-service"
TRACEBACK_VARIABLE = "CONTENT_SERVICE_TRACEBACK"
_MAX_LINE = 1000

JsonFailure = Callable[[str, str], dict[str, Any]]
"""``(code, detail)`` -> the JSON document a command prints on failure with ``--json``."""
_F = TypeVar("_F", bound=Callable[..., Any])


class CliError(Exception):
    """An error a command reports on purpose: ``message`` is the line, ``exit_code`` the status."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED, code: str = "cli.failed") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.code = code


class UsageError(CliError):
    """The command line itself is wrong (exit 2): a path that is not a file, an option out of range."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE, "cli.usage")


def one_line(text: str) -> str:
    """``text`` on a single line (names from archives and servers may hold anything), bounded."""
    return " ".join(str(text).split())[:_MAX_LINE]


@dataclass(frozen=True)
class Voice:
    """How a command group words a refusal (``cli.refused``) and an OS error (``cli.os_error``).

    The line names ``program`` rather than the command, and the refusal's type before its text
    (``content-service device: TamperDetected: ...``); an OS error is its own text (``[Errno 13]
    Permission denied: 'x'``). The device group's lines were made so before this module, and are
    kept as they are; every other error of the group is worded as everywhere else.
    """

    program: str

    def warn(self, text: str) -> None:
        """Print ``text`` as one of the group's lines on stderr (a warning; the command goes on)."""
        sys.stderr.write(f"{self.program}: {one_line(text)}\n")

    def word(self, error: BaseException, code: str, path: str, message: str) -> tuple[str, str]:
        """``(path, message)`` of the line for ``error`` described as ``code``."""
        if code == "cli.refused":
            return self.program, f"{type(error).__name__}: {error}"
        if code == "cli.os_error":
            return self.program, str(error)
        return path, message


def json_failure(factory: JsonFailure) -> Callable[[_F], _F]:
    """Declare the document a ``--json`` command prints when it fails before its own report."""

    def mark(command: _F) -> _F:
        command.__cli_json_failure__ = factory  # type: ignore[attr-defined]
        return command

    return mark


def track(callback: _F, voice: Voice | None = None) -> _F:
    """Wrap a command's callback: whatever it raises (bar an exit) becomes one line and an exit code.

    The conversion happens inside the command, so it holds however the application is run: the
    console script (:func:`run`), ``typer.testing.CliRunner``, or ``app()``. Idempotent (the
    first wrapping's ``voice`` stays).
    """
    if getattr(callback, "__cli_tracked__", False):
        return callback

    @functools.wraps(callback)
    def tracked(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except (typer.Exit, click.ClickException, SystemExit):
            raise
        except BaseException as error:
            if os.environ.get(TRACEBACK_VARIABLE) and not stdout_was_closed(error):
                raise
            context = get_current_context(silent=True)
            path = context.command_path if context is not None else PROGRAM
            factory = getattr(callback, "__cli_json_failure__", None) if kwargs.get("as_json") else None
            raise typer.Exit(_report(error, path, factory, voice)) from None

    tracked.__cli_tracked__ = True  # type: ignore[attr-defined]
    return tracked  # type: ignore[return-value]


def track_commands(group: typer.Typer, voice: Voice | None = None) -> typer.Typer:
    """:func:`track` every command of ``group`` and of its sub-groups (a group registers itself so)."""
    for command in group.registered_commands:
        if command.callback is not None:
            command.callback = track(command.callback, voice)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            track_commands(sub.typer_instance, voice)
    return group


def describe(error: BaseException) -> tuple[int, str, str]:
    """``(exit code, problem code, one-line message)`` for anything a command can raise."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from content_service.client import InvalidApiUrl

    if stdout_was_closed(error):
        return EXIT_BROKEN_PIPE, "cli.broken_pipe", "stdout was closed"
    if isinstance(error, CliError):
        return error.exit_code, error.code, str(error)
    if isinstance(error, click.UsageError):
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
        return EXIT_USAGE, "cli.usage", f"{error.format_message()}{hint}"
    if isinstance(error, click.ClickException):
        return error.exit_code, "cli.failed", error.format_message()
    if isinstance(error, KeyboardInterrupt | typer.Abort):
        return EXIT_INTERRUPTED, "cli.interrupted", "interrupted"
    if isinstance(error, ValidationError) and error.title == "Settings":
        first = error.errors()[0]
        variable = "__".join(str(part) for part in first["loc"]).upper()
        return (
            EXIT_USAGE,
            "cli.environment",
            f"the environment variable {variable} is invalid: {first['msg']}",
        )
    if isinstance(error, SettingsError):
        # A complex variable (IMPORT_LIMITS='[') that is not even JSON.
        return EXIT_USAGE, "cli.environment", f"the environment is invalid: {error}"
    if isinstance(error, InvalidApiUrl):
        # A configured URL (a device's, the local stack's): exit 1; one given as an option is a
        # usage error (cli/urls.py), raised before the client is made.
        return EXIT_FAILED, "cli.configuration", str(error)
    if isinstance(error, _refusals()):
        return EXIT_FAILED, "cli.refused", str(error)
    if (hint := missing_extra(error)) is not None:
        return EXIT_FAILED, "cli.missing_extra", hint
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename is not None else ""
        return EXIT_FAILED, "cli.os_error", f"{error.strerror or type(error).__name__}{where}"
    kind = type(error).__name__
    return (
        EXIT_FAILED,
        "cli.unexpected",
        f"unexpected {kind}: {error} (set {TRACEBACK_VARIABLE}=1 for its stack)",
    )


def _refusals() -> tuple[type[BaseException], ...]:
    """The errors the service, AWS and the local stack raise on purpose: their text is the line."""
    from botocore.exceptions import BotoCoreError, ClientError

    from content_service.client import ApiError
    from content_service.domain.errors import DomainError
    from content_service.local.state import StateFileCorrupt
    from content_service.packaging.model import PackageRejected

    return (DomainError, ApiError, StateFileCorrupt, PackageRejected, BotoCoreError, ClientError)


def _report(error: BaseException, path: str, factory: JsonFailure | None, voice: Voice | None = None) -> int:
    """Print ``error`` as one line on stderr (and ``factory``'s JSON on stdout); its exit code."""
    exit_code, code, message = describe(error)
    if exit_code == EXIT_BROKEN_PIPE:
        return _stdout_closed()
    if voice is not None:
        path, message = voice.word(error, code, path, message)
    if factory is not None:
        sys.stdout.write(json.dumps(factory(code, one_line(message)), ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()
    sys.stderr.write(f"{path}: {one_line(message)}\n")
    return exit_code


class OneLineFormatter(logging.Formatter):
    """A log record on one line; its exception as ``Type: text`` rather than a stack."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text = f"{text}: {type(error).__name__}: {error}"
        return one_line(f"{record.levelname.lower()}: {record.name}: {text}")


def configure_logging(level: int = logging.WARNING) -> None:
    """Route every log record to stderr, one line each (``local up --verbose`` lowers the level)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_content_service_cli", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._content_service_cli = True  # type: ignore[attr-defined]
    if not os.environ.get(TRACEBACK_VARIABLE):
        handler.setFormatter(OneLineFormatter())
    root.addHandler(handler)
    root.setLevel(level)


def run(command: Any, argv: list[str]) -> int:
    """Run the command line ``argv``; the exit code, after at most one line on stderr for an error.

    Errors inside a command are its tracked callback's (:func:`track`); here are the rest: the
    command line not parsing (exit 2), anything raised around the commands, and stdout closed
    before what is still buffered could be written (exit 141).
    """
    configure_logging()
    try:
        exit_code = _run(command, argv)
        sys.stdout.flush()  # now, while a closed stdout is still this function's to report
    except BrokenPipeError:
        return _stdout_closed()
    return exit_code


def _run(command: Any, argv: list[str]) -> int:
    try:
        result = command.main(args=argv, prog_name=PROGRAM, standalone_mode=False)
    except click.NoArgsIsHelpError as error:
        # The help was printed when the error was made (typer's rich help); plain click's is the message.
        if error.format_message().strip():
            typer.echo(error.format_message())
        return EXIT_USAGE
    except SystemExit as exiting:
        # Typer's main turns a broken pipe outside the callbacks (printing --help) into exit 1.
        if isinstance(exiting.__context__, BrokenPipeError):
            return _stdout_closed()
        raise
    except BaseException as error:
        if os.environ.get(TRACEBACK_VARIABLE) and not stdout_was_closed(error):
            raise
        path, factory = PROGRAM, None
        if isinstance(error, click.UsageError) and error.ctx is not None:
            # Raised while parsing, before any callback ran: the command is the one being parsed.
            path = error.ctx.command_path
            callback = getattr(error.ctx.command, "callback", None)
            factory = getattr(callback, "__cli_json_failure__", None) if "--json" in argv else None
        return _report(error, path, factory)
    return result if isinstance(result, int) else 0


def stdout_was_closed(error: BaseException) -> bool:
    """Whether ``error`` is stdout's reader going away, not a pipe or socket of the command's own.

    A ``BrokenPipeError`` is stdout's when stdout is a pipe whose reading end is closed (``poll``
    reports an error on it). Where that cannot be asked (a stream with no descriptor, as in
    ``CliRunner``; no ``poll``), a broken pipe is taken to be stdout's.
    """
    if not isinstance(error, BrokenPipeError):
        return False
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return True
    if not hasattr(select, "poll"):  # Windows
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _stdout_closed() -> int:
    """Stdout's reader went away: exit as SIGPIPE would (141), saying nothing.

    Stdout is pointed at /dev/null first, so that the interpreter's last flush of what is still
    buffered cannot fail again at exit (and print "Exception ignored ... BrokenPipeError").
    """
    with contextlib.suppress(OSError, ValueError):  # a stream without a descriptor (CliRunner's)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    return EXIT_BROKEN_PIPE
