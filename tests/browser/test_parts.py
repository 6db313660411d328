"""Every part of a multi-part course is reachable in each format, in a real runtime.

Structured courses (tests/export/courses.py: a SCORM 1.2 tree with settings, a SCORM 2004 tree
with sequencing) are exported to each format, and each part is launched the way an LMS reaches
it: SCORM, every SCO item of the exported manifest in scorm-again; cmi5, every AU of cmi5.xml
against the test LRS; xAPI, the course's one launch (the launcher page), then each part link,
clicked in Chromium. Each part is started, completed and finished through the injected bridge,
and the tests assert what the runtime recorded for that very part.
"""

from __future__ import annotations

import json
import subprocess
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from defusedxml.ElementTree import fromstring

from content_service.domain.logo import DEFAULT_LOGO_MAX_BYTES, BrandLogo
from content_service.domain.package import Launch, PackageManifest
from content_service.domain.tenant import Branding
from content_service.packaging.limits import ImportLimits
from content_service.samples import sample_zip_bytes
from content_service.standards.export import ExportOptions
from content_service.standards.export.local import export_zip, import_zip
from tests.browser.conftest import HERE, require_browser
from tests.browser.lms_server import LmsServer, Recorder
from tests.export.courses import SCORM12_PARTS, SCORM2004_PARTS, scorm12_course, scorm2004_course
from tests.logos import png

pytestmark = pytest.mark.xdist_group("browser")

CALLS = [["start"], ["setProgress", 1], ["finish"]]
VERB = "http://adlnet.gov/expapi/verbs/"
ACTOR = {
    "objectType": "Agent",
    "name": "Part Learner",
    "account": {"homePage": "https://lms.example", "name": "p-1"},
}
CP12 = "{http://www.imsproject.org/xsd/imscp_rootv1p1p2}"
CP2004 = "{http://www.imsglobal.org/xsd/imscp_v1p1}"

# (name, source, format, the part titles every launch must cover, in order)
COURSES = [
    ("tree12-scorm12", "course12", "scorm12", list(SCORM12_PARTS.values())),
    ("tree2004-scorm2004", "course2004", "scorm2004", list(SCORM2004_PARTS.values())),
    ("tree12-scorm2004", "course12", "scorm2004", list(SCORM12_PARTS.values())),
    ("tree12-cmi5", "course12", "cmi5", list(SCORM12_PARTS.values())),
    ("tree2004-cmi5", "course2004", "cmi5", list(SCORM2004_PARTS.values())),
    ("tree12-xapi", "course12", "xapi", list(SCORM12_PARTS.values())),
    ("sample-xapi", "sample", "xapi", ["Welcome", "How it works"]),
    ("branded-tree12-xapi", "course12", "xapi", list(SCORM12_PARTS.values())),
]
#: The logo (a real 4×4 PNG) and branding the branded course is exported with.
LOGO = png()
BRAND = Branding("Acme", "#0a5cff", logo=BrandLogo.of(LOGO, "image/png", max_bytes=DEFAULT_LOGO_MAX_BYTES))
BRANDED = {"branded-tree12-xapi"}


@dataclass
class Course:
    name: str
    fmt: str
    package: Path
    manifest: PackageManifest
    titles: list[str]
    # For SCORM and cmi5: one driven launch per part; for xAPI: the launcher run.
    runs: dict[str, dict[str, Any]]
    registrations: dict[str, str]


def _sco_items(package: Path, fmt: str) -> list[str]:
    """The identifiers of the items an LMS launches as SCOs, read from the exported manifest itself."""
    cp = CP12 if fmt == "scorm12" else CP2004
    with zipfile.ZipFile(package) as archive:
        root = fromstring(archive.read("imsmanifest.xml"))
    scos = {
        resource.get("identifier")
        for resource in root.iter(f"{cp}resource")
        if any(key.lower().endswith("scormtype") and value == "sco" for key, value in resource.attrib.items())
    }
    return [item.get("identifier") for item in root.iter(f"{cp}item") if item.get("identifierref") in scos]


def _scorm_url(base: str, name: str, fmt: str, launch: Launch) -> str:
    params = {"version": fmt, "launch": f"/pkg/{name}/{launch.href}{launch.parameters}"}
    return f"{base}/lms/scorm.html?{urlencode(params)}"


def _cmi5_url(base: str, name: str, launch: Launch, recorder: Recorder) -> tuple[str, str]:
    registration, token = str(uuid.uuid4()), uuid.uuid4().hex
    recorder.tokens[registration] = token
    launch_data = {
        "contextTemplate": {"extensions": {"https://w3id.org/xapi/cmi5/context/extensions/sessionid": token}},
        "launchMode": "Normal",
        "moveOn": launch.attributes["moveOn"],
    }
    recorder.put_state(launch.id, ACTOR, registration, "LMS.LaunchData", json.dumps(launch_data).encode())
    query = {
        "endpoint": f"{base}/xapi/",
        "fetch": f"{base}/cmi5/fetch/{registration}",
        "actor": json.dumps(ACTOR),
        "registration": registration,
        "activityId": launch.id,
    }
    return f"{base}/pkg/{name}/{launch.href}{launch.parameters}?{urlencode(query)}", registration


def _xapi_url(base: str, name: str, launch: Launch, recorder: Recorder) -> tuple[str, str]:
    registration, token = str(uuid.uuid4()), uuid.uuid4().hex
    recorder.tokens[registration] = token
    query = {
        "endpoint": f"{base}/xapi/",
        "auth": f"Basic {token}",
        "actor": json.dumps(ACTOR),
        "registration": registration,
        "activity_id": launch.id,
    }
    return f"{base}/pkg/{name}/{launch.href}?{urlencode(query)}", registration


@pytest.fixture(scope="module")
def courses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Course]:
    require_browser()
    workdir = tmp_path_factory.mktemp("parts")
    sources = {
        "course12": scorm12_course(workdir / "course12.zip"),
        "course2004": scorm2004_course(workdir / "course2004.zip"),
        "sample": workdir / "sample.zip",
    }
    sources["sample"].write_bytes(sample_zip_bytes())
    recorder = Recorder()
    plans: list[dict[str, Any]] = []
    built: dict[str, Course] = {}
    with LmsServer(recorder) as server:
        for name, source, fmt, titles in COURSES:
            package = workdir / f"{name}.zip"
            options, logo = (
                (ExportOptions(branding=BRAND.as_dict()), LOGO)
                if name in BRANDED
                else (ExportOptions(), None)
            )
            export_zip(
                sources[source], fmt, options, package, limits=ImportLimits(), workdir=workdir, logo=logo
            )
            recorder.packages[name] = package
            manifest = import_zip(package, ImportLimits(), workdir)
            course = Course(name, fmt, package, manifest, titles, {}, {})
            built[name] = course
            for index, launch in enumerate(manifest.launches):
                run_name = f"{name}#{index}"
                if fmt.startswith("scorm"):
                    url, frame = _scorm_url(server.base, name, fmt, launch), f"/pkg/{name}/"
                    plans.append({"name": run_name, "url": url, "frame": frame, "calls": CALLS})
                    continue
                make = _cmi5_url if fmt == "cmi5" else _xapi_url
                url, registration = make(server.base, name, launch, recorder)
                course.registrations[run_name] = registration
                plans.append(
                    {"name": run_name, "url": url, "frame": None, "calls": CALLS, "parts": fmt == "xapi"}
                )
        plan_file, result_file = workdir / "plans.json", workdir / "results.json"
        plan_file.write_text(json.dumps(plans))
        subprocess.run(
            ["node", str(HERE / "drive.mjs"), str(plan_file), str(result_file)],
            cwd=HERE,
            check=True,
            timeout=300,
            capture_output=True,
        )
    results = json.loads(result_file.read_text())
    for course in built.values():
        course.runs = {key: value for key, value in results.items() if key.startswith(course.name + "#")}
    built["_recorder"] = recorder  # type: ignore[assignment]
    return built


def _driven(run: dict[str, Any]) -> list[dict[str, Any]]:
    assert "error" not in run, run["error"] + "\n" + "\n".join(run["console"])
    parts = run.get("parts") or [run]
    for part in parts:
        assert all(call["ok"] for call in part["calls"]), part["calls"]
        assert part["bridge"]["errors"] == [], part["bridge"]["errors"]
        assert part["bridge"]["completed"] is True
    return parts


@pytest.mark.parametrize("name", [course[0] for course in COURSES if course[2].startswith("scorm")])
def test_every_sco_of_a_scorm_export_runs_a_session_in_scorm_again(
    name: str, courses: dict[str, Course]
) -> None:
    course = courses[name]
    # The importer's launches are the manifest's SCO items; check that against the XML itself.
    assert [launch.id for launch in course.manifest.launches] == _sco_items(course.package, course.fmt)
    assert [launch.title for launch in course.manifest.launches] == course.titles
    assert len(course.runs) == len(course.titles)
    for key, run in sorted(course.runs.items()):
        _driven(run)
        events = [entry["event"] for entry in run["lmsLog"]]
        assert events[0] == "initialize" and events[-1] == "terminate", key
        if course.fmt == "scorm12":
            assert run["cmi"]["core"]["lesson_status"] == "completed", key
        else:
            assert run["cmi"]["completion_status"] == "completed", key


@pytest.mark.parametrize("name", [course[0] for course in COURSES if course[2] == "cmi5"])
def test_every_au_of_a_cmi5_export_reports_its_own_session(name: str, courses: dict[str, Course]) -> None:
    course = courses[name]
    recorder: Recorder = courses["_recorder"]  # type: ignore[assignment]
    assert [launch.title for launch in course.manifest.launches] == course.titles
    for index, launch in enumerate(course.manifest.launches):
        key = f"{name}#{index}"
        _driven(course.runs[key])
        statements = recorder.statements_of(course.registrations[key])
        verbs = [statement["verb"]["id"].removeprefix(VERB) for statement in statements]
        assert verbs == ["initialized", "progressed", "completed", "terminated"], (key, verbs)
        assert {statement["object"]["id"] for statement in statements} == {launch.id}


@pytest.mark.parametrize("name", [course[0] for course in COURSES if course[2] == "xapi"])
def test_the_xapi_launcher_reaches_every_part_and_each_reports_under_the_course(
    name: str, courses: dict[str, Course]
) -> None:
    course = courses[name]
    recorder: Recorder = courses["_recorder"]  # type: ignore[assignment]
    # The course is the package's one launch; its parts are the activities after it.
    assert len(course.manifest.launches) == 1
    course_id = course.manifest.launches[0].id
    part_ids = [activity["id"] for activity in course.manifest.metadata["activities"][1:]]
    assert [
        activity["name"][0]["value"] for activity in course.manifest.metadata["activities"][1:]
    ] == course.titles

    run = course.runs[f"{name}#0"]
    parts = _driven(run)
    assert [link["activity"] for link in run["links"]] == part_ids
    assert len(parts) == len(part_ids)
    statements = recorder.statements_of(course.registrations[f"{name}#0"])
    for part_id, part in zip(part_ids, parts, strict=True):
        assert f"activity_id={part_id}".replace(":", "%3A").replace("/", "%2F") in part["url"]
        mine = [statement for statement in statements if statement["object"]["id"] == part_id]
        verbs = [statement["verb"]["id"].removeprefix(VERB) for statement in mine]
        assert verbs == ["initialized", "progressed", "completed", "terminated"], (part_id, verbs)
        for statement in mine:
            assert statement["context"]["contextActivities"]["parent"] == [
                {"id": course_id, "objectType": "Activity"}
            ]
    assert {statement["object"]["id"] for statement in statements} == set(part_ids)


def test_a_branded_xapi_course_shows_the_brand_on_its_launcher_and_in_every_part(
    courses: dict[str, Course],
) -> None:
    branded = courses["branded-tree12-xapi"].runs["branded-tree12-xapi#0"]
    plain = courses["tree12-xapi"].runs["tree12-xapi#0"]
    parts = _driven(branded)
    # The launcher: the brand's colour resolved from content-branding.css, the title in it, and
    # the header's logo decoded from the package's own file (4×4 pixels), named by the brand.
    look = branded["look"]
    assert look["primary"] == "#0a5cff"
    assert look["titleColour"] == "rgb(10, 92, 255)"
    assert look["logo"] == {"alt": "Acme", "width": 4, "complete": True}
    assert look["logoProperty"] == 'url("content-branding-logo.png")'
    # Each part's page links the stylesheet too, so its own styles can use the brand's properties.
    assert [part["look"]["primary"] for part in parts] == ["#0a5cff"] * len(parts)
    # Unbranded, nothing of it.
    assert (
        plain["look"]["primary"] == "" and plain["look"]["logo"] is None and plain["look"]["header"] is None
    )
    assert plain["look"]["titleColour"] != "rgb(10, 92, 255)"
