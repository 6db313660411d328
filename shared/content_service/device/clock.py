"""An anti-rollback trusted clock: setting the device's clock back cannot extend a licence.

``trusted_now`` is the largest of

- the wall clock,
- the last signed ``server_time`` the device has seen (from a verified licence or status),
- the last trusted time this device persisted, carried forward by the monotonic clock of this
  process (which the user cannot set),

and it never goes down, within a process or across restarts: the floor is persisted in the
device's sealed state root (``device.state``), so a reboot with the clock set back a week starts
from where it left off, and editing the floor breaks the seal. The wall clock moving forward is
believed (that can only shorten licences); the wall clock moving back is ignored.

Across processes of one boot. The OS's monotonic clock counts from boot for every process, and
nobody can set it. With each floor the clock seals a BOOT MARK: (the kernel's boot id, the
monotonic reading, the trusted time then). A process of the same boot starts no lower than the
mark carried forward by the monotonic time since, so restoring an older (genuinely sealed) state
root and setting the wall clock back gains nothing until the device reboots: the older mark
carries the real time elapsed. Across a reboot the mark is void (another boot id, or a monotonic
reading lower than the mark's), and only the persisted floor holds (docs/threat-model.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from content_service.device.state import BootMark

WallClock = Callable[[], float]
MonotonicClock = Callable[[], float]
BootId = Callable[[], str]


def kernel_boot_id() -> str:
    """This boot's id (Linux), or "" where the OS has none: then no mark carries across processes."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read(64).strip()
    except (OSError, UnicodeError):
        return ""

#: 9999-12-31T23:59:59Z: a wall clock past this is not a time (dates, licences, JSON cannot carry it).
LATEST_BELIEVABLE = 253_402_300_799.0

#: The floor is written when it has moved this much since the last write; a crash loses at most this.
PERSIST_EVERY_SECONDS = 1.0


class ClockFloor(Protocol):
    """Where the floor persists: ``floor()`` is (trusted, server_time); ``raise_floor`` only raises.

    ``set_floor`` may lower the trusted time (never the server time): only ``resync`` calls it.
    """

    def floor(self) -> tuple[float, float]: ...

    def raise_floor(self, trusted: float, server_time: float) -> None: ...

    def set_floor(self, trusted: float, server_time: float) -> None: ...


class _NoFloor:
    def floor(self) -> tuple[float, float]:
        return 0.0, 0.0

    def raise_floor(self, trusted: float, server_time: float) -> None:
        return None

    def set_floor(self, trusted: float, server_time: float) -> None:
        return None


class TrustedClock:
    """A clock that only moves forward, persisted through a ``ClockFloor``.

    ``wall`` and ``monotonic`` are injected so tests can set the wall clock back or let
    time pass without sleeping; they default to ``time.time`` and ``time.monotonic``. A clock
    starts unbound (nothing persisted, as before enrolment); ``bind`` attaches the device's state.
    """

    def __init__(
        self,
        floor: ClockFloor | None = None,
        *,
        wall: WallClock = time.time,
        monotonic: MonotonicClock = time.monotonic,
        boot_id: BootId = kernel_boot_id,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._boot_id = boot_id()
        self._lock = threading.Lock()
        self._floor: ClockFloor = _NoFloor()
        self._server_time = 0.0
        self._persisted = 0.0
        self._anchor = self._wall_now()
        self._anchor_monotonic = self._monotonic()
        self._last = self._anchor
        if floor is not None:
            self.bind(floor)

    def bind(self, floor: ClockFloor) -> None:
        """Persist through ``floor`` from now on, starting no lower than what it holds."""
        trusted, server_time = floor.floor()
        mark = floor.boot_mark() if hasattr(floor, "boot_mark") else None
        with self._lock:
            self._floor = floor
            self._server_time = max(self._server_time, server_time)
            self._persisted = max(trusted, server_time)
            monotonic = self._monotonic()
            # The anchor is where this process's monotonic progress is counted from.
            self._anchor = max(self._last, self._wall_now(), self._persisted, self._carried(mark, monotonic))
            self._anchor_monotonic = monotonic
            self._last = self._anchor

    def _wall_now(self) -> float:
        """The wall clock, if it reads a time at all: a reading that is not finite, or past the last
        second any date type here can hold, is ignored (0), as a clock set back is."""
        wall = self._wall()
        return wall if math.isfinite(wall) and 0.0 <= wall <= LATEST_BELIEVABLE else 0.0

    def _carried(self, mark: BootMark | None, monotonic: float) -> float:
        """The mark's trusted time carried forward to ``monotonic``, if the mark is of this boot."""
        if not mark or not self._boot_id or mark[0] != self._boot_id or monotonic < mark[1]:
            return 0.0
        return mark[2] + (monotonic - mark[1])

    def _mark(self) -> dict[str, object]:
        """The keyword that seals a boot mark with a floor (for floors that keep one)."""
        if not self._boot_id or not hasattr(self._floor, "boot_mark"):
            return {}
        return {"boot": (self._boot_id, self._monotonic(), self._last)}

    def now(self) -> float:
        """The trusted time in epoch seconds; never less than any value returned or seen before."""
        with self._lock:
            carried = self._anchor + max(0.0, self._monotonic() - self._anchor_monotonic)
            self._last = max(self._last, self._wall_now(), carried, self._server_time)
            if self._last - self._persisted >= PERSIST_EVERY_SECONDS:
                self._save()
            return self._last

    def now_int(self) -> int:
        """``now()`` rounded down to whole seconds, as licence claims are."""
        return math.floor(self.now())

    def observe_server_time(self, server_time: float) -> None:
        """Raise the floor to a signed server time (call it only with a verified token's claim)."""
        with self._lock:
            if server_time > self._server_time:
                self._server_time = float(server_time)
                carried = self._anchor + max(0.0, self._monotonic() - self._anchor_monotonic)
                if self._server_time > carried:
                    # Count this process's monotonic progress from the signed time from now on, so
                    # trusted time cannot stand still at it while the process runs.
                    self._anchor, self._anchor_monotonic = self._server_time, self._monotonic()
                self._last = max(self._last, self._server_time)
                self._save()

    def resync(self, server_time: float) -> None:
        """Take a signed server time that answered this device's own nonce as the present.

        The signed floor still only moves forward; what may move back is the part of trusted
        time that came from the wall clock: a wall clock set ahead (which only ever shortened
        licences) would otherwise lock the device out until real time caught up. Only a status
        bound to a fresh nonce may do this, so an attacker cannot use it to move time back.
        """
        with self._lock:
            self._server_time = max(self._server_time, float(server_time))
            self._anchor = self._server_time
            self._anchor_monotonic = self._monotonic()
            self._last = max(self._server_time, self._wall_now())
            self._floor.set_floor(self._last, self._server_time, **self._mark())
            self._persisted = self._last

    def checkpoint(self) -> None:
        """Persist the current trusted time now (for example before the process exits)."""
        self.now()
        with self._lock:
            self._save()

    @property
    def last_server_time(self) -> float:
        """The latest signed server time seen (0 if none)."""
        return self._server_time

    def _save(self) -> None:
        self._floor.raise_floor(self._last, self._server_time, **self._mark())
        self._persisted = self._last
