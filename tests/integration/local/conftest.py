"""Shared fixtures of the local-stack integration tests: moto's server over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from content_service.local.moto_server import MotoServer


def _serving() -> Iterator[MotoServer]:
    """A started moto server (its resources reset) with boto3's environment pointed at it; stopped,
    and the environment restored, when the fixture is torn down."""
    server = MotoServer()
    server.start()
    server.apply_environment()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto_server() -> Iterator[MotoServer]:
    """A moto server of the test's own: nothing one test writes is seen by the next."""
    yield from _serving()


@pytest.fixture(scope="module")
def module_moto_server() -> Iterator[MotoServer]:
    """One moto server for the module's tests, for data that is costly to write and only read."""
    yield from _serving()


def create_pk_sk_table(
    client: Any, name: str, *, more_attributes: tuple[str, ...] = (), **options: Any
) -> None:
    """An on-demand table keyed like the service's (string ``pk`` and ``sk``); ``more_attributes``
    are further string attributes for the indexes in ``options``."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"} for attribute in ("pk", "sk", *more_attributes)
        ],
        BillingMode="PAY_PER_REQUEST",
        **options,
    )
