"""Idempotency of creating calls (Powertools idempotency on DynamoDB), scoped to the caller.

A creating call is keyed by the operation, the caller's tenant, the calling principal and its
``Idempotency-Key`` header: the same key from another principal is another request, so one caller
can never replay another's result. The same principal reusing a key with another body or another
path is refused with a 422 that names which one differs. Powertools stores and replays the result;
the comparison is ours, because Powertools' payload check keeps one hash and cannot say which part
changed: the stored result carries the path and a digest of the body it was made for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from content_service.bootstrap import dependencies
from content_service.domain.errors import PROBLEM_BASE, DomainError
from content_service.domain.principal import Principal
from content_service.migrations.kinds import stamped

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{8,128}$"

Creator = Callable[[dict[str, Any]], dict[str, Any]]


class IdempotencyKeyReused(DomainError):
    problem_type = PROBLEM_BASE + "idempotency-key-reused"
    title = "Idempotency-Key reused with a different request"
    status = 422


@lru_cache(maxsize=1)
def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[operation, tenant_id, principal_type, principal_id, idempotency_key]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=24 * 3600,
    )


@lru_cache(maxsize=1)
def _persistence() -> DynamoDBPersistenceLayer:
    settings = dependencies().settings
    client = boto3.client("dynamodb", region_name=settings.aws_region)
    # Powertools builds its records itself; the client stamps each one it puts with its kind and
    # schema version, as every other item of the service is stamped (content_service.migrations.kinds).
    client.meta.events.register("before-parameter-build.dynamodb.PutItem", _stamp_record)
    return DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name, boto3_client=client)


def _stamp_record(params: dict[str, Any], **_: Any) -> None:
    params["Item"] = stamped({**params["Item"], "entity": {"S": "idempotency"}})


def body_digest(body: dict[str, Any]) -> str:
    """A stable SHA-256 of a JSON body (keys sorted), what a replay is compared against."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_once(
    operation: str, create: Creator, *, principal: Principal, key: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Run ``create`` at most once per (operation, tenant, principal, key); replay its result after.

    Raises :class:`IdempotencyKeyReused` if the first request with this key had another path or body.
    """

    def create_and_remember(request: dict[str, Any]) -> dict[str, Any]:
        return {"result": create(request), "path": request["path"], "body_sha256": request["body_sha256"]}

    guarded = idempotent_function(
        data_keyword_argument="request", persistence_store=_persistence(), config=idempotency_config()
    )(create_and_remember)
    digest = body_digest(body)
    stored = guarded(
        request={
            "operation": operation,
            "tenant_id": principal.tenant_id,
            "principal_type": principal.kind.value,
            "principal_id": principal.principal_id,
            "idempotency_key": key,
            "path": path,
            "body": body,
            "body_sha256": digest,
        }
    )
    if stored["path"] != path:
        raise IdempotencyKeyReused(
            f"this Idempotency-Key was first used on {stored['path']}, not {path}; use a new key",
            differs="path",
        )
    if stored["body_sha256"] != digest:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was first used with another body; use a new key for a new request",
            differs="body",
        )
    return stored["result"]
