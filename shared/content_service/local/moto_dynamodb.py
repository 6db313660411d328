"""Make moto's DynamoDB as atomic as DynamoDB: one request at a time per process.

DynamoDB guarantees that a conditional write is atomic and that a TransactWriteItems is
all-or-nothing and isolated; the device cap and the key claims rely on both. moto (5.2, see
``moto/dynamodb/models/__init__.py``) does check each item's ConditionExpression and does return
CancellationReasons in item order, but it takes no lock: its server handles requests on
threads, and ``transact_write_items`` deep-copies the tables, applies the items one by one and,
on a refused condition, rolls back by putting the copies back. Under parallel requests two
transactions can both pass a condition before either writes, a rollback can restore a copy that
holds another request's uncommitted item or drops its committed one (seen in
``tests/integration/local/test_device_cap_race.py``: an enrolment found its own rolled-back
device "already there"). Serialising moto's DynamoDB and DynamoDB Streams requests behind one
lock gives the guarantees the service relies on, so a local test cannot pass, or fail, on a
fiction (STYLE.md habit 14).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_LOCK = threading.RLock()
_MARK = "_content_service_serialised"


def serialise_dynamodb_requests() -> None:
    """Run every moto DynamoDB (and Streams) request of this process under one lock; idempotent."""
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original = handler.call_action
        if getattr(original, _MARK, False):
            continue

        @functools.wraps(original)
        def call_action(self: Any, _original: Any = original) -> Any:
            with _LOCK:
                return _original(self)

        setattr(call_action, _MARK, True)
        handler.call_action = call_action  # type: ignore[method-assign]
