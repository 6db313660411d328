"""The local DynamoDB answers a base-table Query from the queried partition (moto reads the whole
table for each one) with exactly the items, order and pages moto's full read gives."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.dynamodb.models.table import Table

from content_service.local.moto_dynamodb import _MARK
from content_service.local.moto_server import MotoServer
from tests.integration.local.conftest import create_pk_sk_table

TABLE = "partitions"


@pytest.fixture(scope="module")
def dynamodb(module_moto_server: MotoServer) -> Any:
    client = boto3.client("dynamodb")
    create_pk_sk_table(
        client,
        TABLE,
        more_attributes=("g",),
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for p in range(12):
        for s in range(15):
            client.put_item(
                TableName=TABLE,
                Item={
                    "pk": {"S": f"P#{p:02d}"},
                    "sk": {"S": f"{'A' if s % 2 else 'B'}#{s:03d}"},
                    "n": {"N": str(s)},
                    "g": {"S": f"G#{s % 3}"},
                },
            )
    return client


def scanned(client: Any) -> list[dict[str, Any]]:
    """Every item, read by Scan (which the shim leaves to moto)."""
    items: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"TableName": TABLE}
    while True:
        page = client.scan(**arguments)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def pages(client: Any, **arguments: Any) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = []
    while True:
        page = client.query(TableName=TABLE, **arguments)
        out.append(page["Items"])
        if "LastEvaluatedKey" not in page:
            return out
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_the_shim_is_installed_by_the_local_moto_server(dynamodb: Any) -> None:
    assert getattr(Table.query, _MARK, False)


def test_a_partition_query_gives_that_partition_in_order(dynamodb: Any) -> None:
    expected = sorted((i for i in scanned(dynamodb) if i["pk"]["S"] == "P#05"), key=lambda i: i["sk"]["S"])
    got = pages(dynamodb, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#05"}})
    assert [i for page in got for i in page] == expected
    assert len(expected) == 15


def test_range_conditions_paging_and_direction_match_the_full_read(dynamodb: Any) -> None:
    everything = scanned(dynamodb)
    expected = sorted(
        (i for i in everything if i["pk"]["S"] == "P#07" and i["sk"]["S"].startswith("A#")),
        key=lambda i: i["sk"]["S"],
        reverse=True,
    )
    got = pages(
        dynamodb,
        KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
        ExpressionAttributeValues={":p": {"S": "P#07"}, ":a": {"S": "A#"}},
        ScanIndexForward=False,
        Limit=3,
    )
    assert [len(page) for page in got[:-1]] == [3] * (len(got) - 1)
    assert [i for page in got for i in page] == expected

    between = pages(
        dynamodb,
        KeyConditionExpression="pk = :p AND sk BETWEEN :low AND :high",
        FilterExpression="n > :five",
        ExpressionAttributeValues={
            ":p": {"S": "P#02"},
            ":low": {"S": "B#000"},
            ":high": {"S": "B#012"},
            ":five": {"N": "5"},
        },
    )
    assert [i["sk"]["S"] for page in between for i in page] == ["B#006", "B#008", "B#010", "B#012"]


def test_an_absent_partition_is_empty_and_index_queries_still_read_the_index(dynamodb: Any) -> None:
    assert pages(
        dynamodb, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#99"}}
    ) == [[]]
    by_index = pages(
        dynamodb,
        IndexName="by_g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "G#1"}},
    )
    items = [i for page in by_index for i in page]
    assert len(items) == 12 * 5
    assert {i["pk"]["S"] for i in items} == {f"P#{p:02d}" for p in range(12)}
