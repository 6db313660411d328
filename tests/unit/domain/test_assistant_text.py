"""Package text for the assistant: HTML through a real parser, sections split at headings."""

from __future__ import annotations

from content_service.domain.assistant_text import extract, readable

PAGE = b"""<!DOCTYPE html><html lang="en-GB"><head><title>Etiquette - Play</title>
<style>h1 { color: red }</style><script>var secret = "do not read";</script></head>
<body><nav><a href="next.html">Next</a></nav>
<h1>Etiquette - Avoiding Distraction</h1>
<p>Golfers should never take practice swings
   when other people are nearby.</p>
<h2>Putting lines</h2>
<ul><li><p>Walk around the lines</p> or step over them.</li></ul>
<table><tr><td>Silence &amp; calm</td></tr></table>
<script>AddLicenseInfo("Wikipedia", "http://en.wikipedia.org/wiki/Golf_etiquette");</script>
</body></html>"""


def test_html_is_split_into_sections_at_headings_without_scripts_styles_or_navigation():
    document = extract("Etiquette/Play.html", "a" * 64, "text/html", PAGE)
    assert document.title == "Etiquette - Play" and document.language == "en-GB"
    assert document.headings == ("Etiquette - Avoiding Distraction", "Putting lines")
    assert document.sections[0].blocks == (
        "Golfers should never take practice swings when other people are nearby.",
    )
    assert document.sections[1].blocks == ("Walk around the lines or step over them.", "Silence & calm")
    assert "secret" not in document.text and "wikipedia" not in document.text.lower()
    assert "Next" not in document.text


def test_text_straight_in_the_body_is_still_read():
    document = extract(
        "a.html",
        "a" * 64,
        "text/html; charset=utf-8",
        b"<html><body><div>Only a div of text.</div></body></html>",
    )
    assert document.text == "Only a div of text."


def test_plain_text_is_split_on_blank_lines_and_other_types_are_not_read():
    document = extract("notes.txt", "a" * 64, "text/plain", b"First  paragraph.\n\nSecond\nparagraph.")
    assert document.blocks == ("First paragraph.", "Second paragraph.")
    assert extract("logo.svg", "a" * 64, "image/svg+xml", b"<svg><text>x</text></svg>") is None
    assert (
        extract("empty.html", "a" * 64, "text/html", b"<html><body><script>x()</script></body></html>")
        is None
    )
    assert readable("application/xhtml+xml") and not readable("text/css")


def test_plain_text_is_split_into_paragraphs_at_blank_lines_and_undecodable_bytes_are_replaced() -> None:
    from content_service.domain.assistant_ai import Section, SourceDocument
    from content_service.domain.assistant_text import extract

    data = b"First  para\ngoes on.\n \t\nSecond\xff para.\n\n\n\nThird.\n"
    document = extract("notes.txt", "a" * 64, "text/plain; charset=utf-8", data)
    assert document == SourceDocument(
        "notes.txt",
        "a" * 64,
        "",
        None,
        (Section("", 0, ("First para goes on.", "Second\ufffd para.", "Third.")),),
    )
    assert extract("blank.txt", "a" * 64, "text/plain", b" \n\n \n") is None
