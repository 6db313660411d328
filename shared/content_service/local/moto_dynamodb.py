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

moto also ignores TransactWriteItems' ``ClientRequestToken``: on DynamoDB a request repeated with
the same token within 10 minutes succeeds without writing again (so the SDK's retry of a commit
whose answer was lost is not mistaken for a conflict), and the same token with other items is an
``IdempotentParameterMismatchException``. The device enrolment relies on it (a retried enrolment
otherwise finds its own key claim and answers 409), so it is emulated here too.

And moto answers a Query on a table by reading every item of the table (``Table.all_items`` sorts
the whole table) to keep the queried partition's items: each query costs O(n log n) in the table's
size, under the lock above. DynamoDB reads one partition. A fan-out to 10,000 devices (a query of
each device's feed in a table of ~50,000 items) then spends minutes on moto alone, which says
nothing about the service. A base-table query is answered from the queried partition only (the
same items, filtered, sorted and paged by moto's own code); index queries are left to moto.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import threading
import time
from typing import Any

from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_LOCK = threading.RLock()
_MARK = "_content_service_serialised"
#: How long DynamoDB remembers a transaction's ClientRequestToken.
TOKEN_SECONDS = 600
#: Token → (digest of the request's items, when it committed, the answer it got).
_COMMITTED: dict[str, tuple[str, float, Any]] = {}


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self) -> None:
        super().__init__(
            ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
            message="The request uses the same client token as a previous, but non-identical request.",
        )


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
    _honour_client_request_tokens()
    query_one_partition()


def _honour_client_request_tokens() -> None:
    original = DynamoHandler.transact_write_items
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        digest = hashlib.sha256(
            json.dumps(self.body.get("TransactItems"), sort_keys=True).encode()
        ).hexdigest()
        now = time.monotonic()
        for old in [t for t, (_, at, _) in _COMMITTED.items() if now - at > TOKEN_SECONDS]:
            del _COMMITTED[old]
        if token in _COMMITTED:
            seen_digest, _, answer = _COMMITTED[token]
            if seen_digest != digest:
                raise IdempotentParameterMismatch()
            return answer
        # Only a committed transaction is remembered: a refused one writes nothing, so its retry
        # is evaluated again, as DynamoDB does.
        answer = original(self)
        _COMMITTED[token] = (digest, now, answer)
        return answer

    setattr(transact_write_items, _MARK, True)
    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


_PARTITION = threading.local()


def query_one_partition() -> None:
    """Answer moto's base-table queries from the queried partition, not the whole table; idempotent."""
    original_query = Table.query
    if getattr(original_query, _MARK, False):
        return
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    @functools.wraps(original_query)
    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        if arguments.get("index_name") or not self.range_key_attr or arguments.get("hash_key") is None:
            return original_query(self, *args, **kwargs)
        _PARTITION.scope = (self, arguments["hash_key"])
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _PARTITION.scope = None

    @functools.wraps(original_all_items)
    def all_items(self: Table) -> Any:
        scope = getattr(_PARTITION, "scope", None)
        if scope is not None and scope[0] is self:
            # moto's query keeps the items of this hash key and sorts them by range key itself.
            return list(self.items.get(scope[1], {}).values())
        return original_all_items(self)

    setattr(query, _MARK, True)
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
