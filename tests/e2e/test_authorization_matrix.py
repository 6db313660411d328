"""Every operation × every role × {own resource, another user's, another tenant's, no token}, over HTTP.

The cases are generated from docs/openapi.json and the policy table, so a new route is covered
without writing a test: its path parameters, query parameters and body are filled from the
resources below by name, and a field this suite cannot fill fails the run loudly. Each case gets
fresh resources (a device and a bundle of a fresh user), so a case that succeeds changes nothing
another case relies on. A refused call must change nothing: every resource the call could touch is
read back (with an admin token) and compared with what it was before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from content_service.api.policy import POLICIES, Ownership
from content_service.client import ApiClient
from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.domain.principal import Role
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build
from tests.logos import png

pytestmark = pytest.mark.xdist_group("authorization-matrix")

OPENAPI = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
TENANT, OTHER_TENANT = "tenant-a", "tenant-b"
ROLES = ["learner", "author", "catalog", "admin", "none"]
TARGETS = ["own", "other-user", "other-tenant"]
PATH_KINDS = {
    "device_id": "device",
    "bundle_id": "bundle",
    "package_id": "package",
    "export_id": "export",
    "generation_id": "assistant_generation",
}
#: Operations on a package version's withdrawal address a version withdrawn up front (a withdrawal
#: of the shared package would refuse every later case's bundle).
WITHDRAWAL_OPERATIONS = {"withdraw_package_version", "get_withdrawal"}
#: A residency migration would move the matrix's tenant away, and the local stack configures no
#: target zone: an allowed call is checked to get past the roles and fail on what comes after
#: (409: no zone to migrate to; 404: no such migration). tests/integration/functions has the 2xx.
MIGRATION_OPERATIONS = {"create_migration": 409, "get_migration": 404}
#: The logo operations act on the tenant's one logo: each case starts with it uploaded (an allowed
#: DELETE would otherwise leave every later GET a 404).
LOGO_OPERATIONS = {"put_branding_logo", "delete_branding_logo", "get_branding_logo"}
BRANDING = {"name": "Matrix", "primary_colour": "#0a5cff"}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def kinds(self) -> set[str]:
        """The kinds of resource the operation addresses (path parameters, required query ids)."""
        names = {p["name"] for p in self.spec.get("parameters", []) if p.get("required")}
        return {PATH_KINDS[name] for name in names if name in PATH_KINDS}


def operations() -> list[Operation]:
    return [
        Operation(spec["operationId"], method.upper(), path, spec)
        for path, methods in OPENAPI["paths"].items()
        for method, spec in methods.items()
    ]


def cases() -> Iterator[Any]:
    for operation in operations():
        targets = TARGETS if operation.kinds else ["own"]
        for role in ROLES:
            for target in targets:
                yield pytest.param(operation, role, target, id=f"{operation.operation_id}-{role}-{target}")


def expected_status(operation: Operation, role: str, target: str) -> int | str:
    """What the service must answer; ``"2xx"`` for a call the policy allows."""
    policy = POLICIES[operation.operation_id]
    if policy.public:
        return "2xx"
    if role == "none":
        return 401
    if not (_effective_roles(role) & policy.roles):
        return 403
    if target == "other-tenant":
        return 404
    tenant_wide = bool(_effective_roles(role) & {Role.CATALOG, Role.ADMIN})
    owned = operation.kinds & {"device", "bundle"}
    if target == "other-user" and owned and (policy.ownership is Ownership.OWNER_ONLY or not tenant_wide):
        return 404
    return MIGRATION_OPERATIONS.get(operation.operation_id, "2xx")


def _effective_roles(role: str) -> set[Role]:
    # People are always learners as well; the catalog principal is a service client with only its scope.
    if role == "catalog":
        return {Role.CATALOG}
    return {Role.LEARNER, Role(role)}


@dataclass
class World:
    stack: LocalStack
    packages: dict[str, str] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    assistant_configs: dict[str, str] = field(default_factory=dict)
    assistant_generations: dict[str, str] = field(default_factory=dict)
    withdrawn: dict[str, str] = field(default_factory=dict)
    shared: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def token(self, role: str, user: str, tenant: str = TENANT) -> str | None:
        if role == "none":
            return None
        if role == "catalog":
            return self.stack.mint_service_token(tenant, "catalog", [Role.CATALOG.value])
        roles = [] if role == "learner" else [role]
        return self.stack.mint_token(tenant, user, roles=roles)

    def call(self, token: str | None, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.stack.api_url + path, headers=headers, timeout=60, **kwargs)

    def admin(self, tenant: str) -> str:
        return self.token("admin", "root-admin", tenant)  # type: ignore[return-value]

    def catalog(self, tenant: str) -> str:
        return self.token("catalog", "", tenant)  # type: ignore[return-value]

    def resources(self, owner: str, tenant: str) -> dict[str, str]:
        """A fresh device and bundle of ``owner`` (enrolled by the owner, bundled by catalog)."""
        owner_token = self.stack.mint_token(tenant, owner)
        enrolled = self.call(
            owner_token, "POST", "/v1/devices", json={"public_key": device_public_jwk(generate_device_key())}
        )
        assert enrolled.status_code == 201, enrolled.text
        bundle = self.call(
            self.catalog(tenant),
            "POST",
            "/v1/bundles",
            json={"packages": [{"package_id": self.packages[tenant]}], "user_id": owner},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert bundle.status_code == 201, bundle.text
        return {
            "device": enrolled.json()["device_id"],
            "bundle": bundle.json()["bundle_id"],
            "package": self.packages[tenant],
            "export": self.exports[tenant],
            "assistant_config": self.assistant_configs[tenant],
            "assistant_generation": self.assistant_generations[tenant],
            "withdrawn": self.withdrawn[tenant],
            "user": owner,
            "tenant": tenant,
        }

    def shared_resources(self, owner: str, tenant: str) -> dict[str, str]:
        """One device and bundle of ``owner`` kept for every refused case (which must change nothing)."""
        key = (owner, tenant)
        if key not in self.shared:
            self.shared[key] = self.resources(owner, tenant)
        return dict(self.shared[key])

    def draft_assistant_config(self, tenant: str, package_id: str) -> str:
        """A fresh draft assistant config of the tenant's package (each approval needs its own draft)."""
        queued = self.call(
            self.admin(tenant),
            "POST",
            f"/v1/packages/{package_id}/assistant-configs",
            json={},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert queued.status_code == 202, queued.text
        self.assistant_generations[tenant] = queued.json()["generation_id"]
        job = ApiClient(self.stack.api_url, self.admin(tenant)).wait_for_assistant_generation(
            queued.json()["generation_id"], timeout=60, interval=0.1
        )
        assert job["state"] == "ready", job
        return job["config_id"]

    def upload_logo(self, tenant: str) -> None:
        """The tenant's branding with a logo (a logo belongs to a branding)."""
        admin = self.admin(tenant)
        assert self.call(admin, "PATCH", "/v1/tenant/settings", json={"branding": BRANDING}).status_code == 200
        uploaded = self.call(
            admin, "PUT", "/v1/tenant/branding/logo", data=png(), headers={"Content-Type": "image/png"}
        )
        assert uploaded.status_code == 200, uploaded.text

    def snapshot(self, target: dict[str, str]) -> dict[str, Any]:
        """Everything a call on ``target`` could change, read back with an admin token."""
        admin = self.admin(target["tenant"])
        reads = {
            "device": f"/v1/devices/{target['device']}",
            "bundle": f"/v1/bundles/{target['bundle']}",
            "package": f"/v1/packages/{target['package']}",
            "devices": f"/v1/devices?user_id={target['user']}",
            "bundles": f"/v1/bundles?user_id={target['user']}",
            # The tenant's settings hold its branding and logo (a refused logo upload changes neither).
            "settings": "/v1/tenant/settings",
        }
        seen = {}
        for name, path in reads.items():
            response = self.call(admin, "GET", path)
            assert response.status_code == 200, (path, response.text)
            seen[name] = response.json()
        return seen


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with LocalStack(
        home=tmp_path_factory.mktemp("authz-home"), runner_settings=RunnerSettings(schedules_enabled=False)
    ) as stack:
        world = World(stack)
        for tenant in (TENANT, OTHER_TENANT):
            author = ApiClient(stack.api_url, stack.mint_token(tenant, "author-1", roles=["author"]))
            package = upload_and_build(author, sample_zip_bytes("welcome"))
            world.packages[tenant] = package["package_id"]
            export = world.call(
                world.admin(tenant),
                "POST",
                f"/v1/packages/{package['package_id']}/exports",
                json={"format": "scorm12"},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert export.status_code == 202, export.text
            world.exports[tenant] = export.json()["export_id"]
            world.assistant_configs[tenant] = world.draft_assistant_config(tenant, package["package_id"])
            withdrawn = upload_and_build(author, sample_zip_bytes("welcome"))
            withdrawal = world.call(
                world.admin(tenant),
                "POST",
                f"/v1/packages/{withdrawn['package_id']}/versions/1/revoke",
                json={"reason": "authorization matrix"},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert withdrawal.status_code == 202, withdrawal.text
            world.withdrawn[tenant] = withdrawn["package_id"]
        yield world


def fill(schema: dict[str, Any], name: str, target: dict[str, str]) -> Any:
    """A valid value for a body field or parameter, chosen by its name (then its schema)."""
    by_name = {
        "device_id": target["device"],
        "bundle_id": target["bundle"],
        "package_id": target["package"],
        "export_id": target["export"],
        "config_id": target["assistant_config"],
        "generation_id": target["assistant_generation"],
        "user_id": target["user"],
        "public_key": device_public_jwk(generate_device_key()),
        "reason": "authorization matrix",
        "version": 1,
        "content_type": "application/zip",
        "content_length": 1024,
        "packages": [{"package_id": target["package"]}],
        "format": "scorm12",
        "kind": "container",
        "target_zone": "us",
        "migration_id": "mig_" + "0" * 32,
        "idempotency-key": uuid.uuid4().hex,
    }
    if name.lower() in by_name:  # header names are case-insensitive
        return by_name[name.lower()]
    if name in by_name:
        return by_name[name]
    if "const" in schema:  # a field with one allowed value
        return schema["const"]
    if schema.get("enum"):  # a field with a few allowed values (a signal's type): any will do
        return schema["enum"][0]
    raise AssertionError(f"the authorization matrix cannot fill required field {name!r} ({schema}); add it")


def _resolve(ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref")
    if not ref:
        return ref_or_schema
    node: Any = OPENAPI
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def request_for(operation: Operation, target: dict[str, str]) -> dict[str, Any]:
    path, query, headers = operation.path, {}, {}
    if operation.operation_id in WITHDRAWAL_OPERATIONS:
        target = {**target, "package": target["withdrawn"]}
    for parameter in operation.spec.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            path = path.replace("{" + name + "}", str(fill(parameter.get("schema", {}), name, target)))
        elif parameter.get("required") and where == "query":
            query[name] = fill(parameter.get("schema", {}), name, target)
        elif parameter.get("required") and where == "header":
            headers[name] = fill(parameter.get("schema", {}), name, target)
    body = None
    raw = None
    content = operation.spec.get("requestBody", {}).get("content", {}).get("application/json")
    if "image/png" in operation.spec.get("requestBody", {}).get("content", {}):
        # A raw image body (the brand logo): a real PNG, which no schema field describes.
        raw = png()
        headers["Content-Type"] = "image/png"
    if content:
        schema = _resolve(content["schema"])
        body = {
            name: fill(_resolve(spec), name, target)
            for name, spec in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
        if operation.operation_id == "create_bundle":
            body["user_id"] = target["user"]
    return {"path": path, "params": query, "headers": headers, "json": body, "data": raw}


@pytest.mark.parametrize(("operation", "role", "target"), list(cases()))
def test_each_role_gets_exactly_what_the_policy_table_says(
    world: World, operation: Operation, role: str, target: str
) -> None:
    expected = expected_status(operation, role, target)
    tenant = OTHER_TENANT if target == "other-tenant" else TENANT
    if expected == "2xx":
        # An allowed call may change what it acts on: it gets a fresh device, bundle and draft.
        caller = f"caller-{uuid.uuid4().hex[:8]}"
        owner = caller if target == "own" and role != "catalog" else f"owner-{uuid.uuid4().hex[:8]}"
        resources = world.resources(owner, tenant)
        if operation.operation_id == "approve_assistant_config":
            # Approving is a draft's one-way step: every allowed case approves a draft of its own.
            resources["assistant_config"] = world.draft_assistant_config(tenant, resources["package"])
    else:
        # A refused call must change nothing (the snapshot below proves it), so refused cases share
        # one set of resources per owner: the matrix's cost is then mostly the allowed calls.
        # A service client owns no devices; its "own" is any user's resource of its tenant.
        caller = f"caller-{role}"
        owner = caller if target == "own" and role != "catalog" else "owner-shared"
        resources = world.shared_resources(owner, tenant)
    if operation.operation_id in LOGO_OPERATIONS:
        world.upload_logo(tenant)
    request = request_for(operation, resources)
    before = world.snapshot(resources)

    response = world.call(
        world.token(role, caller),
        operation.method,
        request["path"],
        params=request["params"],
        headers=request["headers"],
        json=request["json"],
        data=request["data"],
    )

    if expected == "2xx":
        assert 200 <= response.status_code < 300, response.text
    else:
        assert response.status_code == expected, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
        assert world.snapshot(resources) == before, "a refused call changed something"


def test_a_learner_lists_only_their_own_devices_and_bundles(world: World) -> None:
    alice, mallory = f"alice-{uuid.uuid4().hex[:6]}", f"mallory-{uuid.uuid4().hex[:6]}"
    mine = world.resources(alice, TENANT)
    theirs = world.resources(mallory, TENANT)
    token = world.token("learner", alice)
    bundles = world.call(token, "GET", "/v1/bundles").json()["items"]
    devices = world.call(token, "GET", "/v1/devices").json()["items"]
    assert [b["bundle_id"] for b in bundles] == [mine["bundle"]]
    assert [d["device_id"] for d in devices] == [mine["device"]]
    for path in (f"/v1/bundles?user_id={mallory}", f"/v1/devices?user_id={mallory}"):
        assert world.call(token, "GET", path).status_code == 403
    listed = world.call(world.catalog(TENANT), "GET", f"/v1/bundles?user_id={mallory}").json()["items"]
    assert [b["bundle_id"] for b in listed] == [theirs["bundle"]]


def test_a_replayed_idempotency_key_of_another_principal_is_another_request(world: World) -> None:
    owner = f"alice-{uuid.uuid4().hex[:6]}"
    resources = world.resources(owner, TENANT)
    key = uuid.uuid4().hex
    body = {"packages": [{"package_id": resources["package"]}], "user_id": owner}
    first = world.call(
        world.catalog(TENANT), "POST", "/v1/bundles", json=body, headers={"Idempotency-Key": key}
    )
    admin = world.call(
        world.admin(TENANT), "POST", "/v1/bundles", json=body, headers={"Idempotency-Key": key}
    )
    again = world.call(
        world.catalog(TENANT), "POST", "/v1/bundles", json=body, headers={"Idempotency-Key": key}
    )
    assert first.status_code == admin.status_code == again.status_code == 201
    assert again.json()["bundle_id"] == first.json()["bundle_id"] != admin.json()["bundle_id"]
    changed = world.call(
        world.catalog(TENANT),
        "POST",
        "/v1/bundles",
        json={**body, "residency_zone": "eu"},
        headers={"Idempotency-Key": key},
    )
    assert changed.status_code == 422 and changed.json()["differs"] == "body"
