"""The correlation id: bound for one unit of work, stamped on stored events, on its log lines only."""

from __future__ import annotations

import io
import json
import threading

from aws_lambda_powertools import Logger, Tracer

from content_service import correlation
from content_service.observability import correlated


def test_a_binding_holds_for_its_block_and_nests() -> None:
    with correlation.bound("outer"):
        with correlation.bound("inner"):
            assert correlation.current() == "inner"
        with correlation.bound(None):
            assert correlation.current() == "outer"
        assert correlation.stamped({"name": "x"}) == {"name": "x", "correlation_id": "outer"}
    assert correlation.current() is None
    assert correlation.stamped({"name": "x"}) == {"name": "x"}


def test_the_id_of_a_row_is_the_first_one_its_events_carry() -> None:
    assert correlation.of_events([{"name": "a"}, {"name": "b", "correlation_id": "r1"}]) == "r1"
    assert correlation.of_events([{"name": "a"}]) is None
    assert correlation.of_events(None) is None


def test_log_lines_inside_the_work_carry_its_id_and_other_threads_do_not() -> None:
    stream = io.StringIO()
    logger = Logger(service="correlation-test", stream=stream)
    tracer = Tracer(disabled=True)
    seen_elsewhere: list[str | None] = []

    with correlated(logger, tracer, "req-1"):
        logger.info("inside")
        other = threading.Thread(
            target=lambda: (logger.info("other thread"), seen_elsewhere.append(correlation.current()))
        )
        other.start()
        other.join()
    logger.info("after")

    lines = {line["message"]: line for line in map(json.loads, stream.getvalue().splitlines())}
    assert lines["inside"]["correlation_id"] == "req-1"
    assert "correlation_id" not in lines["other thread"]
    assert "correlation_id" not in lines["after"]
    assert seen_elsewhere == [None]
