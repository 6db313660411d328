"""The command line's checks of the paths it is given: one rule for every input and output.

Each check raises ``errors.UsageError`` (exit 2, one line) before the command reads or writes
anything, so a wrong path neither becomes a crash halfway through nor leaves anything behind.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from content_service.cli.errors import UsageError


def input_file(path: Path) -> Path:
    """``path`` if it is a regular file this process can open, seek and read, else a usage error.

    A directory, FIFO or device is refused before it is opened (a FIFO would block); a file that
    opens but cannot be read or sought (``/proc/self/mem``) is refused here rather than later,
    where it would look like a defect of the package check.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    if not stat.S_ISREG(mode):
        raise UsageError(f"not a file: {path}")
    try:
        with path.open("rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(0)
            stream.read(1)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    return path


def _parent_directory(path: Path) -> None:
    parent = path.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"no such directory: {parent}")


def output_file(path: Path, *, source: Path) -> Path:
    """``path`` if a file may be written there: its directory exists, it is no directory and not ``source``."""
    _parent_directory(path)
    if path.is_dir():
        raise UsageError(f"{path} is a directory")
    if path.exists() and not path.is_file():
        raise UsageError(f"{path} exists and is not a regular file")
    if path.exists() and path.samefile(source):
        raise UsageError(f"the output {path} is the input; write the export elsewhere")
    return path


def output_directory(path: Path) -> Path:
    """``path`` if a directory may be created there: it does not exist (or is empty), its parent does."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{path} exists and is not an empty directory")
    _parent_directory(path)
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: a sibling file first, renamed into place."""
    _parent_directory(path)
    if path.is_dir():
        raise UsageError(f"{path} is a directory")
    with staged(path) as stage:
        stage.path.write_bytes(data)
        stage.publish()


@dataclass(frozen=True)
class Staging:
    """Where an output is written (``path``, hidden) before it is moved onto ``target``."""

    path: Path
    target: Path

    def publish(self) -> None:
        """Move what was written onto ``target``, replacing what was there (a file, an empty directory)."""
        os.replace(self.path, self.target)


@contextmanager
def staged(target: Path, *, directory: bool = False) -> Iterator[Staging]:
    """A hidden sibling of ``target`` to write an output into (a private directory if ``directory``).

    ``publish()`` moves it onto ``target``; whatever is left of it when the block ends (a failure,
    a refusal that publishes nothing, Ctrl-C) is removed, so ``target`` is whole or untouched. An
    ``OSError`` about the staging path (a full disk, a file too large, a directory that cannot be
    made) is raised again naming ``target``, the path the user gave, as is a write's error that names
    no file (a full disk, a file too large): the staging name is this module's, the user never asked for it.
    """
    partial = target.absolute().parent / f".{target.name}.partial-{os.getpid()}"
    if directory:
        try:
            partial.mkdir(mode=0o700)  # before the block below: a directory it did not make stays
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(target)) from error
    try:
        yield Staging(partial, target)
    except OSError as error:
        if error.errno is None or not _about_the_output(error, partial, target):
            raise
        raise OSError(error.errno, error.strerror, str(target)) from error
    finally:
        if partial.is_dir() and not partial.is_symlink():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)


#: Errors of a write that name no file (``write`` does not know its file's name), taken to be
#: the output's: a read that fails (EIO) or anything else naming no file is left as it is.
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def _about_the_output(error: OSError, partial: Path, target: Path) -> bool:
    """Whether ``error`` is about the output: every file it names is ``partial``, inside it, or
    ``target``, or it names none and is a write's (``_WRITE_ERRORS``)."""
    if error.filename is None and error.filename2 is None:
        return error.errno in _WRITE_ERRORS
    for name in (error.filename, error.filename2):
        if name is None:
            continue
        if not isinstance(name, str | bytes | os.PathLike):
            return False
        path = Path(os.fsdecode(name)).absolute()
        if path not in {partial, target.absolute()} and partial not in path.parents:
            return False
    return True


@contextmanager
def removed_on_failure(path: Path) -> Iterator[None]:
    """Remove the directories this block creates for ``path`` (the first missing ancestor down) if it fails.

    What existed before is never touched: a failed command leaves the file system as it found it.
    """
    absolute = path.absolute()
    created = None
    for candidate in (absolute, *absolute.parents):
        if candidate.exists() or candidate.is_symlink():
            break
        created = candidate
    try:
        yield
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
