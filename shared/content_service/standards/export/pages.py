"""Put the runtime bridge into each launched HTML page: one ``<script>`` tag, nothing else.

The tag is inserted right after the page's ``<head ...>`` start tag (so it runs before the
content's own scripts), or after ``<html ...>``, the doctype or an XML declaration, or at the
very start (after a byte order mark).
It is a single line between two newlines, ``<script src="..." data-content-bridge ...></script>``,
so removing that line gives back the original bytes exactly (the round-trip tests do).
Its ``data-*`` attributes carry the export's options to the bridge.
"""

from __future__ import annotations

import re
from posixpath import dirname, relpath
from xml.sax.saxutils import quoteattr

from content_service.standards.export.plan import BRANDING_CSS_PATH, BRIDGE_PATH, encode_path

_ANCHORS = (
    re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE),
    re.compile(rb"<html(\s[^>]*)?>", re.IGNORECASE),
    re.compile(rb"<!doctype[^>]*>", re.IGNORECASE),
    re.compile(rb"<\?xml[^>]*\?>"),
)
MARKER = "data-content-bridge"
TAG_PATTERN = re.compile(
    rb'\n(<link rel="stylesheet" href="[^"]*" data-content-branding="1">)?'
    rb'<script src="[^"]*" data-content-bridge="1"[^\n]*></script>\n'
)


def script_tag(page: str, config: dict[str, str], *, branded: bool = False) -> bytes:
    """The tag for ``page``: a src relative to the page, and the config as data attributes.

    A branded export links the tenant's stylesheet on the same line first, so the content's own
    styles (which come later) can use its custom properties.
    """
    src = encode_path(relpath(BRIDGE_PATH, dirname(page) or "."))
    attributes = "".join(f" data-{name}={quoteattr(value)}" for name, value in sorted(config.items()))
    link = ""
    if branded:
        href = encode_path(relpath(BRANDING_CSS_PATH, dirname(page) or "."))
        link = f'<link rel="stylesheet" href="{href}" data-content-branding="1">'
    return f'\n{link}<script src="{src}" {MARKER}="1"{attributes}></script>\n'.encode()


def inject(html: bytes, page: str, config: dict[str, str], *, branded: bool = False) -> bytes:
    """``html`` with the bridge's script tag (and, branded, the stylesheet link) added."""
    tag = script_tag(page, config, branded=branded)
    for anchor in _ANCHORS:
        found = anchor.search(html)
        if found is not None:
            return html[: found.end()] + tag + html[found.end() :]
    bom = b"\xef\xbb\xbf" if html.startswith(b"\xef\xbb\xbf") else b""
    return bom + tag + html[len(bom) :]


def strip(html: bytes) -> bytes:
    """``html`` without an injected tag (the inverse of ``inject``)."""
    return TAG_PATTERN.sub(b"", html, count=1)
