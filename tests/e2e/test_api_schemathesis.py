"""schemathesis over HTTP against the local stack: the OpenAPI document is what the API does.

Every operation of docs/openapi.json is called with generated valid and invalid requests, once
with each role's token and once with none, and each response is checked by schemathesis'
standard checks: no server error, a documented status, a documented content type, a body that
matches the documented schema, invalid data refused and valid data accepted. There must be no
failure at all.

Opaque values only the server can mint are the one thing a generator cannot invent: a list's
``cursor`` and a fresh ``Idempotency-Key``. For valid cases the test puts a real cursor of that
list (or none) and a new key in their place, so "valid data is accepted" tests what it claims;
invalid cases keep what schemathesis generated. ``CONTRACT_FUZZ_EXAMPLES`` raises the number of
examples per operation (``make fuzz-api``); the default keeps ``make test`` within a few minutes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from content_service.client import ApiClient
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build
from tests.logos import png

pytestmark = pytest.mark.xdist_group("schemathesis")

OPENAPI = Path(__file__).parents[2] / "docs" / "openapi.json"
TENANT = "tenant-fuzz"
ROLES = ["learner", "author", "catalog", "admin", "none"]
EXAMPLES = int(os.environ.get("CONTRACT_FUZZ_EXAMPLES", "6"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20261202,
        "generation": {"mode": "all", "max-examples": EXAMPLES},
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_path(OPENAPI, config=CONFIG)


class World:
    """The running stack, a token per role, and what valid cases need that only the server mints."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.tokens: dict[str, str | None] = {
            "learner": stack.mint_token(TENANT, "learner-1"),
            "author": stack.mint_token(TENANT, "author-1", roles=["author"]),
            "catalog": stack.mint_service_token(TENANT, "catalog", ["catalog"]),
            "admin": stack.mint_token(TENANT, "admin-1", roles=["admin"]),
            "none": None,
        }
        self.cursors: dict[tuple[str, str], str | None] = {}

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens[role]
        return {"Authorization": f"Bearer {token}"} if token else {}

    def cursor(self, role: str, path: str) -> str | None:
        """A real cursor of the list at ``path`` for ``role`` (None when its list fits one page)."""
        if (role, path) not in self.cursors:
            reply = requests.get(
                f"{self.stack.api_url}{path}", params={"limit": 1}, headers=self.headers(role), timeout=30
            )
            self.cursors[role, path] = reply.json().get("next_cursor") if reply.ok else None
        return self.cursors[role, path]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with LocalStack(
        home=tmp_path_factory.mktemp("schemathesis-home"),
        runner_settings=RunnerSettings(schedules_enabled=False),
    ) as stack:
        world = World(stack)
        author = ApiClient(stack.api_url, world.tokens["author"] or "")
        for _ in range(2):  # two packages, so the package list has a second page and a cursor
            upload_and_build(author, sample_zip_bytes("welcome"))
        # Branded with a logo, so a valid logo upload (schemathesis writes real image headers) can
        # succeed and the logo's bytes can be read back, not only refused with a 409 / 404.
        admin = ApiClient(stack.api_url, world.tokens["admin"] or "")
        admin._request("PATCH", "/v1/tenant/settings", json={"branding": {"name": "Fuzz", "primary_colour": "#000000"}})
        admin._request("PUT", "/v1/tenant/branding/logo", data=png(), headers={"Content-Type": "image/png"})
        yield world


def _with_server_minted_values(case: Any, world: World, role: str) -> None:
    if not case.meta.generation.mode.is_positive:
        return
    if case.query and "cursor" in case.query and case.path_parameters in (None, {}):
        cursor = world.cursor(role, case.path)
        if cursor is None:
            del case.query["cursor"]
        else:
            case.query["cursor"] = cursor
    elif case.query and "cursor" in case.query:
        # A device's feed cursor is bound to that device; a generated device has none.
        del case.query["cursor"]
    for name in list(case.headers or {}):
        if name.lower() == "idempotency-key":
            case.headers[name] = uuid.uuid4().hex


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
def test_every_operation_keeps_its_contract(case: Any, role: str, world: World) -> None:
    _with_server_minted_values(case, world, role)
    case.call_and_validate(base_url=world.stack.api_url, headers=world.headers(role), checks=CHECKS)
