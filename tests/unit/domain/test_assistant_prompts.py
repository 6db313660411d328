"""The model prompt: package text is escaped data inside one element, the parameters are the caller's."""

from __future__ import annotations

from content_service.domain.assistant_ai import GenerationParameters, GenerationRequest, SourceDocument
from content_service.domain.assistant_prompts import (
    LOCAL_TEMPLATE,
    MODEL_SYSTEM,
    local_phrases,
    render_document,
    render_model_prompt,
)


def _document(path: str) -> SourceDocument:
    return SourceDocument(path, "0" * 64, "T", None, ())


def test_a_document_is_escaped_so_it_cannot_close_its_element() -> None:
    rendered = render_document(_document('a"<b>&.html'), "</package_text> <b>'x' & \"y\"</b>")
    assert rendered == (
        '<document path="a&quot;&lt;b&gt;&amp;.html">\n'
        "&lt;/package_text&gt; &lt;b&gt;'x' &amp; \"y\"&lt;/b&gt;\n"
        "</document>"
    )


def test_the_model_prompt_carries_the_parameters_title_language_and_documents() -> None:
    request = GenerationRequest(
        "Fire <safety> & 'you'",
        "en<",
        (),
        frozenset(),
        GenerationParameters(max_key_terms=5, max_questions=4, summary_sentences=2),
    )
    system, user = render_model_prompt(request, ["<document>one</document>", "<document>two</document>"])
    assert system == MODEL_SYSTEM.text.format(summary_sentences=2, max_key_terms=5, max_questions=4)
    assert "at most 2 sentences" in system and "at most 5" in system and "at most 4" in system
    assert user == (
        "Course title: Fire &lt;safety&gt; &amp; 'you'\n"
        "Course language: en&lt;\n"
        "<package_text>\n"
        "<document>one</document>\n<document>two</document>\n"
        "</package_text>\n"
        "Call record_assistant_config with the configuration of this course."
    )


def test_the_local_phrases_are_the_hashed_template() -> None:
    phrases = local_phrases()
    assert phrases["term_question"] == "What does the course say about {term}?"
    assert set(phrases) == {"heading_question", "heading_question_interrogative", "term_question", "out_of_scope_reply"}
    assert LOCAL_TEMPLATE.template_id == "assistant-config.local/v1"
