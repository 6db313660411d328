"""A durable outbox for what the device must tell the world: xAPI statements, tamper reports, signals.

Items are rows of a SQLite database in the state directory (0600), written in a transaction
with ``synchronous=FULL``, so an item queued offline survives a crash or a power cut. Each item
has a stable id (the xAPI statement id; a fresh UUID for a tamper report): queuing the same id
twice keeps one item, and flushing sends each item by id, so a target with PUT-by-id semantics
(xAPI ``PUT /statements?statementId=``) stores it once even if a flush is interrupted after the
send and before the item is marked sent.

Retention: an unsent item is never dropped before ``retention`` (7 days by default; shorter is
refused). A sent item is kept for ``retention`` too, as a record of what left the device.
Unsent items older than ``max_age`` (30 days by default) are dropped by ``purge``.

Disk cap: the bodies kept (sent and unsent) are held under ``max_bytes`` (``DEFAULT_MAX_BYTES``,
64 MiB: about 60,000 typical 1 KiB statements, far more than 7 days of learning; SQLite's own
overhead comes on top, under 2x). When a new item would pass the cap, sent items (records of
what already left the device) are deleted first, oldest first, even inside their retention;
if that is not enough, an unsent statement is *never* dropped: the new statement is refused
with ``OutboxFull`` and the caller tells the learner (``usage()`` says how full the outbox is,
and ``nearly_full`` from ``NEARLY_FULL`` of the cap). Tamper reports and signals have a reserve
of ``RESERVE_BYTES`` past the cap, so a full outbox still records tampering. See
docs/offline-statements.md.

Order: items are sent in the order they were queued (``seq``), one at a time, and a flush stops
at the first failure, so the receiver sees them in that order; an item re-sent after a crash
comes before every later one.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from content_service.device.errors import OutboxFull

ItemKind = Literal["statement", "tamper", "signal"]
MINIMUM_RETENTION = timedelta(days=7)
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: Room past the cap for tamper reports and signals, which a full outbox must still take.
RESERVE_BYTES = 1024 * 1024
#: ``usage().nearly_full`` from this fraction of the cap on: the moment to tell the learner.
NEARLY_FULL = 0.8
#: What ``flush`` calls per item: send it (raise to leave it queued) and return what the target answered.
Sender = Callable[["OutboxItem"], Mapping[str, Any] | None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at REAL,
    receipt TEXT
)
"""


@dataclass(frozen=True)
class OutboxItem:
    """One queued item: its id, kind, JSON body and bookkeeping."""

    id: str
    kind: ItemKind
    body: dict[str, Any]
    queued_at: float
    attempts: int
    sent_at: float | None
    receipt: dict[str, Any] | None


@dataclass(frozen=True)
class OutboxUsage:
    """How full the outbox is: unsent items (all kinds), bytes kept, the cap, the oldest unsent time."""

    pending: int
    bytes_used: int
    max_bytes: int
    oldest_pending_at: float | None

    @property
    def nearly_full(self) -> bool:
        return self.bytes_used >= NEARLY_FULL * self.max_bytes


@dataclass(frozen=True)
class FlushResult:
    """What one flush did: ids sent, and how many are still waiting (per kind, for kinds flushed)."""

    sent: list[str]
    pending: int
    error: str | None = None


class Outbox:
    """The durable queue. ``clock`` returns epoch seconds (pass the trusted clock's ``now``)."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float],
        retention: timedelta = MINIMUM_RETENTION,
        max_age: timedelta = timedelta(days=30),
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("the outbox needs a positive disk cap (max_bytes)")
        if retention < MINIMUM_RETENTION:
            raise ValueError(f"the outbox keeps items at least {MINIMUM_RETENTION.days} days")
        if max_age < retention:
            raise ValueError("max_age must not be shorter than retention")
        self._path = Path(path)
        self._clock = clock
        self.retention = retention
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._create()

    def _create(self) -> None:
        if not self._path.exists():
            # Created empty and private first, so SQLite never makes it with the umask's mode.
            os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with self._connect() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def put(self, kind: ItemKind, item_id: str, body: Mapping[str, Any]) -> bool:
        """Queue an item; ``False`` if an item with this id is already queued (or was sent)."""
        if kind not in ("statement", "tamper", "signal"):
            raise ValueError(f"unknown outbox item kind {kind!r}")
        if not isinstance(item_id, str) or not item_id:
            raise ValueError("an outbox item needs a non-empty id")
        encoded = json.dumps(dict(body), separators=(",", ":"), sort_keys=True)
        with self._connect() as db:
            if db.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone():
                return False
            self._make_room(db, kind, len(encoded.encode("utf-8")))
            cursor = db.execute(
                "INSERT OR IGNORE INTO items (id, kind, body, queued_at) VALUES (?, ?, ?, ?)",
                (item_id, kind, encoded, self._clock()),
            )
            return cursor.rowcount == 1

    def _make_room(self, db: sqlite3.Connection, kind: ItemKind, size: int) -> None:
        """Delete sent items, oldest first, until ``size`` more bytes fit; else ``OutboxFull``."""
        limit = self.max_bytes + (0 if kind == "statement" else RESERVE_BYTES)
        used = _bytes_used(db)
        if used + size <= limit:
            return
        for seq, length in db.execute(
            "SELECT seq, length(CAST(body AS BLOB)) FROM items WHERE sent_at IS NOT NULL ORDER BY seq"
        ).fetchall():
            if used + size <= limit:
                break
            db.execute("DELETE FROM items WHERE seq = ?", (seq,))
            used -= int(length)
        if used + size > limit:
            pending = db.execute("SELECT COUNT(*) FROM items WHERE sent_at IS NULL").fetchone()[0]
            raise OutboxFull(
                f"the outbox holds {pending} unsent items ({used} of {self.max_bytes} bytes); "
                "connect to the internet to send them, nothing queued was dropped"
            )

    def usage(self) -> OutboxUsage:
        with self._connect() as db:
            pending, oldest = db.execute(
                "SELECT COUNT(*), MIN(queued_at) FROM items WHERE sent_at IS NULL"
            ).fetchone()
            return OutboxUsage(int(pending), _bytes_used(db), self.max_bytes, oldest)

    def pending(self, kind: ItemKind | None = None) -> list[OutboxItem]:
        """Unsent items, oldest first."""
        return self._select(sent=False, kind=kind)

    def sent(self, kind: ItemKind | None = None) -> list[OutboxItem]:
        """Sent items still kept, oldest first."""
        return self._select(sent=True, kind=kind)

    def get(self, item_id: str) -> OutboxItem | None:
        with self._connect() as db:
            row = db.execute(_SELECT_BY_ID, (item_id,)).fetchone()
        return _item(row) if row else None

    def _select(self, *, sent: bool, kind: ItemKind | None) -> list[OutboxItem]:
        with self._connect() as db:
            rows = db.execute(_SELECT_BY_STATE, (int(sent), kind, kind)).fetchall()
        return [_item(row) for row in rows]

    def flush(self, kind: ItemKind, send: Sender) -> FlushResult:
        """Send every pending item of ``kind``, oldest first, marking each sent as soon as it is.

        The first failure stops the flush (the device is probably offline) and leaves that item
        and the later ones queued for the next flush; its error is recorded on the item.
        """
        sent: list[str] = []
        error: str | None = None
        for item in self.pending(kind):
            try:
                receipt = send(item)
            except Exception as failure:  # noqa: BLE001 - any failure leaves the item queued.
                error = f"{type(failure).__name__}: {failure}"
                self._record_failure(item.id, error)
                break
            self._mark_sent(item.id, receipt)
            sent.append(item.id)
        return FlushResult(sent=sent, pending=len(self.pending(kind)), error=error)

    def _mark_sent(self, item_id: str, receipt: Mapping[str, Any] | None) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE items SET sent_at = ?, attempts = attempts + 1, receipt = ?, last_error = NULL "
                "WHERE id = ? AND sent_at IS NULL",
                (self._clock(), json.dumps(dict(receipt or {})), item_id),
            )

    def _record_failure(self, item_id: str, error: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE items SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], item_id),
            )

    def purge(self) -> int:
        """Drop sent items older than ``retention`` and unsent ones older than ``max_age``.

        An item younger than ``retention`` is never dropped, sent or not.
        """
        now = self._clock()
        with self._connect() as db:
            cursor = db.execute(
                "DELETE FROM items WHERE (sent_at IS NOT NULL AND queued_at < ? AND sent_at < ?) "
                "OR (sent_at IS NULL AND queued_at < ?)",
                (
                    now - self.retention.total_seconds(),
                    now - self.retention.total_seconds(),
                    now - self.max_age.total_seconds(),
                ),
            )
            return cursor.rowcount


_SELECT_BY_ID = "SELECT id, kind, body, queued_at, attempts, sent_at, receipt FROM items WHERE id = ?"
_SELECT_BY_STATE = (
    "SELECT id, kind, body, queued_at, attempts, sent_at, receipt FROM items "
    "WHERE (sent_at IS NOT NULL) = ? AND (? IS NULL OR kind = ?) ORDER BY seq"
)


def _bytes_used(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COALESCE(SUM(length(CAST(body AS BLOB))), 0) FROM items").fetchone()[0])


def _item(row: tuple[Any, ...]) -> OutboxItem:
    item_id, kind, body, queued_at, attempts, sent_at, receipt = row
    return OutboxItem(
        id=item_id,
        kind=kind,
        body=json.loads(body),
        queued_at=queued_at,
        attempts=attempts,
        sent_at=sent_at,
        receipt=json.loads(receipt) if receipt else None,
    )
