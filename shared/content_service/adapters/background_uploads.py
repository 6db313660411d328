"""Files uploaded by a pool of threads while the build goes on, with a bound on what waits on disk.

A build hands every checked file to the blob store on its sealing thread; on S3 each file costs
round trips (a HEAD, a PUT) that, one after another, would take longer than the build itself.
Here the store takes the file by a rename into a staging directory of its own, beside the file
(the same file system, so nothing is copied), and one of ``threads`` workers uploads it while
the build seals the next files.

At most ``staged`` files wait in the staging directory at once: past that, ``submit`` blocks
until an upload is done and its file removed, so the disk the uploads hold stays bounded
whatever the speed of the network. ``finish`` waits for every upload and raises the first error
one raised, unchanged; ``abandon`` (the build failed) cancels what has not started, waits for
what has, and removes every staged file. Either way the staging directory is gone after it, and
the object can take the next build's files.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: Uploads run at once by default: they wait on the network, not the CPU.
DEFAULT_THREADS = 8
#: The most a build may run at once (the ``BLOB_UPLOAD_THREADS`` setting's bound).
MAX_THREADS = 64

#: Uploads one staged file to where it belongs; runs on a worker thread.
Upload = Callable[[Path], None]


class BackgroundUploads:
    """Uploads of files taken by rename, ``threads`` at a time, at most ``staged`` on disk at once."""

    def __init__(self, threads: int = DEFAULT_THREADS, staged: int | None = None) -> None:
        if threads < 1 or (staged is not None and staged < 1):
            raise ValueError("threads and staged must be at least 1")
        self._threads = threads
        # By default twice the threads: every worker has a file ready behind the one it uploads, so
        # the pool never waits for the sealer between two files, and the build waits only when the
        # network is the slower side. The staged files are files of the package, so their bytes never
        # exceed its size (``max_total_bytes``) whatever the bound; the bound keeps their number, and
        # so the disk they hold beside the spools, the zip and the container, to 2 x threads files.
        self._limit = staged or 2 * threads
        self._slots = threading.BoundedSemaphore(self._limit)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._staging: Path | None = None
        self._keys: set[str] = set()
        self._names = itertools.count()
        self._error: BaseException | None = None

    @property
    def threads(self) -> int:
        """The most uploads run at once."""
        return self._threads

    @property
    def limit(self) -> int:
        """The most files staged at once."""
        return self._limit

    def submit(self, key: str, path: Path, upload: Upload) -> None:
        """Take the file at ``path`` by rename and have ``upload`` run on it in the background.

        Blocks while ``limit`` files are staged. A key submitted before (since the last ``finish``
        or ``abandon``) is not uploaded again, and its file is left where it is. Once an upload has
        failed, raises that error at once: the build is failing, there is no point in going on.
        """
        self._raise_failure()
        if key in self._keys:
            return
        self._slots.acquire()
        try:
            self._raise_failure()
            staged = self._stage(path)
        except BaseException:
            self._slots.release()
            raise
        self._keys.add(key)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="upload")
        # In the caller's context, so that what an upload logs carries the build's correlation.
        run = contextvars.copy_context().run
        self._pool.submit(run, self._run, upload, staged)

    def finish(self) -> None:
        """Wait for every upload, remove the staging directory, and raise the first upload error."""
        self._close(cancel=False)
        error, self._error = self._error, None
        if error is not None:
            raise error

    def abandon(self) -> None:
        """Cancel the uploads not started, wait for the others, and remove every staged file."""
        self._close(cancel=True)
        self._error = None

    def _stage(self, path: Path) -> Path:
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="uploads-", dir=path.parent))
        staged = self._staging / f"{next(self._names)}.staged"
        os.rename(path, staged)
        return staged

    def _run(self, upload: Upload, staged: Path) -> None:
        try:
            if self._error is None:  # after a failure the rest is not worth the round trips
                upload(staged)
        except BaseException as error:
            with self._lock:
                if self._error is None:
                    self._error = error
        finally:
            staged.unlink(missing_ok=True)
            self._slots.release()

    def _close(self, *, cancel: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=cancel)
        staging, self._staging = self._staging, None
        if staging is not None:
            # A cancelled upload never ran, so its file is still here.
            shutil.rmtree(staging, ignore_errors=True)
        self._keys.clear()
        # Cancelled uploads never gave their slot back.
        self._slots = threading.BoundedSemaphore(self._limit)

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error
