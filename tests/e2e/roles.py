"""Clients with the roles the real callers have, for e2e tests that are not about authorization.

A learner's bundles are created and revoked by the catalog service (a client-credentials token with
the catalog scope), never by the learner: :class:`LearnerWithCatalog` is a learner's client whose
``create_bundle`` and ``revoke_bundle`` go through the catalog for that learner.
"""

from __future__ import annotations

import uuid
from typing import Any

from content_service.client import ApiClient
from content_service.local.stack import LocalStack


def author_client(stack: LocalStack, tenant: str, user: str = "author-1") -> ApiClient:
    return ApiClient(stack.api_url, stack.mint_token(tenant, user, roles=["author"]))


def admin_client(stack: LocalStack, tenant: str, user: str = "admin-1") -> ApiClient:
    return ApiClient(stack.api_url, stack.mint_token(tenant, user, roles=["admin"]))


def catalog_client(stack: LocalStack, tenant: str) -> ApiClient:
    return ApiClient(stack.api_url, stack.mint_service_token(tenant, "catalog", ["catalog"]))


class LearnerWithCatalog(ApiClient):
    """A learner's own client; the bundles it asks for are made by the catalog service."""

    def __init__(self, stack: LocalStack, tenant: str, user_id: str | None = None) -> None:
        self.user_id = user_id or f"learner-{uuid.uuid4().hex[:8]}"
        super().__init__(stack.api_url, stack.mint_token(tenant, self.user_id))
        self.catalog = catalog_client(stack, tenant)

    def create_bundle(
        self,
        packages: list[dict[str, Any]],
        idempotency_key: str,
        residency_zone: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        return self.catalog.create_bundle(
            packages, idempotency_key, residency_zone, user_id=user_id or self.user_id
        )

    def revoke_bundle(self, bundle_id: str, reason: str) -> dict[str, Any]:
        return self.catalog.revoke_bundle(bundle_id, reason)
