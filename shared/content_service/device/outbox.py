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

A hostile disk. The learner owns the file. Anything in it the outbox did not write (a file that
is not a database, a torn or edited page, a row that does not parse, a symlink or a folder in
its place) is DAMAGE: the file is moved aside (``outbox.damaged-*``, never deleted), every row
that still reads and parses is saved into a fresh outbox, and the operation that met it raises
``OutboxDamaged`` saying how many were saved, once; the next one uses the fresh outbox. A
removed file, or a whole older copy, is a valid database, so the device's sealed state root
keeps a LEDGER: the outbox's random id and its high-water ``seq`` (SQLite's AUTOINCREMENT
counter never goes down). ``bind`` (when the agent starts) recovers damage and checks the
ledger without raising, so a bad queue never keeps content from opening: an outbox with another
id (removed, or copied from another device) or a lower counter (an older copy), and damage found
then, are noted in the ledger and reported by the next flush (``results["outbox"]``), once.
Another process holding the outbox past the wait, or a disk that refuses, is ``OutboxBusy``,
never damage.

Unsent items age against ``age_clock`` (the agent passes the newest *signed* server time), not
the wall clock: a learner who sets the clock a month ahead does not get their queue purged.
``purge`` returns what it dropped, and the agent reports unsent items dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote

from content_service.device.errors import OutboxBusy, OutboxDamaged, OutboxFull

ItemKind = Literal["statement", "tamper", "signal"]
MINIMUM_RETENTION = timedelta(days=7)
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: Room past the cap for tamper reports and signals, which a full outbox must still take.
RESERVE_BYTES = 1024 * 1024
#: How long a transaction waits for another device process holding the outbox, then ``OutboxBusy``.
BUSY_TIMEOUT_SECONDS = 10.0
#: ``usage().nearly_full`` from this fraction of the cap on: the moment to tell the learner.
NEARLY_FULL = 0.8
#: What ``flush`` calls per item: send it (raise to leave it queued) and return what the target answered.
Sender = Callable[["OutboxItem"], Mapping[str, Any] | None]

_KINDS = ("statement", "tamper", "signal")
#: SQLite's result codes that say nothing about the file's content: another connection holds the
#: lock, or the disk refused (full, an I/O error, the file cannot be opened). Waiting, or freeing
#: space, is the cure; moving the file aside would be wrong.
_TRANSIENT_CODES = (5, 6, 10, 13, 14)  # BUSY, LOCKED, IOERR, FULL, CANTOPEN
_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
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


class OutboxLedger(Protocol):
    """Where the device seals which outbox it holds: (outbox id, high-water seq), or None."""

    def outbox_mark(self) -> tuple[str, int] | None: ...

    def seal_outbox(self, outbox_id: str, seq: int, *, reset: bool = False) -> None: ...

    def note_outbox(self, detail: str) -> None: ...


class _Unreadable(Exception):
    """Something in the outbox the outbox did not write (raised inside ``_connect``, turned into recovery)."""


@dataclass(frozen=True)
class PurgeResult:
    """What ``purge`` dropped: sent records past retention, and unsent items past ``max_age``."""

    sent: int
    unsent: int

    @property
    def total(self) -> int:
        return self.sent + self.unsent


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
        age_clock: Callable[[], float] | None = None,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("the outbox needs a positive disk cap (max_bytes)")
        if retention < MINIMUM_RETENTION:
            raise ValueError(f"the outbox keeps items at least {MINIMUM_RETENTION.days} days")
        if max_age < retention:
            raise ValueError("max_age must not be shorter than retention")
        self._path = Path(path)
        self._clock = clock
        self._age_clock = age_clock or clock
        self._ledger: OutboxLedger | None = None
        self.retention = retention
        self.max_age = max_age
        self.max_bytes = max_bytes
        # The file is opened (created, checked) by the first operation, so that a damaged one
        # is recovered with the ledger bound (``bind``) and reported once.

    def _prepare_file(self) -> None:
        """Create the file private if it is missing; a symlink, folder or device in its place is damage."""
        try:
            info = os.lstat(self._path)
        except FileNotFoundError:
            # Created empty and private first, so SQLite never makes it with the umask's mode.
            with contextlib.suppress(FileExistsError):  # Another process made it first.
                os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return
        if not stat.S_ISREG(info.st_mode):
            raise _Unreadable("it is not a regular file")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction; damage found on the way is recovered and raised as ``OutboxDamaged``."""
        try:
            self._prepare_file()
            with self._transaction() as db:
                db.execute(_META)
                db.execute(_SCHEMA)
                yield db
        except sqlite3.DatabaseError as error:
            code = getattr(error, "sqlite_errorcode", None)
            if code in _TRANSIENT_CODES or (code is None and "locked" in str(error)):
                raise OutboxBusy(
                    f"the outbox cannot be used now ({error}): another device process holds it, or the "
                    "disk refused; nothing was changed, try again"
                ) from error
            raise self._recover(str(error)) from error
        except _Unreadable as error:
            raise self._recover(str(error)) from error

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
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
            added, seq, outbox_id = cursor.rowcount == 1, int(cursor.lastrowid or 0), _outbox_id(db)
        if added and self._ledger is not None:
            # After the commit: the sealed high-water never runs ahead of what the file holds.
            self._ledger.seal_outbox(outbox_id, seq)
        return added

    # ------------------------------------------------------------ the ledger and damage
    def bind(self, ledger: OutboxLedger) -> None:
        """Check this outbox against the device's sealed ledger, then keep the ledger up to date.

        Never raises for what it finds, so a damaged queue does not keep content from opening:
        damage is recovered, and an outbox that is not the one the ledger names or whose counter
        is behind (removed, swapped, an older copy) is NOTED in the ledger (``note_outbox``) for
        the next flush to report, once; the ledger then follows the outbox found.
        """
        # Bound first: a damaged file met on the way is recovered and the ledger follows the fresh one.
        self._ledger = ledger
        mark = ledger.outbox_mark()  # Read before the counter: the ledger never runs ahead of it.
        try:
            outbox_id, high = self.identity()
        except OutboxDamaged as damaged:
            ledger.note_outbox(damaged.detail)
            return
        except OutboxBusy:
            return  # Another process holds it: that process, or the next one, checks.
        if mark is None:
            ledger.seal_outbox(outbox_id, high)
            return
        sealed_id, sealed_seq = mark
        if sealed_id == outbox_id and high >= sealed_seq:
            return
        ledger.seal_outbox(outbox_id, high, reset=True)
        what = "another outbox (removed, or copied in)" if sealed_id != outbox_id else "an older copy of it"
        lost = sealed_seq if sealed_id != outbox_id else sealed_seq - high
        if lost <= 0:
            return  # Nothing was ever queued in the outbox the ledger named: nothing to report.
        ledger.note_outbox(
            f"the outbox is {what}: up to {lost} items this device queued are not in it and cannot be "
            "sent; the outbox in place is used from now on"
        )

    def identity(self) -> tuple[str, int]:
        """(this outbox's random id, its high-water seq: the largest ever given, never lowered)."""
        with self._connect() as db:
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'items'").fetchone()
            return _outbox_id(db), int(row[0]) if row else 0

    def _recover(self, cause: str) -> OutboxDamaged:
        """Move the damaged file aside, save what still reads into a fresh outbox; the error to raise."""
        kept = self._path.with_name(f"{self._path.stem}.damaged-{int(time.time())}-{uuid.uuid4().hex[:8]}")
        try:
            os.replace(self._path, kept)  # A file, a symlink or a folder: moved, never followed.
        except FileNotFoundError:
            pass
        except OSError as error:
            return OutboxDamaged(f"the outbox is damaged ({cause}) and cannot be moved aside ({error.strerror})")
        for suffix in ("-journal", "-wal", "-shm"):
            journal = self._path.with_name(self._path.name + suffix)
            if journal.exists() or journal.is_symlink():
                with contextlib.suppress(OSError):  # A journal left behind only costs its space.
                    os.replace(journal, kept.with_name(kept.name + suffix))
        try:
            self._prepare_file()
            with self._transaction() as db:
                db.execute(_META)
                db.execute(_SCHEMA)
                saved, unsent = _salvage(kept, db)
                outbox_id = _outbox_id(db)
                row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'items'").fetchone()
        except (sqlite3.Error, OSError, _Unreadable) as error:
            return OutboxDamaged(
                f"the outbox was damaged ({cause}), kept as {kept.name}; a fresh one cannot be made ({error})",
                kept=str(kept),
            )
        if self._ledger is not None:
            self._ledger.seal_outbox(outbox_id, int(row[0]) if row else 0, reset=True)
        return OutboxDamaged(
            f"the outbox was damaged ({cause}): {saved} items ({unsent} unsent) that still read were saved "
            f"into a fresh outbox; the damaged file is kept as {kept.name}; run the command again",
            saved=saved,
            unsent_saved=unsent,
            kept=str(kept),
        )

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

    def purge(self) -> PurgeResult:
        """Drop sent items older than ``retention`` and unsent ones older than ``max_age``.

        An item younger than ``retention`` is never dropped, sent or not. Unsent items age on
        ``age_clock`` (a time the learner cannot move ahead), sent ones on ``clock``.
        """
        now, age_now = self._clock(), min(self._clock(), self._age_clock())
        with self._connect() as db:
            sent = db.execute(
                "DELETE FROM items WHERE sent_at IS NOT NULL AND queued_at < ? AND sent_at < ?",
                (now - self.retention.total_seconds(), now - self.retention.total_seconds()),
            ).rowcount
            unsent = db.execute(
                "DELETE FROM items WHERE sent_at IS NULL AND queued_at < ?",
                (age_now - self.max_age.total_seconds(),),
            ).rowcount
            return PurgeResult(sent=sent, unsent=unsent)


_SELECT_BY_ID = "SELECT id, kind, body, queued_at, attempts, sent_at, receipt FROM items WHERE id = ?"
_SELECT_BY_STATE = (
    "SELECT id, kind, body, queued_at, attempts, sent_at, receipt FROM items "
    "WHERE (sent_at IS NOT NULL) = ? AND (? IS NULL OR kind = ?) ORDER BY seq"
)


def _bytes_used(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COALESCE(SUM(length(CAST(body AS BLOB))), 0) FROM items").fetchone()[0])


def _item(row: tuple[Any, ...]) -> OutboxItem:
    """One row as an item; a row the outbox did not write (edited) is ``_Unreadable``."""
    item_id, kind, body, queued_at, attempts, sent_at, receipt = row
    try:
        parsed, receipt_parsed = json.loads(body), json.loads(receipt) if receipt else None
    except (TypeError, ValueError) as error:
        raise _Unreadable(f"item {item_id!r} does not parse") from error
    if (
        not isinstance(item_id, str)
        or not item_id
        or kind not in _KINDS
        or not isinstance(parsed, dict)
        or not isinstance(queued_at, int | float)
        or not isinstance(attempts, int)
        or not (sent_at is None or isinstance(sent_at, int | float))
        or not (receipt_parsed is None or isinstance(receipt_parsed, dict))
    ):
        raise _Unreadable(f"item {item_id!r} is not one the outbox wrote")
    return OutboxItem(item_id, kind, parsed, float(queued_at), attempts, sent_at, receipt_parsed)


def _outbox_id(db: sqlite3.Connection) -> str:
    """This outbox's random id, made with it (a fresh file, or a recovered one, gets a new one)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'outbox_id'").fetchone()
    if row is not None:
        return str(row[0])
    outbox_id = uuid.uuid4().hex
    db.execute("INSERT INTO meta (key, value) VALUES ('outbox_id', ?)", (outbox_id,))
    return outbox_id


def _salvage(source: Path, into: sqlite3.Connection) -> tuple[int, int]:
    """Copy every row of a damaged outbox that still reads and parses; (rows saved, unsent among them)."""
    if source.is_symlink() or not source.is_file():
        return 0, 0
    saved = unsent = 0
    try:
        damaged = sqlite3.connect(f"file:{quote(str(source))}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0, 0
    try:
        rows = damaged.execute(
            "SELECT seq, id, kind, body, queued_at, attempts, sent_at, receipt FROM items ORDER BY seq"
        )
        while True:
            try:
                row = rows.fetchone()
            except sqlite3.Error:
                break  # The rest of the table is past a damaged page.
            if row is None:
                break
            try:
                item = _item(row[1:])
            except _Unreadable:
                continue
            cursor = into.execute(
                "INSERT OR IGNORE INTO items (seq, id, kind, body, queued_at, attempts, sent_at, receipt) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row[0], *row[1:]),
            )
            saved += cursor.rowcount
            unsent += cursor.rowcount if item.sent_at is None else 0
    except sqlite3.Error:
        pass  # Not even the table reads: nothing to save.
    finally:
        damaged.close()
    return saved, unsent
