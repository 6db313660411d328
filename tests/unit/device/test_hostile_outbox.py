"""The learner owns the disk, the outbox file included: junk, an edited row, a removed file, an
older copy, another device's outbox, another process holding it, a clock set a month ahead. No
queued item is lost without a report (``OutboxDamaged``, once), and nothing raises untyped
(docs/offline-statements.md, "a hostile disk").
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from content_service.device import outbox as outbox_module
from content_service.device.agent import DeviceAgent
from content_service.device.errors import (
    OutboxBusy,
    OutboxDamaged,
)
from tests.unit.device.conftest import DAY, Airplane, FakeTime, make_agent, statement
from tests.unit.device.fake_service import FakeService


def outbox_report(agent: DeviceAgent) -> str | None:
    """What a flush reports about the outbox itself (None if nothing)."""
    result = agent.flush().get("outbox")
    return result.error if result else None


def test_an_outbox_that_is_not_a_database_is_moved_aside_reported_once_and_replaced(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    ready.record_statement(statement(1))
    ready.store.outbox_path.write_bytes(os.urandom(8192))
    again = make_agent(ready.store.home, fake_time, session=Airplane())
    # The queue's damage keeps no content from opening, and nothing from being recorded...
    assert again.mount(bundle_id).read("pkg_welcome", "index.html").startswith(b"<!doctype html>")
    again.record_statement(statement(2))
    assert [i.body["verb"]["id"] for i in again.outbox.pending("statement")] == ["urn:verb:2"]
    kept = list(ready.store.home.glob("outbox.damaged-*"))
    assert len(kept) == 1 and kept[0].is_file()
    # ...and the next flush (another process here) reports it, once.
    later = make_agent(ready.store.home, fake_time, session=Airplane())
    assert f"the damaged file is kept as {kept[0].name}" in str(outbox_report(later))
    assert outbox_report(later) is None


def test_an_edited_outbox_row_is_damage_and_every_other_row_is_saved(
    agent: DeviceAgent, fake_time: FakeTime
) -> None:
    ids = [agent.record_statement(statement(n)) for n in range(5)]
    with sqlite3.connect(agent.store.outbox_path) as db:
        db.execute("UPDATE items SET body = 'not json' WHERE id = ?", (ids[2],))
    with pytest.raises(OutboxDamaged) as caught:
        agent.flush(lambda item_id, body: None)
    assert caught.value.extensions["unsent_saved"] == 4
    assert [i.id for i in agent.outbox.pending("statement")] == ids[:2] + ids[3:], "the order is kept"
    assert Path(str(caught.value.extensions["kept"])).is_file()


def test_a_removed_outbox_is_reported_with_what_it_held(agent: DeviceAgent, fake_time: FakeTime) -> None:
    for n in range(3):
        agent.record_statement(statement(n))
    agent.store.outbox_path.unlink()
    restarted = make_agent(agent.store.home, fake_time, session=Airplane())
    assert "up to 3 items" in str(outbox_report(restarted))
    # Reported once: the ledger now follows the outbox in place.
    restarted.record_statement(statement(9))
    assert outbox_report(make_agent(agent.store.home, fake_time, session=Airplane())) is None


def test_a_removed_outbox_that_never_held_anything_is_not_reported(agent: DeviceAgent, fake_time: FakeTime) -> None:
    agent.outbox_usage()  # the outbox file exists, empty
    agent.store.outbox_path.unlink()
    assert outbox_report(make_agent(agent.store.home, fake_time, session=Airplane())) is None


def test_an_older_copy_of_the_outbox_is_reported(agent: DeviceAgent, fake_time: FakeTime, tmp_path: Path) -> None:
    agent.record_statement(statement(1))
    backup = tmp_path / "outbox-backup"
    shutil.copy(agent.store.outbox_path, backup)
    agent.record_statement(statement(2))
    agent.record_statement(statement(3))
    shutil.copy(backup, agent.store.outbox_path)
    report = outbox_report(make_agent(agent.store.home, fake_time, session=Airplane()))
    assert "an older copy of it: up to 2 items" in str(report)


def test_another_devices_outbox_copied_in_is_reported(
    agent: DeviceAgent, fake_time: FakeTime, service: FakeService, tmp_path: Path
) -> None:
    from tests.unit.device.conftest import enroll

    other = enroll(tmp_path / "other", fake_time, service)
    other.record_statement(statement(7))
    agent.record_statement(statement(1))
    shutil.copy(other.store.outbox_path, agent.store.outbox_path)
    assert "another outbox" in str(outbox_report(make_agent(agent.store.home, fake_time, session=Airplane())))


def test_an_outbox_held_by_another_process_is_busy_not_damaged(
    agent: DeviceAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent.record_statement(statement(1))
    monkeypatch.setattr(outbox_module, "BUSY_TIMEOUT_SECONDS", 0.05)
    holder = sqlite3.connect(agent.store.outbox_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OutboxBusy):
            agent.record_statement(statement(2))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(agent.outbox.pending("statement")) == 1
    assert not list(agent.store.home.glob("outbox.damaged-*")), "busy is not damage"


def test_setting_the_clock_a_month_ahead_purges_no_unsent_statement(
    agent: DeviceAgent, fake_time: FakeTime
) -> None:
    agent.record_statement(statement(1))
    agent.session = Airplane()
    fake_time.wall += 45 * DAY
    results = agent.flush()
    assert len(agent.outbox.pending("statement")) == 1
    assert "purged" not in results


def test_unsent_statements_dropped_past_the_maximum_age_are_reported(
    agent: DeviceAgent, fake_time: FakeTime, service: FakeService
) -> None:
    agent.record_statement(statement(1))
    fake_time.advance(31 * DAY)
    agent.sync_once()  # a signed server time a month later: the age is real

    def refuse(statement_id: str, body: object) -> None:
        raise ConnectionError("the LRS is down")

    results = agent.flush(refuse)
    assert agent.outbox.pending("statement") == []
    assert "1 unsent items older than 30 days were dropped" in str(results["purged"].error)




def test_a_full_disk_is_not_taken_for_damage(agent: DeviceAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    agent.record_statement(statement(1))
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined] - SQLITE_FULL, as the C layer sets it
    real = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        db = real(*args, **kwargs)  # type: ignore[arg-type]

        class Full:
            def __getattr__(self, name: str) -> object:
                return getattr(db, name)

            def execute(self, sql: str, *rest: object) -> object:
                if sql.startswith("INSERT"):
                    raise full
                return db.execute(sql, *rest)

        return Full()  # type: ignore[return-value]

    monkeypatch.setattr(outbox_module.sqlite3, "connect", connect)
    with pytest.raises(OutboxBusy, match="disk"):
        agent.record_statement(statement(2))
    monkeypatch.undo()
    assert not list(agent.store.home.glob("outbox.damaged-*")), "nothing was moved aside"
    assert len(agent.outbox.pending("statement")) == 1
