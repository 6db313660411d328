"""The local extractive generator: a schema-valid configuration from each sample package's own text."""

from __future__ import annotations

import pytest

from content_service.adapters.ai.local import LocalExtractiveGenerator
from content_service.domain.assistant import canonical_sha256
from content_service.domain.assistant_ai import (
    GenerationParameters,
    GenerationRequest,
    NotEnoughText,
    Section,
    SourceDocument,
)
from content_service.domain.assistant_prompts import LOCAL_TEMPLATE
from content_service.domain.assistant_schema import validate_config
from tests.unit.adapters.ai_support import PACKAGES, SAMPLE_ZIPS, a_request

NAMES = ["welcome", *(str(p.relative_to(PACKAGES)) for p in SAMPLE_ZIPS)]
GOLF = "scorm12/golf_ContentPackagingSingleSCO_SCORM12.zip"


def text_of(name: str) -> str:
    """What the generator reads of a package: its documents' paths and text."""
    return canonical_sha256([[d.path, d.text, list(d.headings)] for d in a_request(name).documents])


@pytest.fixture(scope="module")
def generated() -> dict:
    # Several golf examples are the same course in other packagings (the same files and text), so
    # each distinct text is generated once; the generator is deterministic (tested below).
    generator = LocalExtractiveGenerator()
    by_text: dict[str, object] = {}
    for name in NAMES:
        key = text_of(name)
        if key not in by_text:
            by_text[key] = generator.generate(a_request(name))
    return {name: by_text[text_of(name)] for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_each_sample_package_gives_a_schema_valid_config_citing_only_its_files(generated, name):
    request = a_request(name)
    generation = generated[name]
    assert validate_config(generation.config, request.package_paths) == generation.config
    assert set(generation.documents_read) <= {d.path for d in request.documents}
    assert generation.template == LOCAL_TEMPLATE and generation.generator == "local-extractive"


def test_different_courses_give_different_configs(generated):
    # The golf examples are one course packaged many ways (a launch page more or less): they may
    # share a configuration. Every other course has its own.
    by_config: dict[str, list[str]] = {}
    for name, generation in generated.items():
        by_config.setdefault(canonical_sha256(generation.config), []).append(name)
    shared = [names for names in by_config.values() if len(names) > 1]
    assert all("golf" in name.casefold() for names in shared for name in names), shared
    assert len(by_config) >= 8


def test_the_same_input_always_gives_the_same_config(generated):
    again = LocalExtractiveGenerator().generate(a_request(GOLF))
    assert canonical_sha256(again.config) == canonical_sha256(generated[GOLF].config)


def test_the_golf_config_is_made_of_the_golf_text(generated):
    config = generated[GOLF].config
    request = a_request(GOLF)
    text = "\n".join(d.text for d in request.documents).casefold()
    headings = {h for d in request.documents for h in d.headings}
    for term in config["key_terms"]:
        assert term["term"].casefold() in text and term["context"].casefold() in text
    for sentence in config["summary"].split(". "):
        assert sentence.rstrip(".").casefold() in text
    assert any(topic in headings for topic in config["topic_scope"]["topics"])
    assert any("Line of sight" in q["question"] for q in config["questions"])
    assert config["reading_level"]["flesch_kincaid_grade"] is not None


def test_parameters_bound_the_output_and_are_recorded():
    parameters = GenerationParameters(max_key_terms=3, max_questions=2, summary_sentences=1)
    request = a_request(GOLF)
    generation = LocalExtractiveGenerator().generate(
        GenerationRequest(request.title, "en", request.documents, request.package_paths, parameters)
    )
    assert len(generation.config["key_terms"]) == 3 and len(generation.config["questions"]) == 2
    assert generation.parameters["max_key_terms"] == 3 and generation.parameters["yake"]["ngram"] == 3


def test_the_input_budget_keeps_whole_documents_and_names_only_those_read():
    request = a_request(GOLF)
    first = len(request.documents[0].text)
    generation = LocalExtractiveGenerator(max_input_chars=first).generate(request)
    assert generation.documents_read == (request.documents[0].path,)


def test_sentences_that_point_outside_the_package_are_never_used():
    block = (
        "Putting lines matter on every green of the course. "
        "Read the full rules at https://example.com/rules before you play golf. "
        "Footprints on putting lines deflect the ball off its path."
    )
    document = SourceDocument("a.html", "a" * 64, "Golf", "en", (Section("Putting lines", 1, (block,)),))
    config = (
        LocalExtractiveGenerator()
        .generate(GenerationRequest("Golf", "en", (document,), frozenset({"a.html"})))
        .config
    )
    assert "example.com" not in str(config)
    validate_config(config, frozenset({"a.html"}))


def test_a_package_without_sentences_is_refused():
    document = SourceDocument("a.html", "a" * 64, "", None, (Section("", 0, ("Hi.",)),))
    with pytest.raises(NotEnoughText):
        LocalExtractiveGenerator().generate(GenerationRequest("T", "en", (document,), frozenset({"a.html"})))
