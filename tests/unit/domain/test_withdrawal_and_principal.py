"""Withdrawal ids and chunks, and the principal's roles: pinned values, exact edges."""

from __future__ import annotations

import hashlib
import re

import pytest

from content_service.domain.errors import ValidationFailed
from content_service.domain.principal import Principal, PrincipalKind, Role
from content_service.domain.withdrawal import (
    Holder,
    WithdrawalChunk,
    chunked,
    feed_event_id,
    withdrawal_id,
)


def test_withdrawal_and_feed_event_ids_are_pinned_hashes() -> None:
    expected = "wdr_" + hashlib.sha256(b"t1\x00pkg\x003").hexdigest()[:32]
    assert withdrawal_id("t1", "pkg", 3) == expected
    assert len(expected) == 36
    assert feed_event_id(expected, "bnd_1") == "evt_" + hashlib.sha256(f"{expected}\x00bnd_1".encode()).hexdigest()[:32]
    assert withdrawal_id("t1", "pkg", 3) != withdrawal_id("t1", "pkg", 4)


def holders(count: int) -> list[Holder]:
    return [Holder(f"b{i}", f"u{i}") for i in range(count)]


def test_holders_are_chunked_in_order_and_numbered_from_zero() -> None:
    chunks = list(chunked("t1", "pkg", 3, "recall", holders(5), 2))
    assert [c.number for c in chunks] == [0, 1, 2]
    assert [len(c.holders) for c in chunks] == [2, 2, 1]
    assert [h for c in chunks for h in c.holders] == holders(5)
    assert (chunks[0].tenant_id, chunks[0].package_id, chunks[0].version, chunks[0].reason) == ("t1", "pkg", 3, "recall")
    assert [len(c.holders) for c in chunked("t1", "pkg", 3, "r", holders(4), 2)] == [2, 2]
    assert list(chunked("t1", "pkg", 3, "r", [], 2)) == []
    assert [len(c.holders) for c in chunked("t1", "pkg", 3, "r", holders(3), 1)] == [1, 1, 1]
    with pytest.raises(ValueError, match="^a chunk holds at least one bundle$"):
        list(chunked("t1", "pkg", 3, "r", holders(3), 0))


def test_a_chunk_message_round_trips_and_anything_else_is_refused() -> None:
    chunk = WithdrawalChunk("t1", "pkg", 3, "recall", 4, (Holder("b1", "u1"),))
    data = chunk.as_dict()
    assert data == {"v": 1, "tenant_id": "t1", "package_id": "pkg", "version": 3, "reason": "recall", "number": 4,
                    "holders": [["b1", "u1"]]}
    assert WithdrawalChunk.from_dict(data) == chunk
    assert WithdrawalChunk.from_dict({**data, "version": "3", "number": "4"}) == chunk
    assert chunk.withdrawal_id == withdrawal_id("t1", "pkg", 3)
    with pytest.raises(ValidationFailed, match="^" + re.escape("not a withdrawal chunk: chunk format 2") + "$"):
        WithdrawalChunk.from_dict({**data, "v": 2})
    for bad in ({k: v for k, v in data.items() if k != "reason"}, {**data, "holders": [["b1"]]}, None,
                {**data, "version": "x"}):
        with pytest.raises(ValidationFailed, match="^not a withdrawal chunk: "):
            WithdrawalChunk.from_dict(bad)


def test_a_person_is_always_a_learner_and_a_service_only_what_its_scopes_grant() -> None:
    person = Principal.user("t1", "u1", Role.AUTHOR)
    assert person == Principal("t1", "u1", PrincipalKind.USER, frozenset({Role.LEARNER, Role.AUTHOR}))
    service = Principal.service("t1", "client", Role.CATALOG)
    assert service == Principal("t1", "client", PrincipalKind.SERVICE, frozenset({Role.CATALOG}))
    assert Principal.service("t1", "client").roles == frozenset()
    assert service.is_tenant_wide and not person.is_tenant_wide
    assert person.may_act_for("u1") and not person.may_act_for("u2") and service.may_act_for("u2")
    assert Principal.user("t1", "u1", Role.ADMIN).is_tenant_wide
