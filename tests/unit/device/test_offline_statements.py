"""The 7-day statements outbox: a week offline, thousands of statements, a crash mid-flush, a disk cap.

The LRS here is a fake that behaves as xAPI says: ``PUT /statements?statementId=`` stores a
statement once per id (a second PUT of the same id changes nothing) and records the order in
which ids were first stored. The crash is real: the flush runs in a child process that dies
(``os._exit``, no clean-up, no rollback handler) right after the LRS took a statement and before
the outbox marked it sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from content_service.device.agent import DeviceAgent
from content_service.device.errors import OutboxFull
from content_service.device.outbox import Outbox, OutboxItem
from tests.unit.device.conftest import DAY, FakeTime

STATEMENTS = 2000
CRASH_AFTER = 777


class FakeLrs:
    """Stores each statement id once (xAPI PUT semantics) and remembers the order of first storage."""

    def __init__(self) -> None:
        self.puts: list[str] = []
        self.stored: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []

    def put(self, statement_id: str, body: dict[str, Any]) -> None:
        self.puts.append(statement_id)
        if statement_id not in self.stored:
            self.stored[statement_id] = body
            self.order.append(statement_id)

    def replay(self, log: Path) -> None:
        """Take every PUT a child process recorded (one JSON line each, fsynced before answering)."""
        for line in log.read_text("utf-8").splitlines():
            entry = json.loads(line)
            self.put(entry["id"], entry["body"])


def statement(n: int) -> dict[str, Any]:
    return {
        "actor": {"mbox": "mailto:learner@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": f"urn:course:page:{n}"},
        "result": {"duration": "PT30S"},
    }


# The child: flush the outbox to an LRS log, and die hard right after the CRASH_AFTER-th PUT.
CHILD = textwrap.dedent(
    """
    import json, os, sys
    from content_service.device.outbox import Outbox
    path, log, crash_after, now = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    sent = 0
    def send(item):
        global sent
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"id": item.id, "body": item.body}) + "\\n")
            f.flush()
            os.fsync(f.fileno())
        sent += 1
        if sent == crash_after:
            os._exit(137)  # the LRS has it; the outbox has not marked it sent
        return {"status": 204}
    Outbox(path, clock=lambda: now).flush("statement", send)
    """
)


def test_a_week_offline_then_a_crash_mid_flush_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, clock=fake_time.time)
    queued = []
    # Seven days offline: a statement every ~5 minutes, day and night, purging as it goes.
    step = 7 * DAY / STATEMENTS
    for n in range(STATEMENTS):
        statement_id = f"00000000-0000-4000-8000-{n:012d}"
        assert box.put("statement", statement_id, statement(n))
        queued.append(statement_id)
        fake_time.advance(step)
        if n % 20 == 0:
            assert box.purge().total == 0
    assert box.purge().total == 0
    usage = box.usage()
    assert usage.pending == STATEMENTS and not usage.nearly_full
    assert (
        usage.oldest_pending_at is not None and fake_time.time() - usage.oldest_pending_at >= 7 * DAY - step
    )

    # Back online: the flush dies after CRASH_AFTER statements reached the LRS.
    log = tmp_path / "lrs.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(log), str(CRASH_AFTER), str(fake_time.time())],
        env=env,
        capture_output=True,
        check=False,
    )
    assert child.returncode == 137, child.stderr.decode()
    lrs = FakeLrs()
    lrs.replay(log)
    assert len(lrs.order) == CRASH_AFTER
    # The outbox after the crash: the statement in flight is still pending, with everything after it.
    restarted = Outbox(path, clock=fake_time.time)
    assert [i.id for i in restarted.pending("statement")] == queued[CRASH_AFTER - 1 :]

    def send(item: OutboxItem) -> dict[str, Any]:
        lrs.put(item.id, item.body)
        return {"status": 204}

    result = restarted.flush("statement", send)
    assert result.pending == 0 and result.error is None
    assert restarted.flush("statement", send).sent == []
    # Nothing lost, nothing duplicated, in the order they were recorded.
    assert lrs.order == queued
    assert all(lrs.stored[s] == statement(n) for n, s in enumerate(queued))
    # Exactly one id went twice over the wire (the one in flight at the crash); the LRS kept one copy.
    assert len(lrs.puts) == STATEMENTS + 1 and lrs.puts.count(queued[CRASH_AFTER - 1]) == 2


def test_past_the_cap_sent_items_go_first_and_unsent_statements_are_never_dropped(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    size = len(json.dumps(statement(16), separators=(",", ":"), sort_keys=True))
    box = Outbox(tmp_path / "o.sqlite3", clock=fake_time.time, max_bytes=size * 10)
    for n in range(6):
        box.put("statement", f"s-{n}", statement(n))
    box.flush("statement", lambda item: {"status": 204})
    for n in range(6, 16):
        box.put("statement", f"s-{n}", statement(n))
    # Six sent records made room for the four that did not fit; the unsent ten are all kept.
    assert [i.id for i in box.pending()] == [f"s-{n}" for n in range(6, 16)]
    assert box.sent() == []
    assert box.usage().nearly_full
    with pytest.raises(OutboxFull, match="10 unsent items"):
        box.put("statement", "s-16", statement(16))
    assert box.get("s-16") is None and len(box.pending()) == 10
    # A full outbox still takes a tamper report (its reserve), and frees space once sent.
    assert box.put("tamper", "tmp-1", {"bundle_id": "bnd_x", "kind": "container"})
    box.flush("statement", lambda item: {"status": 204})
    assert box.put("statement", "s-16", statement(16))


def test_a_cap_must_be_positive(tmp_path: Path, fake_time: FakeTime) -> None:
    with pytest.raises(ValueError, match="cap"):
        Outbox(tmp_path / "o.sqlite3", clock=fake_time.time, max_bytes=0)


def test_a_statement_recorded_again_under_the_same_key_keeps_its_id_and_one_copy(agent: DeviceAgent) -> None:
    first = agent.record_statement(statement(1), key="attempt-7/completed")
    again = agent.record_statement(statement(1), key="attempt-7/completed")
    other = agent.record_statement(statement(1), key="attempt-8/completed")
    assert first == again != other
    assert [i.id for i in agent.outbox.pending("statement")] == [first, other]
    assert agent.outbox_usage().pending == 2


def test_the_agent_refuses_a_statement_past_the_cap_with_a_clear_error(
    tmp_path: Path, fake_time: FakeTime, service: Any
) -> None:
    from tests.unit.device.conftest import enroll

    small = enroll(tmp_path / "d", fake_time, service, outbox_max_bytes=2000)
    with pytest.raises(OutboxFull, match="connect to the internet"):
        for n in range(100):
            small.record_statement(statement(n))
    assert 0 < small.outbox_usage().pending < 100
