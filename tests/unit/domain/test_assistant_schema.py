"""The assistant configuration's JSON Schema and the package-only reference rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from content_service.domain.assistant_schema import (
    AssistantConfigInvalid,
    config_schema,
    reference_errors,
    schema_errors,
    validate_config,
)
from tests.unit.domain.test_assistant import a_config

PATHS = frozenset({"Etiquette/Play.html", "index.html", "images/logo.svg"})
ROOT = Path(__file__).resolve().parents[3]


def test_the_schema_is_a_valid_2020_12_schema_and_a_good_config_passes():
    Draft202012Validator.check_schema(config_schema())
    assert validate_config(a_config(), PATHS) == a_config()


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda c: c.pop("summary"), "/: 'summary' is a required property"),
        (lambda c: c.update(summary="short"), "/summary"),
        (lambda c: c.update(key_terms=[]), "/key_terms"),
        (lambda c: c["reading_level"].update(band="expert"), "/reading_level/band"),
        (lambda c: c.update(language="not a tag"), "/language"),
        (lambda c: c.update(extra="field"), "Additional properties"),
        (lambda c: c["questions"][0].update(question=7), "/questions/0/question"),
    ],
)
def test_a_config_that_breaks_the_schema_is_refused_with_a_pointer(change, pointer):
    config = a_config()
    change(config)
    errors = schema_errors(config)
    assert any(pointer in error for error in errors), errors
    with pytest.raises(AssistantConfigInvalid):
        validate_config(config, PATHS)


@pytest.mark.parametrize(
    "text",
    [
        "See https://evil.example/golf for more.",
        "Visit www.example.com today.",
        "Write to mailto:someone@example.com now.",
        "Download notes/golf-rules.pdf first.",
        "Open cheatsheet.pdf while you read.",
        "Run javascript:alert(1) in the console.",
    ],
)
def test_text_that_names_a_url_or_a_file_outside_the_package_is_refused(text):
    config = a_config()
    config["questions"][0]["answer_hint"] = text
    assert reference_errors(config, PATHS)
    with pytest.raises(AssistantConfigInvalid, match="refused"):
        validate_config(config, PATHS)


def test_naming_a_file_of_the_package_is_allowed_and_a_source_must_be_one():
    config = a_config()
    config["questions"][0]["answer_hint"] = "Etiquette/Play.html and index.html explain it."
    assert reference_errors(config, PATHS) == []
    config["key_terms"][0]["source"] = "Etiquette/Missing.html"
    assert reference_errors(config, PATHS) == [
        "/key_terms/0/source: 'Etiquette/Missing.html' is not a file of the package"
    ]


def test_the_schema_in_the_docs_is_the_one_the_code_validates_with():
    documented = ROOT / "docs" / "schemas" / "assistant-config.v1.json"
    assert json.loads(documented.read_text(encoding="utf-8")) == config_schema()
