"""tincan.xml: one launch per activity with a launch element."""

from __future__ import annotations

import pytest

from content_service.domain.package import Standard
from content_service.packaging.model import PackageRejected
from content_service.standards import detect_and_parse
from tests.memory_source import MemorySource

COURSE = "http://example.com/activities/course"


def tincan(activities: str) -> str:
    return (
        f'<tincan xmlns="http://projecttincan.com/tincan.xsd"><activities>{activities}</activities></tincan>'
    )


def activity(identifier: str = COURSE, launch: str | None = "index.html", name: str = "Golf") -> str:
    launch_element = f'<launch lang="en-us">{launch}</launch>' if launch is not None else ""
    return (
        f'<activity id="{identifier}" type="http://adlnet.gov/expapi/activities/course">'
        f'<name lang="en-US">{name}</name><description lang="en-US">About golf</description>{launch_element}'
        "</activity>"
    )


def test_activities_with_a_launch_become_launches() -> None:
    text = tincan(
        activity()
        + activity("http://example.com/q1", launch=None, name="Question 1")
        + activity("http://example.com/game", "game/start%20here.html?level=2", "Game")
    )
    descriptor = detect_and_parse(
        MemorySource({"tincan.xml": text, "index.html": "", "game/start here.html": ""})
    )
    assert descriptor.standard is Standard.XAPI
    assert (descriptor.title, descriptor.language) == ("Golf", "en-us")
    assert [(launch.id, launch.href, launch.parameters) for launch in descriptor.launches] == [
        (COURSE, "index.html", ""),
        ("http://example.com/game", "game/start here.html", "?level=2"),
    ]
    assert descriptor.launches[0].attributes["type"] == "http://adlnet.gov/expapi/activities/course"
    assert len(descriptor.metadata["activities"]) == 3


def test_a_bom_and_non_ascii_names_are_read() -> None:
    text = "\ufeff" + tincan(activity(name="Échecs — 象棋"))
    descriptor = detect_and_parse(MemorySource({"tincan.xml": text.encode("utf-8"), "index.html": ""}))
    assert descriptor.title == "Échecs — 象棋"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (tincan(activity(launch=None)), "xapi.no_launch"),
        (tincan(""), "xapi.no_launch"),
        (tincan(activity(identifier="course-1")), "xapi.invalid_iri"),
        (tincan(activity(launch="http://example.com/index.html")), "launch.external_url"),
        (tincan(activity(launch="../index.html")), "launch.outside_package"),
        (tincan(activity(launch="gone.html")), "launch.missing_file"),
        ("<courseStructure/>", "xml.unexpected_root"),
    ],
)
def test_unlaunchable_tincan_packages_are_refused(text: str, code: str) -> None:
    with pytest.raises(PackageRejected) as refused:
        detect_and_parse(MemorySource({"tincan.xml": text, "index.html": ""}))
    assert refused.value.problems[0].code == code
