"""The durable outbox: items kept at least 7 days, flushed once by id, surviving a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from content_service.device.agent import DeviceAgent
from content_service.device.http import HttpStatementSink
from content_service.device.outbox import Outbox
from tests.unit.device.conftest import DAY, Airplane, FakeTime
from tests.unit.device.fake_service import FakeService


def outbox(path: Path, time: FakeTime, **kwargs: Any) -> Outbox:
    return Outbox(path, clock=time.time, **kwargs)


def statement(n: int) -> dict[str, Any]:
    return {
        "actor": {"mbox": "mailto:l@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": f"urn:x:{n}"},
    }


def test_queuing_the_same_id_twice_keeps_one_item(tmp_path: Path, fake_time: FakeTime) -> None:
    box = outbox(tmp_path / "o.sqlite3", fake_time)
    assert box.put("statement", "s-1", statement(1)) is True
    assert box.put("statement", "s-1", statement(1)) is False
    assert [i.id for i in box.pending()] == ["s-1"]


def test_queued_items_survive_a_restart(tmp_path: Path, fake_time: FakeTime) -> None:
    outbox(tmp_path / "o.sqlite3", fake_time).put("statement", "s-1", statement(1))
    assert [i.id for i in outbox(tmp_path / "o.sqlite3", fake_time).pending()] == ["s-1"]
    assert (tmp_path / "o.sqlite3").stat().st_mode & 0o777 == 0o600


def test_a_flushed_statement_is_received_once_even_when_flushed_twice(
    tmp_path: Path, fake_time: FakeTime, service: FakeService
) -> None:
    box = outbox(tmp_path / "o.sqlite3", fake_time)
    for n in range(3):
        box.put("statement", f"s-{n}", statement(n))
    sink = HttpStatementSink(service.lrs_url)
    first = box.flush("statement", lambda item: sink(item.id, item.body))
    second = box.flush("statement", lambda item: sink(item.id, item.body))
    assert first.sent == ["s-0", "s-1", "s-2"] and first.pending == 0
    assert second.sent == []
    assert service.statement_puts == ["s-0", "s-1", "s-2"]


def test_a_send_interrupted_before_it_is_marked_is_stored_once_by_the_receiver(
    tmp_path: Path, fake_time: FakeTime, service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = outbox(tmp_path / "o.sqlite3", fake_time)
    box.put("statement", "s-1", statement(1))
    sink = HttpStatementSink(service.lrs_url)
    real_mark = box._mark_sent
    crashed = []

    def crash_once(item_id: str, receipt: Any) -> None:
        if not crashed:
            crashed.append(item_id)
            raise RuntimeError("power cut after the send")
        real_mark(item_id, receipt)

    monkeypatch.setattr(box, "_mark_sent", crash_once)
    with pytest.raises(RuntimeError):
        box.flush("statement", lambda item: sink(item.id, item.body))
    assert [i.id for i in box.pending()] == ["s-1"]
    assert box.flush("statement", lambda item: sink(item.id, item.body)).sent == ["s-1"]
    # Sent twice over the wire, stored once: PUT by id.
    assert service.statement_puts == ["s-1", "s-1"]
    assert list(service.statements) == ["s-1"]


def test_a_failing_flush_keeps_the_item_and_stops(tmp_path: Path, fake_time: FakeTime) -> None:
    box = outbox(tmp_path / "o.sqlite3", fake_time)
    box.put("statement", "s-1", statement(1))
    box.put("statement", "s-2", statement(2))
    sink = HttpStatementSink("http://127.0.0.1:9", session=Airplane())
    result = box.flush("statement", lambda item: sink(item.id, item.body))
    assert result.sent == [] and result.pending == 2 and "Offline" in (result.error or "")
    assert box.get("s-1").attempts == 1 and box.get("s-2").attempts == 0  # type: ignore[union-attr]


def test_nothing_younger_than_the_retention_is_dropped(tmp_path: Path, fake_time: FakeTime) -> None:
    box = outbox(tmp_path / "o.sqlite3", fake_time, retention=timedelta(days=7), max_age=timedelta(days=7))
    box.put("statement", "old-unsent", statement(1))
    box.put("tamper", "old-sent", {"bundle_id": "b", "kind": "manifest"})
    assert box.flush("tamper", lambda item: {"report_id": "r"}).sent == ["old-sent"]
    fake_time.advance(7 * DAY - 1)
    box.put("statement", "young", statement(3))
    assert box.purge().total == 0
    assert [i.id for i in box.pending()] == ["old-unsent", "young"]
    assert [i.id for i in box.sent()] == ["old-sent"]
    fake_time.advance(2)
    assert box.purge().total == 2
    assert [i.id for i in box.pending()] == ["young"] and box.sent() == []


def test_unsent_items_are_kept_past_the_retention_until_max_age(tmp_path: Path, fake_time: FakeTime) -> None:
    box = outbox(tmp_path / "o.sqlite3", fake_time)
    box.put("tamper", "t-1", {"bundle_id": "b", "kind": "container"})
    fake_time.advance(20 * DAY)
    assert box.purge().total == 0 and [i.id for i in box.pending()] == ["t-1"]
    fake_time.advance(11 * DAY)
    assert box.purge().total == 1


def test_a_retention_under_seven_days_is_refused(tmp_path: Path, fake_time: FakeTime) -> None:
    with pytest.raises(ValueError):
        outbox(tmp_path / "o.sqlite3", fake_time, retention=timedelta(days=6))


def test_the_agent_queues_statements_offline_and_flushes_them_once_online(
    ready: DeviceAgent, service: FakeService
) -> None:
    ready.session = Airplane()
    ids = [ready.record_statement(statement(n)) for n in range(2)]
    ready.record_statement({**statement(0), "id": ids[0]})
    sink = HttpStatementSink(service.lrs_url, session=ready.session)
    offline = ready.flush(sink)
    assert offline["statement"].pending == 2 and service.statement_puts == []
    ready.session = requests.Session()
    sink = HttpStatementSink(service.lrs_url)
    assert ready.flush(sink)["statement"].sent == ids
    assert ready.flush(sink)["statement"].sent == []
    assert service.statement_puts == ids
    assert all(service.statements[i]["timestamp"] for i in ids)


def test_flush_without_a_sink_leaves_statements_queued(ready: DeviceAgent) -> None:
    ready.record_statement(statement(1))
    assert "statement" not in ready.flush()
    assert len(ready.outbox.pending("statement")) == 1
