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

Last, moto makes a TransactWriteItems all-or-nothing by deep-copying every table it names, stream
records included, before it applies the items (once per item, so a 3-item transaction on one table
copies it three times), and by putting the copies back if one is refused. The cost grows with the
table, not the transaction: a withdrawal's per-chunk progress transaction on a table of ~100,000
items took seconds each and the copies held tens of GB (the 10,000-device benchmark was OOM-killed
at 21 GB). DynamoDB's own cost is per item written. Under the lock above nothing else runs during
a transaction, so saving what the transaction can change (each named item, and the length of each
table's stream) and putting exactly that back on a refusal gives the same outcome: moto still
checks, applies and refuses the items with its own code.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import json
import threading
import time
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
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
    transactions_save_only_their_items()


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


_TRANSACTION = threading.local()


class _TablesNotCopied:
    """The ``copy`` module as moto's backend sees it: a Table is not copied inside a transaction."""

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table) and getattr(_TRANSACTION, "active", False):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def transactions_save_only_their_items() -> None:
    """Roll a refused TransactWriteItems back from its own items, not copies of its tables; idempotent."""
    original = DynamoDBBackend.transact_write_items
    if getattr(original, _MARK, False):
        return
    dynamodb_models.copy = _TablesNotCopied()  # type: ignore[assignment]

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved = _save_items(self, transact_items)
        streams = {
            id(table): (table, len(table.stream_shard.items))
            for table, _, _, _ in saved
            if table.stream_shard is not None
        }
        _TRANSACTION.active = True
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_value, range_value, item in reversed(saved):
                _restore(table, hash_value, range_value, item)
            for table, length in streams.values():
                if table.stream_shard is not None:
                    del table.stream_shard.items[length:]
            raise
        finally:
            _TRANSACTION.active = False

    setattr(transact_write_items, _MARK, True)
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


_Saved = tuple[Table, DynamoType, "DynamoType | None", Any]


def _save_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Saved]:
    """A copy of each item the transaction names (None where there is none yet), in order.

    An operation whose table or key is malformed is skipped: moto refuses it before it writes it.
    """
    saved: list[_Saved] = []
    for entry in transact_items:
        try:
            (op_type, op), *_ = entry.items()
            table = backend.tables[op["TableName"]]
            key = op["Item"] if op_type == "Put" else op["Key"]
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            current = table.get_item(hash_value, range_value)
        except Exception:  # noqa: BLE001, S112 - moto refuses this operation with its own, precise error
            continue
        saved.append((table, hash_value, range_value, copy.deepcopy(current)))
    return saved


def _restore(table: Table, hash_value: DynamoType, range_value: DynamoType | None, item: Any) -> None:
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        return
    partition = table.items[hash_value]
    if item is None:
        partition.pop(range_value, None)
        if not partition:
            del table.items[hash_value]
    else:
        partition[range_value] = item
