"""A private temporary directory for one command: every temporary file of the process goes there."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def private_tempdir(prefix: str) -> Iterator[Path]:
    """Point every temporary file of this process at a fresh 0700 directory, removed afterwards.

    Package contents are hostile input: whatever the build or a library it calls spools, it
    stays in a directory only this user can read, and nothing outlives the command.
    """
    private = Path(tempfile.mkdtemp(prefix=prefix))
    previous = tempfile.tempdir
    tempfile.tempdir = str(private)
    try:
        yield private
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(private, ignore_errors=True)
