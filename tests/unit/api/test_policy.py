"""The policy table and its enforcement: every route has an entry, roles are checked first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from content_service.api import app as api
from content_service.api import authorization
from content_service.api.policy import POLICIES, Ownership, PolicyMissing, require_policy_for, require_role
from content_service.domain.errors import Forbidden
from content_service.domain.principal import Principal, Role
from tests.unit.api.test_routes import call


def test_every_route_of_the_app_has_exactly_one_policy_entry():
    assert sorted(authorization.operation_ids(api.app)) == sorted(POLICIES)


def test_an_app_with_a_route_that_has_no_policy_entry_refuses_to_start():
    app = APIGatewayRestResolver(enable_validation=True)

    @app.get("/v1/unguarded", operation_id="unguarded")
    def unguarded() -> dict:
        return {}

    with pytest.raises(PolicyMissing, match="unguarded"):
        authorization.install(app)


def test_a_policy_entry_without_a_route_is_refused_too():
    with pytest.raises(PolicyMissing, match="policy entries without a route"):
        require_policy_for([op for op in POLICIES if op != "get_jwks"])


@pytest.mark.parametrize(
    ("principal", "operation", "allowed"),
    [
        (Principal.user("t", "alice"), "revoke_bundle", False),
        (Principal.user("t", "alice"), "create_bundle", False),
        (Principal.user("t", "alice"), "create_upload", False),
        (Principal.user("t", "alice"), "enroll_device", True),
        (Principal.user("t", "ann", Role.AUTHOR), "create_upload", True),
        (Principal.user("t", "ann", Role.AUTHOR), "create_export", False),
        (Principal.service("t", "catalog", Role.CATALOG), "create_bundle", True),
        (Principal.service("t", "catalog", Role.CATALOG), "enroll_device", False),
        (Principal.service("t", "catalog", Role.CATALOG), "issue_licence", False),
        (Principal.user("t", "root", Role.ADMIN), "create_export", True),
        (Principal.user("t", "root", Role.ADMIN), "revoke_device", True),
    ],
)
def test_roles_decide_who_may_call_an_operation(principal, operation, allowed):
    if allowed:
        require_role(principal, operation)
    else:
        with pytest.raises(Forbidden):
            require_role(principal, operation)


def test_device_bound_operations_are_owner_only_whatever_the_role():
    owner_only = {op for op, policy in POLICIES.items() if policy.ownership is Ownership.OWNER_ONLY}
    assert owner_only == {
        "issue_licence",
        "download_bundle",
        "report_tamper",
        "sync_device",
        "report_device_signal",
    }


def test_a_caller_without_the_role_gets_a_403_before_its_request_is_validated():
    revoke = "/v1/bundles/bnd_" + "0" * 32 + "/revoke"
    status, _, body = call("POST", revoke, body={"not": "valid"}, roles="learner")
    assert status == 403
    assert body["type"].endswith("/forbidden") and body["required_roles"] == ["admin", "catalog"]


def test_a_context_without_a_usable_tenant_is_a_401():
    assert call("GET", "/v1/packages", tenant="../other#tenant", roles="author")[0] == 401


def test_the_openapi_document_carries_each_operations_roles_and_the_bearer_scheme():
    document = json.loads(api.openapi_document())
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    revoke = document["paths"]["/v1/bundles/{bundle_id}/revoke"]["post"]
    assert revoke["x-roles"] == ["admin", "catalog"] and revoke["security"] == [{"bearer": []}]
    assert document["paths"]["/v1/.well-known/jwks.json"]["get"]["security"] == []


def test_docs_api_md_shows_the_policy_table_the_code_enforces():
    text = (Path(__file__).parents[3] / "docs" / "api.md").read_text()
    shown = text.split("<!-- policy-table:start -->\n", 1)[1].split("<!-- policy-table:end -->", 1)[0]
    assert shown.strip() == api.policy_table().strip(), "docs/api.md's policy table is stale"
