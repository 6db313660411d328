"""Idempotency of creating calls (Powertools idempotency on DynamoDB).

A creating call is keyed by the caller's tenant and its ``Idempotency-Key`` header: the same key
with the same body returns the first result; the same key with another body is refused
(IdempotencyValidationError → 422 in the API's error mapping).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from content_service.bootstrap import dependencies

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{8,128}$"

Creator = Callable[[dict[str, Any]], dict[str, Any]]


@lru_cache(maxsize=1)
def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[operation, tenant_id, idempotency_key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=24 * 3600,
    )


@lru_cache(maxsize=1)
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=dependencies().settings.idempotency_table_name)


def run_once(
    operation: str, create: Creator, *, tenant_id: str, user_id: str, key: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Run ``create`` at most once per (operation, tenant, Idempotency-Key); replay its result after."""
    guarded = idempotent_function(
        data_keyword_argument="request", persistence_store=_persistence(), config=idempotency_config()
    )(create)
    return guarded(
        request={
            "operation": operation,
            "tenant_id": tenant_id,
            "user_id": user_id,
            "idempotency_key": key,
            "body": body,
        }
    )
