"""Hostile package text and hostile generator output end in a typed result, never a crash.

The assistant reads HTML an author (or a third-party package) wrote, and output a model wrote:
any bytes must give text or nothing, any JSON must be accepted or refused with
``AssistantConfigInvalid``, and whatever the local generator makes of any text must be valid.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content_service.adapters.ai.local import LocalExtractiveGenerator
from content_service.domain.assistant_ai import (
    GenerationRequest,
    NotEnoughText,
    Section,
    SourceDocument,
)
from content_service.domain.assistant_schema import AssistantConfigInvalid, validate_config
from content_service.domain.assistant_text import extract

PATHS = frozenset({"Etiquette/Play.html", "index.html"})
TAGS = st.sampled_from(
    ["p", "h1", "h2", "li", "ul", "div", "script", "style", "td", "table", "nav", "svg", "a"]
)
FRAGMENT = st.recursive(
    st.text(max_size=40),
    lambda inner: (
        st.builds(lambda tag, body: f"<{tag}>{body}</{tag}>", TAGS, inner)
        | st.builds(lambda a, b: a + b, inner, inner)
        | st.builds(lambda tag, body: f"<{tag}>{body}", TAGS, inner)
    ),
    max_leaves=12,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048) | FRAGMENT.map(str.encode))
def test_any_bytes_as_html_give_text_or_nothing(data):
    document = extract("a.html", "a" * 64, "text/html", data)
    assert document is None or all(isinstance(block, str) and block for block in document.blocks)


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_any_json_is_a_config_or_a_typed_refusal(value):
    try:
        assert validate_config(value, PATHS) == value
    except AssistantConfigInvalid as refused:
        assert refused.extensions["errors"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=6), st.text(max_size=60))
def test_whatever_text_the_local_generator_reads_it_makes_a_valid_config_or_says_it_cannot(blocks, heading):
    document = SourceDocument("index.html", "a" * 64, "T", "en", (Section(heading, 1, tuple(blocks)),))
    request = GenerationRequest("Course title", "en", (document,), PATHS)
    try:
        generation = LocalExtractiveGenerator().generate(request)
    except NotEnoughText:
        return
    validate_config(generation.config, PATHS)
