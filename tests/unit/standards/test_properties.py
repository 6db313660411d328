"""Properties over generated input: parsers refuse or succeed, never crash, never escape."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content_service.packaging.model import PackageRejected
from content_service.standards import detect_and_parse
from content_service.standards.hrefs import HrefRefused, resolve
from tests.memory_source import MemorySource

NAMES = frozenset({"index.html", "a/b.html", "a/c d.html", "é/ü.html"})
HREF_ALPHABET = st.sampled_from(
    ["a", "b", ".", "..", "/", "\\", "%", "2e", "2f", "?", "#", ":", " ", "é", "index.html"]
)
IDS = st.sampled_from(["i1", "i2", "r1", "r2", "o1", ""])
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    st.lists(HREF_ALPHABET, max_size=12).map("".join),
    st.lists(st.sampled_from(["a", "a/", "..", "/x", ""]), max_size=3),
)
def test_resolve_returns_a_package_file_or_refuses(href: str, bases: list[str]) -> None:
    try:
        resolved = resolve(href, NAMES, bases=bases, descriptor="imsmanifest.xml", subject="item")
    except HrefRefused as refused:
        assert refused.problem.code.startswith("launch.")
    else:
        assert resolved.path in NAMES


def _attributes(draw: st.DrawFn, names: list[str]) -> str:
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    values = {"href": st.sampled_from(["index.html", "a/b.html", "../x", "missing.html", "http://x/", ""])}
    return "".join(f" {name}={quoteattr(draw(values.get(name, IDS)))}" for name in chosen)


@st.composite
def manifests(draw: st.DrawFn) -> str:
    def item(depth: int) -> str:
        attributes = _attributes(draw, ["identifier", "identifierref", "parameters"])
        children = "".join(item(depth + 1) for _ in range(draw(st.integers(0, 2 if depth < 3 else 0))))
        return f"<item{attributes}><title>T</title>{children}</item>"

    def organization() -> str:
        items = "".join(item(0) for _ in range(draw(st.integers(0, 3))))
        return f"<organization{_attributes(draw, ['identifier'])}>{items}</organization>"

    def resource() -> str:
        scorm_type = draw(st.sampled_from(["sco", "asset"]))
        return f'<resource{_attributes(draw, ["identifier", "href"])} adlcp:scormtype="{scorm_type}"/>'

    organizations = "".join(organization() for _ in range(draw(st.integers(0, 2))))
    resources = "".join(resource() for _ in range(draw(st.integers(0, 3))))
    default = draw(st.sampled_from(["", ' default="o1"', ' default="zz"']))
    return (
        '<manifest xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">'
        f"<organizations{default}>{organizations}</organizations><resources>{resources}</resources></manifest>"
    )


@FAST
@given(manifests())
def test_generated_manifests_parse_or_are_refused_with_a_registered_code(text: str) -> None:
    source = MemorySource({"imsmanifest.xml": text, "index.html": "", "a/b.html": ""})
    try:
        descriptor = detect_and_parse(source)
    except PackageRejected as refused:
        assert all(problem.code.split(".")[0] in {"scorm", "launch", "xml"} for problem in refused.problems)
    else:
        assert descriptor.launches
        assert all(launch.href in source.names for launch in descriptor.launches)


@FAST
@given(
    st.binary(max_size=200),
    st.sampled_from(["imsmanifest.xml", "cmi5.xml", "tincan.xml", "playpackage.json"]),
)
def test_arbitrary_descriptor_bytes_never_crash_the_parser(data: bytes, name: str) -> None:
    try:
        detect_and_parse(MemorySource({name: data, "index.html": ""}))
    except PackageRejected as refused:
        assert refused.problems
