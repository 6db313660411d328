"""The correlation id of the work in progress: one id from an API request through the table's
stream to the event bus.

The API function binds its request id; every aggregate write stamps the bound id on the events it
stores (the outbox), the fan-out binds the id it finds on a stream record while it handles that
record, and the published envelope carries it (``correlation_id``). A consumer's own writes (a
tamper revocation) are made under the same binding, so their events carry it too. Queue messages
the service sends carry it as the ``correlation_id`` message attribute.

A context variable rather than a parameter: the id crosses every layer but changes no decision,
and a context variable is per thread, so the local stack's concurrent functions keep theirs apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)

ATTRIBUTE = "correlation_id"
"""The key on stored events and the name of the SQS message attribute."""


def current() -> str | None:
    """The bound correlation id, if any."""
    return _current.get()


@contextmanager
def bound(correlation_id: str | None) -> Iterator[str | None]:
    """Bind ``correlation_id`` for the block (None binds nothing new and keeps the outer one)."""
    if not correlation_id:
        yield current()
        return
    token = _current.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _current.reset(token)


def stamped(event: dict[str, Any]) -> dict[str, Any]:
    """A stored event with the bound correlation id added (unchanged when none is bound)."""
    correlation_id = current()
    return {**event, ATTRIBUTE: correlation_id} if correlation_id else event


def of_events(events: Any) -> str | None:
    """The correlation id stamped on the first of a row's stored events that has one."""
    for event in events or ():
        if isinstance(event, dict) and isinstance(event.get(ATTRIBUTE), str):
            return event[ATTRIBUTE]
    return None
