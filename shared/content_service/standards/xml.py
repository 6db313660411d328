"""Safe parsing of the XML descriptors a package declares itself with.

Only descriptors (imsmanifest.xml, cmi5.xml, tincan.xml) go through here. The DTD and XSD
files a package merely ships are stored, never parsed, so their DOCTYPEs do not matter.

Parsing uses defusedxml's expat parser. A DOCTYPE is refused, but the parser is allowed to
read the internal subset first so that the refusal can name the real danger: an entity
declaration (entity expansion, billion laughs) is ``xml.entities_forbidden``, a DOCTYPE or
entity that points outside the document (XXE) is ``xml.external_reference_forbidden``, and
any other DOCTYPE is ``xml.dtd_forbidden``. Nothing is ever fetched or expanded.

Encodings: expat reads UTF-8, UTF-16 (by its byte order mark or its first bytes), ISO-8859-1
and US-ASCII itself, and single-byte codecs through Python. Anything else Python knows
(Shift_JIS, GB2312, EUC-KR, Big5: exports of Japanese, Chinese and Korean tools) is decoded
by Python and handed to expat as UTF-8. A document whose bytes are 8-bit (a UTF-8 byte order
mark, or ``<?xml`` in ASCII) but whose declaration says UTF-16 or UTF-32 (what .NET's
StringWriter writes) is read as UTF-8, as libxml2 reads it: the declaration cannot be true.

Whitespace before the XML declaration: the declaration must open the document, but some
authoring tools (and hand edits) leave spaces, tabs or line breaks before it, after the
byte order mark if there is one. When the bytes are exactly that (an optional UTF-8 byte
order mark, only whitespace, then ``<?xml`` and whitespace) the whitespace is dropped before
parsing, and the lines and columns of errors still count from the file's first byte. Anything else before the
declaration is left for expat to refuse (``xml.malformed``).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml.common import EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from content_service.domain.package import Problem
from content_service.packaging.model import PackageRejected
from content_service.standards import problems

XML_NS = "http://www.w3.org/XML/1998/namespace"
XML_BASE = f"{{{XML_NS}}}base"
XML_LANG = f"{{{XML_NS}}}lang"

_TAG = re.compile(r"^\{(?P<ns>[^}]*)\}(?P<local>.*)$")

# Real descriptors nest a dozen levels at most (LOM metadata is the deepest). The parsers
# walk item trees recursively, so a hostile manifest nested thousands deep is refused here
# rather than crashing the build with a RecursionError.
MAX_DEPTH = 100


_UTF8_BOM = b"\xef\xbb\xbf"
# An optional UTF-8 byte order mark, XML whitespace (S: space, tab, CR, LF), then the declaration.
_SPACE_BEFORE_DECLARATION = re.compile(rb"(?P<bom>\xef\xbb\xbf)?(?P<space>[ \t\r\n]+)(?=<\?xml[ \t\r\n])")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_DECLARED_ENCODING = re.compile(rb"""^<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
# Encodings expat decodes on its own, by Python's codec names.
_EXPAT_ENCODINGS = frozenset({"utf-8", "ascii", "latin-1", "iso8859-1"})


class _TooDeep(Exception):  # noqa: N818 - internal control flow, never escapes this module
    pass


class _Builder(TreeBuilder):
    """A tree builder that also remembers namespace prefixes and element line numbers."""

    def __init__(self, skipped_lines: int = 0) -> None:
        super().__init__()
        self.skipped_lines = skipped_lines
        self.prefixes: dict[str, str] = {}
        self.lines: dict[int, int] = {}
        self.parser: _Parser | None = None
        self.depth = 0

    def start_ns(self, prefix: str, uri: str) -> None:
        # The first prefix a document binds to a namespace is the one we keep when we
        # serialise fragments (SCORM 2004 sequencing) back to text.
        self.prefixes.setdefault(uri, prefix)

    def start(self, tag: str, attrs: dict[str, str]) -> Element:  # type: ignore[override]
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeep
        element = super().start(tag, attrs)
        if self.parser is not None:
            self.lines[id(element)] = self.parser.parser.CurrentLineNumber + self.skipped_lines
        return element

    def end(self, tag: str) -> Element:
        self.depth -= 1
        return super().end(tag)


class _Parser(DefusedXMLParser):
    """defusedxml's parser, but a DOCTYPE is recorded instead of refused on sight.

    Expat reports entity declarations after the DOCTYPE starts, so deferring the DTD
    refusal to the end lets the more specific codes win.
    """

    def __init__(self, target: _Builder, encoding: str | None) -> None:
        super().__init__(
            target=target, encoding=encoding, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        self.doctype: str | None = None

    def defused_start_doctype_decl(
        self, name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool
    ) -> None:
        if sysid or pubid:
            raise ExternalReferenceForbidden(name, None, sysid, pubid)
        self.doctype = name


@dataclass
class XmlDocument:
    """A parsed descriptor: its root, the prefixes it used and where each element started."""

    path: str
    root: Element
    prefixes: dict[str, str] = field(default_factory=dict)
    lines: dict[int, int] = field(default_factory=dict)

    def line(self, element: Element) -> int | None:
        """The line on which ``element`` starts in the descriptor, when known."""
        return self.lines.get(id(element))

    def where(self, element: Element) -> str:
        """A short location for problem details, such as ``imsmanifest.xml line 12``."""
        line = self.line(element)
        return f"{self.path} line {line}" if line else self.path


def parse_descriptor(data: bytes, path: str) -> XmlDocument:
    """Parse descriptor bytes safely, or raise PackageRejected with a specific ``xml.*`` code.

    A UTF-8 byte order mark, whitespace before the XML declaration and any encoding
    declaration Python knows are accepted (module docstring).
    """
    data, skipped_lines, skipped_columns = _declaration_first(data)
    data, encoding = _for_expat(data, path)
    builder = _Builder(skipped_lines)
    parser = _Parser(builder, encoding)
    builder.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except _TooDeep as exc:
        detail = f"{path} nests elements more than {MAX_DEPTH} levels deep"
        raise _reject(problems.XML_TOO_DEEP, detail, path) from exc
    except EntitiesForbidden as exc:
        raise _reject(
            problems.XML_ENTITIES_FORBIDDEN, f"{path} declares the entity {exc.name!r}", path
        ) from exc
    except ExternalReferenceForbidden as exc:
        detail = f"{path} refers to an external document ({exc.sysid or exc.pubid})"
        raise _reject(problems.XML_EXTERNAL_REFERENCE_FORBIDDEN, detail, path) from exc
    except ParseError as exc:
        line, column = exc.position
        if line == 1:  # the declaration's line: the blanks before it on that line were dropped
            column += skipped_columns
        line += skipped_lines
        detail = f"{path} is not well-formed XML: {_message(exc)} (line {line}, column {column})"
        raise _reject(problems.XML_MALFORMED, detail, path) from exc
    except (LookupError, UnicodeError, ValueError) as exc:
        raise _reject(problems.XML_MALFORMED, f"{path} cannot be decoded: {exc}", path) from exc
    if parser.doctype is not None:
        detail = f"{path} has a DOCTYPE ({parser.doctype}); descriptors must not carry DTDs"
        raise _reject(problems.XML_DTD_FORBIDDEN, detail, path)
    return XmlDocument(path=path, root=root, prefixes=builder.prefixes, lines=builder.lines)


def _declaration_first(data: bytes) -> tuple[bytes, int, int]:
    """``data`` without the whitespace before its XML declaration, the line breaks dropped with it,
    and the blanks dropped on the declaration's own line (after the last of those breaks).

    Only an optional UTF-8 byte order mark and whitespace may precede ``<?xml``; the mark is
    kept for ``_for_expat``. Other bytes there are left in place (expat refuses them).
    """
    match = _SPACE_BEFORE_DECLARATION.match(data)
    if match is None:
        return data, 0, 0
    space = match.group("space")
    breaks = list(_LINE_BREAK.finditer(space))
    columns = len(space) - (breaks[-1].end() if breaks else 0)
    return (match.group("bom") or b"") + data[match.end() :], len(breaks), columns


def _for_expat(data: bytes, path: str) -> tuple[bytes, str | None]:
    """The bytes to feed expat and the encoding to make it use (None: the document's own)."""
    has_bom = data.startswith(_UTF8_BOM)
    body = data[len(_UTF8_BOM) :] if has_bom else data
    match = _DECLARED_ENCODING.match(body)
    if match is None:
        return data, None
    try:
        declared = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return data, None  # expat refuses it as an unknown encoding
    if declared.startswith(("utf-16", "utf-32")):
        # The declaration was read as ASCII, so the document is 8-bit whatever it says.
        return body, "utf-8"
    if declared in _EXPAT_ENCODINGS or has_bom:
        return data, None
    try:
        return body.decode(declared).encode("utf-8"), "utf-8"
    except (LookupError, ValueError) as exc:
        # LookupError: a codec that is no text encoding (base64, rot13); ValueError covers UnicodeError.
        detail = f"{path} cannot be decoded as {match.group(1).decode('ascii')}, its declared encoding"
        raise _reject(problems.XML_MALFORMED, detail, path) from exc


def _message(exc: ParseError) -> str:
    return str(exc).split(":", 1)[0]


def _reject(code: str, detail: str, path: str) -> PackageRejected:
    return PackageRejected([Problem(code=code, detail=detail, path=path)])


def namespace(tag: str) -> str:
    """The namespace URI of a Clark-notation tag (``''`` when it has none)."""
    match = _TAG.fullmatch(tag)
    return match.group("ns") if match else ""


def local(tag: str) -> str:
    """The local part of a Clark-notation tag or attribute name."""
    match = _TAG.fullmatch(tag)
    return match.group("local") if match else tag


def children(element: Element, name: str) -> list[Element]:
    """Direct children whose local name is ``name``, whatever namespace or prefix they use.

    Authoring tools spell prefixes (and sometimes namespace URIs) in many ways, so structure
    is matched by local name; callers that must tell namespaces apart check ``namespace()``.
    """
    return [child for child in element if isinstance(child.tag, str) and local(child.tag) == name]


def child(element: Element, name: str) -> Element | None:
    """The first direct child whose local name is ``name``."""
    found = children(element, name)
    return found[0] if found else None


def text(element: Element | None) -> str:
    """The element's text content (all descendants), whitespace-trimmed; ``''`` if absent."""
    if element is None:
        return ""
    return "".join(element.itertext()).strip()


def title_text(element: Element | None) -> str:
    """Text for a title: like ``text()``, with runs of whitespace (line breaks) made one space."""
    return " ".join(text(element).split())


def attribute(element: Element, name: str, *, ignore_case: bool = False) -> str | None:
    """An attribute by local name in any namespace (``xml:base`` and friends excluded)."""
    wanted = name.lower() if ignore_case else name
    for key, value in element.attrib.items():
        if namespace(key) == XML_NS:
            continue
        key_local = local(key).lower() if ignore_case else local(key)
        if key_local == wanted:
            return value
    return None


def foreign_attributes(element: Element, document: XmlDocument, own: frozenset[str]) -> dict[str, str]:
    """Attributes outside ``own`` keyed by their prefixed name, e.g. ``adlseq:objectivesGlobalToSystem``."""
    found: dict[str, str] = {}
    for key, value in element.attrib.items():
        if local(key) in own and namespace(key) == "":
            continue
        found[qualified_name(key, document.prefixes)] = value
    return found


def qualified_name(tag: str, prefixes: dict[str, str]) -> str:
    """``{uri}local`` rendered with the document's own prefix for ``uri``."""
    uri = namespace(tag)
    if not uri:
        return tag
    if uri == XML_NS:
        return f"xml:{local(tag)}"
    prefix = prefixes.get(uri, "")
    return f"{prefix}:{local(tag)}" if prefix else local(tag)


def serialize(element: Element, document: XmlDocument) -> str:
    """Serialise ``element`` as standalone XML text with the document's own prefixes.

    Names, attribute values and text are kept as written; the namespaces the fragment uses
    are declared on its root so the string parses on its own. Comments are not kept. A
    namespace whose prefix would clash inside the fragment (two default namespaces, or a
    namespaced attribute whose namespace only had the default prefix) gets a fresh one.
    """
    nodes = [node for node in element.iter() if isinstance(node.tag, str)]
    element_uris = {namespace(node.tag) for node in nodes}
    attribute_uris = {namespace(key) for node in nodes for key in node.attrib}
    prefixes: dict[str, str] = {XML_NS: "xml"}
    taken = {"xml"}
    for uri in sorted((element_uris | attribute_uris) - {"", XML_NS}):
        prefix = document.prefixes.get(uri, "")
        if prefix in taken or (prefix == "" and (uri in attribute_uris or "" in element_uris)):
            prefix = next(f"ns{index}" for index in range(len(taken) + 1) if f"ns{index}" not in taken)
        prefixes[uri] = prefix
        taken.add(prefix)
    declarations = "".join(
        f' xmlns:{prefix}="{_escape(uri)}"' if prefix else f' xmlns="{_escape(uri)}"'
        for uri, prefix in prefixes.items()
        if uri != XML_NS
    )
    return _write(element, prefixes, declarations)


def _write(element: Element, prefixes: dict[str, str], declarations: str = "") -> str:
    name = qualified_name(element.tag, prefixes)
    attributes = "".join(
        f' {qualified_name(key, prefixes)}="{_escape(value)}"' for key, value in element.attrib.items()
    )
    inner = _escape(element.text or "", attribute=False)
    for node in element:
        if isinstance(node.tag, str):
            inner += _write(node, prefixes)
        inner += _escape(node.tail or "", attribute=False)
    if not inner:
        return f"<{name}{declarations}{attributes}/>"
    return f"<{name}{declarations}{attributes}>{inner}</{name}>"


def _escape(value: str, *, attribute: bool = True) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace('"', "&quot;") if attribute else value
