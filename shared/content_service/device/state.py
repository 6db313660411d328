"""The device's authenticated state: the sealed enrolment record and the sealed state root.

Every document the offline rules depend on is sealed (HMAC-SHA256, ``crypto.state_mac``) under a
key derived from the device's private key, and written atomically (temporary file, fsync,
rename, fsync of the directory):

- ``device.json``, the enrolment record: device id, user, tenant, issuer, pinned keys, retired
  kids, the time of the newest key set taken. A record that fails its MAC is
  ``EnrolmentAltered``: nothing verifies against keys an attacker could have added.
- ``state.json``, the state root, one sealed document with a generation counter and a section
  per concern: ``clock`` (the floor), ``status`` (the newest signed status), ``sync`` (cursor,
  last seq, available bundles), ``tombstones`` (revoked bundles, forever) and ``licences`` (the
  index of the licence each bundle holds: its SHA-256, id and signed server time).

One root rather than a file per section, so that no section can be restored from another time
than the others: restoring a part of the state is impossible, restoring all of it is the
"whole state directory" row of docs/threat-model.md.

Loss. On an enrolled device a state root that is missing (it is written at enrolment and never
deleted), unreadable, or fails its MAC is LOST, never "absent and fine": the root is reset with
``untrusted`` set, and it stays set, across restarts, until a signed status answering this
device's own nonce arrives (``restore_trust``). While it is set nothing opens
(``ClockUntrusted``). The clock floor of a lost root starts from the latest modification time
in the state directory (better than the wall clock, which the user sets).

Writers in several processes (a sync loop and a reader) serialise on ``state.lock`` (``flock``),
and every update reads the root afresh under the lock, so no writer overwrites what another
added. Sections only move forward where that is the rule: the clock floor and the status epoch
are raised with ``max``, tombstones are only added.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from content_service.crypto.state_mac import SealBroken, derive_state_key, seal, unseal
from content_service.device.errors import EnrolmentAltered, InsecureStateDir, NotEnrolled
from content_service.device.store import FILE_MODE, DeviceRecord, DeviceStore, read_private, write_private

T = TypeVar("T")

RECORD_LABEL = "device-record"
STATE_LABEL = "device-state"
STATE_VERSION = 1
#: The most of the state root the device reads: tombstones are kept for ever, so the root grows
#: (about 60 bytes a revoked bundle); far past any real device's, far below a memory problem.
STATE_ROOT_LIMIT = 64 * 1024 * 1024
#: The clock's boot mark (``device.clock``): (kernel boot id, monotonic reading, trusted time then).
BootMark = tuple[str, float, float]


def _empty_root() -> dict[str, Any]:
    return {
        "ver": STATE_VERSION,
        "generation": 0,
        "untrusted": None,
        "clock": {"trusted": 0.0, "server_time": 0.0},
        "status": {"server_time": 0, "device_state": "active"},
        "sync": {"cursor": None, "last_seq": 0, "available": []},
        "tombstones": {},
        "licences": {},
        "outbox": None,
    }


class DeviceState:
    """The sealed record and state root of one enrolled device (the key must exist)."""

    def __init__(self, store: DeviceStore, key: bytes) -> None:
        self.store = store
        self._key = key
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None
        self._record: DeviceRecord | None = None

    @classmethod
    def open(cls, store: DeviceStore) -> DeviceState:
        """The state of the device whose key is in ``store`` (``NotEnrolled`` without a key)."""
        return cls(store, derive_state_key(store.private_key()))

    # ------------------------------------------------------------ the enrolment record
    def record(self) -> DeviceRecord:
        """The sealed enrolment record (read once); ``EnrolmentAltered`` if it fails its MAC."""
        if self._record is None:
            path = self.store.device_path
            if not path.exists() and not path.is_symlink():
                raise NotEnrolled(
                    f"no device is enrolled in {self.store.home}; run `content-service device enroll`"
                )
            try:
                body = unseal(self._key, RECORD_LABEL, read_private(path))
                self._record = DeviceRecord.from_json(body)
            except (SealBroken, InsecureStateDir, KeyError, TypeError, ValueError) as error:
                raise EnrolmentAltered(
                    "the enrolment record (device id, tenant, pinned keys) was altered; enrol this device again"
                ) from error
        return self._record

    def save_record(self, record: DeviceRecord) -> None:
        with self._locked():
            write_private(self.store.device_path, seal(self._key, RECORD_LABEL, record.to_json()))
            self._record = record

    # ------------------------------------------------------------ the state root
    def create(self) -> None:
        """Write a fresh, trusted root (at enrolment)."""
        with self._locked():
            self._write(_empty_root())

    def read(self) -> dict[str, Any]:
        """A copy of the root; a lost root is reset as untrusted (and persisted) first."""
        with self._locked():
            return copy.deepcopy(self._load())

    def update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Apply ``change`` to the root read afresh under the lock, then write it (generation + 1)."""
        with self._locked():
            root = self._load()
            result = change(root)
            self._write(root)
            return result

    def untrusted(self) -> str | None:
        """Why the state cannot be trusted (lost, altered), or None."""
        reason = self.read().get("untrusted")
        return str(reason) if reason else None

    def _load(self) -> dict[str, Any]:
        path = self.store.state_path
        try:
            data = read_private(path, limit=STATE_ROOT_LIMIT)
        except FileNotFoundError:
            return self._lost("the state root is missing")
        except InsecureStateDir as error:
            return self._lost(f"the state root is not a file the device wrote: {error}")
        try:
            root = unseal(self._key, STATE_LABEL, data)
        except SealBroken as error:
            return self._lost(f"the state root is not valid: {error}")
        if root.get("ver") != STATE_VERSION:
            return self._lost(f"the state root has version {root.get('ver')!r}")
        base = _empty_root()
        base.update(root)
        return base

    def _lost(self, reason: str) -> dict[str, Any]:
        root = _empty_root()
        root["untrusted"] = reason
        root["clock"]["trusted"] = _latest_mtime(self.store.home)
        self._write(root)
        return root

    def _write(self, root: dict[str, Any]) -> None:
        root["generation"] = int(root.get("generation", 0)) + 1
        write_private(self.store.state_path, seal(self._key, STATE_LABEL, root))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
                try:
                    fd = os.open(self.store.lock_path, flags, FILE_MODE)
                except OSError as error:
                    raise InsecureStateDir(
                        f"{self.store.lock_path.name} cannot be opened as the device's lock file "
                        f"({error.strerror}); remove it",
                        path=str(self.store.lock_path),
                    ) from error
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                    self._lock_fd = None

    # ------------------------------------------------------------ sections
    def floor(self) -> tuple[float, float]:
        """The persisted clock floor: (trusted time, newest signed server time)."""
        clock = self.read()["clock"]
        return float(clock.get("trusted", 0.0)), float(clock.get("server_time", 0.0))

    def raise_floor(self, trusted: float, server_time: float, boot: BootMark | None = None) -> None:
        """Move the floor forward (never back, whatever the caller holds); keep the newest boot mark."""

        def change(root: dict[str, Any]) -> None:
            clock = root["clock"]
            clock["trusted"] = max(float(clock.get("trusted", 0.0)), trusted, server_time)
            clock["server_time"] = max(float(clock.get("server_time", 0.0)), server_time)
            if boot is not None:
                clock["boot"] = list(boot)

        self.update(change)

    def set_floor(self, trusted: float, server_time: float, boot: BootMark | None = None) -> None:
        """Set the trusted time to a nonce-bound signed time (``TrustedClock.resync``); server time only rises."""

        def change(root: dict[str, Any]) -> None:
            clock = root["clock"]
            clock["server_time"] = max(float(clock.get("server_time", 0.0)), server_time)
            clock["trusted"] = max(trusted, clock["server_time"])
            clock["boot"] = list(boot) if boot is not None else None

        self.update(change)

    def boot_mark(self) -> BootMark | None:
        """The sealed boot mark (boot id, monotonic reading, trusted time), or None."""
        mark = self.read()["clock"].get("boot")
        try:
            boot_id, monotonic, trusted = mark  # type: ignore[misc]
            return str(boot_id), float(monotonic), float(trusted)
        except (TypeError, ValueError):
            return None

    def tombstones(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.read()["tombstones"].items()}

    def licence_entry(self, bundle_id: str) -> dict[str, Any] | None:
        entry = self.read()["licences"].get(bundle_id)
        return dict(entry) if isinstance(entry, dict) else None

    def index_licence(self, bundle_id: str, entry: dict[str, Any]) -> None:
        self.update(lambda root: root["licences"].__setitem__(bundle_id, dict(entry)))

    def forget_licence(self, bundle_id: str) -> None:
        self.update(lambda root: root["licences"].pop(bundle_id, None))

    def outbox_mark(self) -> tuple[str, int] | None:
        """The outbox ledger: (the id of the outbox this device holds, its high-water seq), or None."""
        mark = self.read().get("outbox")
        if isinstance(mark, dict) and mark.get("id"):
            return str(mark["id"]), int(mark.get("seq", 0))
        return None

    def seal_outbox(self, outbox_id: str, seq: int, *, reset: bool = False) -> None:
        """Raise the ledger's seq for this outbox; only ``reset`` (after a report) names another outbox."""

        def change(root: dict[str, Any]) -> None:
            mark = root.get("outbox")
            if reset or not isinstance(mark, dict) or not mark.get("id"):
                root["outbox"] = {"id": outbox_id, "seq": int(seq)}
            elif mark["id"] == outbox_id:
                mark["seq"] = max(int(mark.get("seq", 0)), int(seq))
            # Another id without a reset: an outbox swapped under a running process; the next
            # ``Outbox.bind`` reports it, so the ledger is not moved to it here.

        self.update(change)

    def note_outbox(self, detail: str) -> None:
        """Keep a report about the outbox (damage, loss) for the next flush; at most the last 20."""

        def change(root: dict[str, Any]) -> None:
            notes = root.get("outbox_notices") if isinstance(root.get("outbox_notices"), list) else []
            root["outbox_notices"] = [*notes, str(detail)[:1000]][-20:]

        self.update(change)

    def take_outbox_notices(self) -> list[str]:
        """The outbox reports kept since the last flush, removed as they are handed over."""

        def change(root: dict[str, Any]) -> list[str]:
            notes = root.pop("outbox_notices", None)
            return [str(n) for n in notes] if isinstance(notes, list) else []

        return self.update(change)

    def newest_status(self) -> int:
        """The signed ``server_time`` of the newest status this device accepted (0 if none)."""
        return int(self.read()["status"].get("server_time", 0))


class MemoryFloor:
    """The clock floor of a device not enrolled yet: nothing to persist, nothing to lose."""

    def floor(self) -> tuple[float, float]:
        return 0.0, 0.0

    def raise_floor(self, trusted: float, server_time: float) -> None:
        return None

    def set_floor(self, trusted: float, server_time: float) -> None:
        return None


def _latest_mtime(directory: Path) -> float:
    """The latest modification time of the files in ``directory`` (0 if there are none)."""
    try:
        return max((entry.stat().st_mtime for entry in directory.iterdir()), default=0.0)
    except OSError:
        return 0.0
