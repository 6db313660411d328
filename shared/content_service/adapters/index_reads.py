"""Reads through the table's keys-only indexes (gsi1, gsi2).

The indexes project only keys (template.yaml). DynamoDB writes an index entry only when an item
enters or leaves the index or its index keys change, so the state changes of an aggregate that
stays in its lists (a bundle revoked, a licence record renewed under the same keys) cost no
index write: a withdrawal's revoking writes pay the bundle item alone, not three copies of it.
A read through an index therefore gets the keys, then the items themselves in one strongly
consistent BatchGetItem a page (pynamodb splits it by 100 keys and retries unprocessed ones).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.models import Model


def items_of(model: type[Model], hits: Iterable[Model], index_keys: tuple[str, ...]) -> list[Any]:
    """The table's items behind an index's keys-only ``hits``, in the index's order.

    An item that left the index since it was read (deleted, or its ``index_keys`` changed: a
    package no longer building) is not returned, as the index itself would not return it.
    """
    hash_name, range_name = model._hash_keyname, model._range_keyname
    hits = list(hits)
    if not hits:
        return []
    keys = [(getattr(hit, hash_name), getattr(hit, range_name)) for hit in hits]
    found = {
        (getattr(item, hash_name), getattr(item, range_name)): item
        for item in model.batch_get(keys, consistent_read=True)
    }
    return [
        found[key]
        for key, hit in zip(keys, hits, strict=True)
        if key in found and all(getattr(found[key], name) == getattr(hit, name) for name in index_keys)
    ]
