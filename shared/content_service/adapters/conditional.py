"""One conditional write, the way every aggregate is persisted (optimistic concurrency)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol, TypeVar

from pynamodb.exceptions import PutError
from pynamodb.models import Model

from content_service.domain.errors import ConcurrencyConflict


class Versioned(Protocol):
    revision: int
    events: tuple[Any, ...]


A = TypeVar("A", bound=Versioned)


def conditional_save(item: Model, condition: Any, what: str) -> None:
    """Save ``item`` only if ``condition`` holds; a lost race is a ConcurrencyConflict."""
    try:
        item.save(condition=condition, add_version_condition=False)
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise ConcurrencyConflict(f"{what} changed concurrently or already exists") from error
        raise


def persist(aggregate: A, to_item: Any, condition: Any, what: str, *, revision: int) -> A:
    """Write the aggregate with its pending events (the outbox) at ``revision``; return it with events cleared."""
    stored = replace(aggregate, revision=revision, events=())  # type: ignore[type-var]
    conditional_save(to_item(replace(stored, events=aggregate.events)), condition, what)  # type: ignore[type-var]
    return stored
