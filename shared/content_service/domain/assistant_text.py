"""The readable text of a package's files, for the assistant generators.

HTML is parsed with Beautiful Soup over the standard library's ``html.parser`` (no regex
scraping): scripts, styles, embedded objects and navigation are dropped, headings split the
page into sections, and each block element (paragraph, list item, cell...) becomes one block of
text. Plain-text files are split into paragraphs on blank lines.
"""

from __future__ import annotations

import re
import unicodedata

from bs4 import BeautifulSoup, Tag

from content_service.domain.assistant_ai import Section, SourceDocument

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
READABLE_TYPES = HTML_TYPES | TEXT_TYPES

_DROPPED = ("script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed",
            "canvas", "nav", "button", "select", "head")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = ("p", "li", "dt", "dd", "td", "th", "blockquote", "figcaption", "pre", "caption", "summary",
           "label", "legend")
_SPACE = re.compile(r"\s+")


def readable(media_type: str) -> bool:
    """True for the media types the generators read text from."""
    return media_type.split(";")[0].strip().lower() in READABLE_TYPES


def extract(path: str, sha256: str, media_type: str, data: bytes) -> SourceDocument | None:
    """The text of one file, or None if it holds no readable text."""
    kind = media_type.split(";")[0].strip().lower()
    if kind in HTML_TYPES:
        document = _from_html(path, sha256, data)
    elif kind in TEXT_TYPES:
        document = _from_text(path, sha256, data)
    else:
        return None
    return document if document.blocks else None


def _clean(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _from_html(path: str, sha256: str, data: bytes) -> SourceDocument:
    soup = BeautifulSoup(data, "html.parser")
    title_tag = soup.find("title")
    title = _clean(title_tag.get_text(" ")) if title_tag else ""
    html_tag = soup.find("html")
    language = html_tag.get("lang") if isinstance(html_tag, Tag) else None
    for element in soup.find_all(_DROPPED):
        element.decompose()
    sections: list[Section] = []
    heading, level, blocks = "", 0, []
    for element in soup.find_all((*_HEADINGS, *_BLOCKS)):
        if element.find_parent((*_HEADINGS, *_BLOCKS)) is not None:
            continue  # Its text is part of the enclosing block already.
        text = _clean(element.get_text(" "))
        if not text:
            continue
        if element.name in _HEADINGS:
            if heading or blocks:
                sections.append(Section(heading, level, tuple(blocks)))
            heading, level, blocks = text, int(element.name[1]), []
        else:
            blocks.append(text)
    if heading or blocks:
        sections.append(Section(heading, level, tuple(blocks)))
    if not any(section.blocks for section in sections):
        # A page without block markup (text straight in <body> or <div>s) still has its text.
        body = soup.find("body") or soup
        text = _clean(body.get_text(" "))
        if text:
            sections = [Section(sections[0].heading if sections else "", 1, (text,))]
    return SourceDocument(
        path, sha256, title, str(language) if language else None, tuple(sections)
    )


def _from_text(path: str, sha256: str, data: bytes) -> SourceDocument:
    text = data.decode("utf-8", errors="replace")
    blocks = tuple(block for block in (_clean(part) for part in re.split(r"\n\s*\n", text)) if block)
    return SourceDocument(path, sha256, "", None, (Section("", 0, blocks),))
