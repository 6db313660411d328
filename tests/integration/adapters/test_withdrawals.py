"""The holder index and the withdrawal progress record on moto (table from template.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from content_service.adapters.withdrawals import DynamoHolderIndex, DynamoWithdrawalLog
from content_service.domain.withdrawal import Holder, WithdrawalChunk, WithdrawalProgress, WithdrawalState

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def table(aws_template):
    return aws_template.tables["Table"].name


def chunk(number: int) -> WithdrawalChunk:
    return WithdrawalChunk("t", "pkg", 1, "takedown", number, (Holder(f"b{number}", "u"),))


def test_holders_are_listed_per_version_across_pages_and_written_idempotently(table):
    index = DynamoHolderIndex(boto3.client("dynamodb"), table)
    for i in range(1200):
        index.add("t", "pkg", 1, Holder(f"bnd_{i:05d}_{'x' * 900}", f"user-{i}"))
    index.add("t", "pkg", 1, Holder(f"bnd_{0:05d}_{'x' * 900}", "user-0"))
    index.add("t", "pkg", 2, Holder("other-version", "u"))
    holders = index.holders("t", "pkg", 1)
    assert len(holders) == 1200 and holders[0].user_id == "user-0"
    assert index.holders("t", "pkg", 2) == [Holder("other-version", "u")]
    assert index.holders("other-tenant", "pkg", 1) == []


def test_a_chunk_counts_once_and_the_last_one_stamps_completion(table):
    log = DynamoWithdrawalLog(boto3.client("dynamodb"), table)
    assert log.get("t", "pkg", 1) is None
    log.start(WithdrawalProgress("t", "pkg", 1, "takedown", started_at=NOW))
    log.start(WithdrawalProgress("t", "pkg", 1, "another reason", started_at=NOW))
    assert log.get("t", "pkg", 1).state is WithdrawalState.PLANNING

    log.chunk_done(chunk(0), 1, 5, NOW)  # a chunk faster than the planner's totals
    log.planned("t", "pkg", 1, bundles=2, chunks=2, now=NOW)
    assert log.get("t", "pkg", 1).state is WithdrawalState.FANNING_OUT
    log.chunk_done(chunk(0), 1, 5, NOW)  # redelivered
    log.chunk_done(chunk(-1), 1, 5, NOW)  # a late bundle: outside the plan
    log.chunk_done(chunk(1), 1, 4, NOW)

    progress = log.get("t", "pkg", 1)
    assert progress.state is WithdrawalState.DONE and progress.completed_at == NOW
    assert (progress.reason, progress.chunks_done, progress.bundles_revoked, progress.devices_notified) == (
        "takedown",
        2,
        2,
        9,
    )


def test_a_planner_that_finds_nobody_completes_the_withdrawal_itself(table):
    log = DynamoWithdrawalLog(boto3.client("dynamodb"), table)
    log.start(WithdrawalProgress("t", "empty", 1, "takedown", started_at=NOW))
    log.planned("t", "empty", 1, bundles=0, chunks=0, now=NOW)
    assert log.get("t", "empty", 1).state is WithdrawalState.DONE
    assert log.get("t", "empty", 1).completed_at == NOW
