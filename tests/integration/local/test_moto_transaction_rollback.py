"""A refused TransactWriteItems on the local DynamoDB leaves the table exactly as it was (moto's
deep copies of whole tables are replaced by copies of the items the transaction names).

Run over real HTTP against the moto server, with a stream on the table: a refused transaction
must undo its puts, in-place updates and deletes, leave no stream records, and not copy the table
(its untouched items stay the very objects they were)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.backends import get_backend
from moto.dynamodb.models.dynamo_type import DynamoType

from content_service.local.moto_server import MotoServer
from tests.integration.local.conftest import create_pk_sk_table

TABLE = "transactions"
ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def dynamodb(moto_server: MotoServer) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    create_pk_sk_table(
        client, TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    )
    for pk in ("A", "B", "C", "UNTOUCHED"):
        client.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": "1"}, "n": {"N": "1"}})
    return client


def moto_table() -> Any:
    return get_backend("dynamodb")[ACCOUNT][REGION].tables[TABLE]


def everything(client: Any) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=TABLE, ConsistentRead=True)["Items"], key=lambda i: i["pk"]["S"])


def key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "1"}}


def refused_transaction() -> list[dict[str, Any]]:
    """Four writes that moto applies in order, the last of which is refused."""
    return [
        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "NEW"}, "sk": {"S": "1"}}}},
        {
            "Update": {
                "TableName": TABLE,
                "Key": key("A"),
                "UpdateExpression": "SET n = n + :one, added = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Delete": {"TableName": TABLE, "Key": key("B")}},
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"pk": {"S": "C"}, "sk": {"S": "1"}, "n": {"N": "9"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]


def test_a_refused_transaction_undoes_its_puts_updates_and_deletes(dynamodb: Any) -> None:
    before = everything(dynamodb)
    records_before = len(moto_table().stream_shard.items)
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=refused_transaction())
    reasons = [r["Code"] for r in refused.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert everything(dynamodb) == before
    assert len(moto_table().stream_shard.items) == records_before, "a refused write leaves no stream record"


def test_a_refused_transaction_does_not_copy_the_table(dynamodb: Any) -> None:
    table = moto_table()
    untouched = table.items[DynamoType({"S": "UNTOUCHED"})][DynamoType({"S": "1"})]
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=refused_transaction())
    assert moto_table() is table
    assert table.items[DynamoType({"S": "UNTOUCHED"})][DynamoType({"S": "1"})] is untouched


def test_a_committed_transaction_writes_every_item_and_its_stream_records(dynamodb: Any) -> None:
    records_before = len(moto_table().stream_shard.items)
    dynamodb.transact_write_items(TransactItems=refused_transaction()[:3])
    items = {i["pk"]["S"]: i for i in everything(dynamodb)}
    assert set(items) == {"A", "C", "NEW", "UNTOUCHED"}
    assert items["A"]["n"] == {"N": "2"} and items["A"]["added"] == {"N": "1"}
    assert len(moto_table().stream_shard.items) == records_before + 3


def test_a_malformed_transaction_is_refused_and_changes_nothing(dynamodb: Any) -> None:
    before = everything(dynamodb)
    twice = [
        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "NEW"}, "sk": {"S": "1"}}}},
        {"Delete": {"TableName": TABLE, "Key": key("NEW")}},
    ]
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=twice)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert everything(dynamodb) == before
