"""cmi5.xml: course, blocks and AUs become launches; the spec's MUST-refuse cases are refused."""

from __future__ import annotations

import json

import pytest

from content_service.domain.package import Standard
from content_service.packaging.model import PackageRejected
from content_service.standards import detect_and_parse
from tests.memory_source import MemorySource

NS = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"
BASE = "https://example.com/course"


def title(text: str) -> str:
    return (
        f'<title><langstring lang="en-US">{text}</langstring>'
        f'<langstring lang="de">{text} (de)</langstring></title>'
    )


def au(suffix: str, url: str = "index.html", attributes: str = "", body: str = "") -> str:
    return (
        f'<au id="{BASE}/au/{suffix}" {attributes}>{title("AU " + suffix)}'
        f"<description><langstring>d</langstring></description>{body}<url>{url}</url></au>"
    )


def course(content: str, objectives: str = "", course_id: str = BASE) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><courseStructure xmlns="{NS}" xmlns:ext="urn:ext">'
        f'<course id="{course_id}">{title("Geology")}<description><langstring>d</langstring></description>'
        f"</course>{objectives}{content}</courseStructure>"
    )


def parse(text: str, *files: str):
    return detect_and_parse(MemorySource({"cmi5.xml": text, **dict.fromkeys(files or ("index.html",), "")}))


def codes(text: str, *files: str) -> list[str]:
    with pytest.raises(PackageRejected) as refused:
        parse(text, *files)
    return [problem.code for problem in refused.value.problems]


OBJECTIVES = (
    f'<objectives><objective id="{BASE}/obj/1">{title("Objective")}<description><langstring>d</langstring>'
    "</description></objective></objectives>"
)


def test_blocks_and_aus_become_one_launch_per_au_with_their_settings() -> None:
    content = (
        f'<block id="{BASE}/block/1">{title("Block")}<description><langstring>d</langstring></description>'
        f'<objectives><objective idref="{BASE}/obj/1"/></objectives>'
        + au(
            "1",
            "index.html?pages=1&amp;complete=launch",
            'moveOn="Passed" masteryScore="0.8" launchMethod="OwnWindow"'
            ' activityType="http://adlnet.gov/expapi/activities/lesson"',
            body=f'<objectives><objective idref="{BASE}/obj/1"/></objectives>',
        ).replace(
            "</url>",
            "</url><launchParameters>{'mode':1}</launchParameters><entitlementKey>k</entitlementKey>",
        )
        + "</block>"
        + au("2", "  <![CDATA[ pages/two.html ]]>  ")
        + '<ext:note id="ignored">extensions are skipped</ext:note>'
    )
    descriptor = parse(course(content, OBJECTIVES), "index.html", "pages/two.html")
    assert descriptor.standard is Standard.CMI5
    assert (descriptor.title, descriptor.language) == ("Geology", "en-US")
    first, second = descriptor.launches
    assert (first.id, first.title, first.href, first.parameters, first.kind) == (
        f"{BASE}/au/1",
        "AU 1",
        "index.html",
        "?pages=1&complete=launch",
        "au",
    )
    assert first.attributes["moveOn"] == "Passed"
    assert first.attributes["masteryScore"] == 0.8
    assert first.attributes["launchMethod"] == "OwnWindow"
    assert first.attributes["launchParameters"] == "{'mode':1}"
    assert first.attributes["block"] == f"{BASE}/block/1"
    assert (second.href, second.attributes["moveOn"], second.attributes["launchMethod"]) == (
        "pages/two.html",
        "NotApplicable",
        "AnyWindow",
    )
    json.dumps(descriptor.metadata)
    block = descriptor.metadata["structure"][0]
    assert (block["type"], block["objectives"], block["children"][0]["type"]) == (
        "block",
        [f"{BASE}/obj/1"],
        "au",
    )
    assert descriptor.metadata["course"]["title"][1] == {"lang": "de", "value": "Geology (de)"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (course(au("1"), course_id="example.com/course"), "cmi5.invalid_iri"),
        (course(au("1").replace(f"{BASE}/au/1", "au-1")), "cmi5.invalid_iri"),
        (course(au("1") + au("1")), "cmi5.duplicate_id"),
        (course(au("1").replace(f"{BASE}/au/1", BASE)), "cmi5.duplicate_id"),
        (
            course(au("1", body=f'<objectives><objective idref="{BASE}/obj/9"/></objectives>'), OBJECTIVES),
            "cmi5.unknown_objective",
        ),
        (course(au("1", attributes='moveOn="Whenever"')), "cmi5.invalid_value"),
        (course(au("1", attributes='masteryScore="1.5"')), "cmi5.invalid_value"),
        (course(au("1", attributes='masteryScore="high"')), "cmi5.invalid_value"),
        (course(au("1", attributes='launchMethod="Popup"')), "cmi5.invalid_value"),
        (course(au("1").replace("<url>index.html</url>", "")), "cmi5.invalid_structure"),
        (
            course(
                au("1")
                .replace("<url>index.html</url>", "")
                .replace("<title>", "<url>index.html</url><title>", 1)
            ),
            "cmi5.invalid_structure",
        ),
        (course(""), "cmi5.invalid_structure"),
        (course(au("1", "http://example.com index.html")), "cmi5.invalid_url"),
        (course(au("1", "index.html?endpoint=http://lrs.example")), "cmi5.reserved_launch_parameter"),
        (course(au("1", "index.html?a=1&amp;registration=x")), "cmi5.reserved_launch_parameter"),
        (course(au("1", "https://cdn.example.com/index.html")), "launch.external_url"),
        (course(au("1", "/index.html")), "launch.outside_package"),
        (course(au("1", "not-found.html")), "launch.missing_file"),
        ('<courseStructure xmlns="urn:x"><au/></courseStructure>', "cmi5.invalid_structure"),
        ("<manifest/>", "xml.unexpected_root"),
    ],
    ids=[
        "course-id-not-iri",
        "au-id-not-iri",
        "duplicate-au",
        "au-reuses-course-id",
        "unknown-objective",
        "bad-moveOn",
        "mastery-above-one",
        "mastery-not-number",
        "bad-launchMethod",
        "au-without-url",
        "url-before-title",
        "no-au",
        "url-with-space",
        "reserved-endpoint",
        "reserved-registration",
        "external-au",
        "absolute-path",
        "missing-file",
        "no-course",
        "wrong-root",
    ],
)
def test_what_cmi5_says_an_lms_must_refuse_is_refused(text: str, code: str) -> None:
    assert codes(text)[0] == code


def test_structure_problems_win_over_launch_problems() -> None:
    assert codes(course(au("1", "http://example.com/x") + au("1", "http://example.com/x"))) == [
        "cmi5.duplicate_id"
    ]
