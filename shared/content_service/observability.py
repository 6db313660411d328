"""Logs and traces of one unit of work (a request, a queue message, a stream record).

Powertools' Logger and Tracer are made by each function; this binds the unit's correlation id to
all three places it must appear: the context that stamps stored events (``correlation``), the log
lines (``correlation_id``) and the X-Ray trace (an annotation, so traces are searchable by it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Tracer

from content_service import correlation


@contextmanager
def correlated(logger: Logger, tracer: Tracer, correlation_id: str | None) -> Iterator[str | None]:
    """Handle one unit of work under ``correlation_id`` (None keeps the one already bound).

    The log key is set thread-safely and removed afterwards: a Lambda runtime runs one unit at a
    time, but the local stack runs every function in one process, and a key appended globally
    would tag another thread's lines.
    """
    with correlation.bound(correlation_id) as bound_id:
        if not bound_id:
            yield None
            return
        logger.thread_safe_append_keys(correlation_id=bound_id)
        tracer.put_annotation(key="correlation_id", value=bound_id)
        try:
            yield bound_id
        finally:
            logger.thread_safe_remove_keys(["correlation_id"])
