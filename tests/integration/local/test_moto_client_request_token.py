"""The local DynamoDB honours TransactWriteItems' ClientRequestToken as DynamoDB does (moto does not)."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from content_service.local.moto_server import MotoServer

TABLE = "tokens"


@pytest.fixture
def dynamodb(moto_server: MotoServer) -> object:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def claim(pk: str, value: str = "1") -> list[dict]:
    return [
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"pk": {"S": pk}, "v": {"S": value}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]


def test_a_committed_transaction_repeated_with_its_token_succeeds_without_writing_again(dynamodb) -> None:
    token = str(uuid.uuid4())
    dynamodb.transact_write_items(TransactItems=claim("a"), ClientRequestToken=token)
    # The SDK's retry of a commit whose answer was lost: the same token and items succeed
    dynamodb.transact_write_items(TransactItems=claim("a"), ClientRequestToken=token)
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})["Item"]["v"] == {"S": "1"}
    # Without a token (or with another) the same items are a new request, and the condition refuses
    for other in ({}, {"ClientRequestToken": str(uuid.uuid4())}):
        with pytest.raises(ClientError) as refused:
            dynamodb.transact_write_items(TransactItems=claim("a"), **other)
        assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_the_same_token_with_other_items_is_a_mismatch(dynamodb) -> None:
    token = str(uuid.uuid4())
    dynamodb.transact_write_items(TransactItems=claim("b"), ClientRequestToken=token)
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=claim("b", "2"), ClientRequestToken=token)
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "b"}})["Item"]["v"] == {"S": "1"}


def test_a_refused_transaction_is_evaluated_again_on_retry(dynamodb) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "c"}, "v": {"S": "0"}})
    token = str(uuid.uuid4())
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=claim("c"), ClientRequestToken=token)
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "c"}})
    dynamodb.transact_write_items(TransactItems=claim("c"), ClientRequestToken=token)
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "c"}})["Item"]["v"] == {"S": "1"}
