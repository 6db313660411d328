"""Shared fixtures of the integration tests: moto in process, with template.yaml's own resources."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from content_service.local.resources import create_resources
from content_service.local.template import LocalTemplate, load_local_template

ROOT = Path(__file__).parents[2]


@pytest.fixture
def aws_template(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalTemplate]:
    """moto in process with every table, bucket, queue, key and secret that template.yaml declares."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        # In-process moto needs this for DynamoDB Streams (DESIGN.md, known moto differences).
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        template = load_local_template(ROOT / "template.yaml")
        create_resources(template)
        yield template
