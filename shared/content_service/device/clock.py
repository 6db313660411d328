"""An anti-rollback trusted clock: setting the device's clock back cannot extend a licence.

``trusted_now`` is the largest of

- the wall clock,
- the last signed ``server_time`` the device has seen (from a verified licence),
- the last trusted time this device persisted, carried forward by the monotonic clock of this
  process (which the user cannot set),

and it never goes down, within a process or across restarts: the floor is persisted in the
state directory, so a reboot with the clock set back a week starts from where it left off.
The wall clock moving forward is believed (that can only shorten licences); the wall clock
moving back is ignored.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from content_service.device.store import write_json

WallClock = Callable[[], float]
MonotonicClock = Callable[[], float]

#: The floor is written when it has moved this much since the last write; a crash loses at most this.
PERSIST_EVERY_SECONDS = 1.0


class TrustedClock:
    """A clock that only moves forward, persisted in ``path``.

    ``wall`` and ``monotonic`` are injected so tests can set the wall clock back or let
    time pass without sleeping; they default to ``time.time`` and ``time.monotonic``.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        wall: WallClock = time.time,
        monotonic: MonotonicClock = time.monotonic,
    ) -> None:
        self._path = path
        self._wall = wall
        self._monotonic = monotonic
        self._lock = threading.Lock()
        persisted, restored = self._load()
        #: Whether the persisted floor was read back. False on a first start, and also when the
        #: file was deleted or damaged: the caller decides whether that is suspicious.
        self.restored = restored
        self._server_time = persisted.get("server_time", 0.0)
        self._persisted = max(persisted.get("trusted", 0.0), self._server_time)
        # The anchor is where this process's monotonic progress is counted from.
        self._anchor = max(self._wall(), self._persisted)
        self._anchor_monotonic = self._monotonic()
        self._last = self._anchor

    def now(self) -> float:
        """The trusted time in epoch seconds; never less than any value returned or seen before."""
        with self._lock:
            carried = self._anchor + max(0.0, self._monotonic() - self._anchor_monotonic)
            self._last = max(self._last, self._wall(), carried, self._server_time)
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
                self._last = max(self._last, self._server_time)
                self._save()

    def checkpoint(self) -> None:
        """Persist the current trusted time now (for example before the process exits)."""
        self.now()
        with self._lock:
            self._save()

    @property
    def last_server_time(self) -> float:
        """The latest signed server time seen (0 if none)."""
        return self._server_time

    def _load(self) -> tuple[dict[str, float], bool]:
        """The persisted floor, and whether it was read back intact."""
        if self._path is None:
            return {}, False
        try:
            data = json.loads(self._path.read_text("utf-8"))
            return {k: float(data[k]) for k in ("trusted", "server_time")}, True
        except (ValueError, TypeError, KeyError, OSError):
            # A missing or damaged file must not reset the floor to the wall clock, which the
            # user controls; the best remaining evidence is when the state directory last changed.
            return {"trusted": _latest_mtime(self._path.parent)}, False

    def _save(self) -> None:
        if self._path is None:
            self._persisted = self._last
            return
        write_json(self._path, {"trusted": self._last, "server_time": self._server_time})
        self._persisted = self._last


def _latest_mtime(directory: Path) -> float:
    """The latest modification time of the files in ``directory`` (0 if there are none)."""
    try:
        return max((entry.stat().st_mtime for entry in directory.iterdir()), default=0.0)
    except OSError:
        return 0.0
