"""Exports run for real: SCORM in headless Chromium under scorm-again, cmi5/xAPI against a test LRS.

One module fixture exports the native sample once per scenario, serves everything from
127.0.0.1, and runs drive.mjs once (one Chromium for all scenarios); the tests then assert
on what the LMS recorded. The LMS seeds itself from the exported manifest as a real LMS
would (1.2 masteryscore, 2004 completion threshold and scaled passing score, cmi5
masteryScore and moveOn), read back with our own importer.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from defusedxml.ElementTree import fromstring

from content_service.domain.package import Launch
from content_service.packaging.limits import ImportLimits
from content_service.samples import sample_zip_bytes
from content_service.standards.export import ExportOptions, MoveOn, Reporting
from content_service.standards.export.local import export_zip, import_zip
from tests.browser.conftest import HERE, require_browser
from tests.browser.lms_server import LmsServer, Recorder
from tests.export.schemas import XAPI_SCHEMAS, statement_validator

# One Chromium for the module: under pytest-xdist (make test uses --dist loadgroup) every test
# here runs on the same worker, so the module fixture runs once.
pytestmark = pytest.mark.xdist_group("browser")

CMITIMESPAN = re.compile(r"^\d{2,4}:\d{2}:\d{2}(\.\d{1,2})?$")
ISO_DURATION = re.compile(r"^PT(\d+H)?(\d+M)?(\d+(\.\d{1,2})?S)$")
CMI5_CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
MOVEON_CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/moveon"
SESSION_ID = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
MASTERY_EXTENSION = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"
VERB = "http://adlnet.gov/expapi/verbs/"
CMI5_VERBS = {VERB + name for name in ("initialized", "completed", "passed", "failed", "terminated")}
ACTOR = {
    "objectType": "Agent",
    "name": "Test Learner",
    "account": {"homePage": "https://lms.example", "name": "learner-1"},
}


@dataclass
class Scenario:
    name: str
    fmt: str
    options: ExportOptions
    calls: list[list[Any]]
    unload: bool = False
    launch: dict[str, Any] = field(default_factory=dict)


SCENARIOS = [
    Scenario(
        "scorm12-passed",
        "scorm12",
        ExportOptions(reporting=Reporting.PASSED_FAILED, mastery_score=0.8),
        [
            ["start"],
            ["setProgress", 0.5],
            ["setScore", 85, 0, 100],
            ["suspend", "page=3"],
            ["pass"],
            ["finish"],
        ],
    ),
    Scenario(
        "scorm12-mastery-override",
        "scorm12",
        ExportOptions(reporting=Reporting.PASSED_INCOMPLETE, mastery_score=0.8),
        [["start"], ["setScore", 5, 0, 10], ["pass"], ["finish"]],
    ),
    Scenario(
        "scorm12-completed-by-progress",
        "scorm12",
        ExportOptions(reporting=Reporting.COMPLETED_INCOMPLETE, completion_threshold=0.75),
        [
            ["start"],
            ["expectError", "suspend", "x" * 4097],
            ["expectError", "setScore", 120, 0, 100],
            ["expectError", "setProgress", 1.5],
            ["suspend", "y" * 4096],
            ["setProgress", 0.8],
            ["finish"],
        ],
    ),
    Scenario(
        "scorm12-auto-finish-on-pagehide",
        "scorm12",
        ExportOptions(),
        [["setProgress", 0.3], ["suspend", "resume-here"]],
        unload=True,
    ),
    Scenario(
        "scorm2004-passed",
        "scorm2004",
        ExportOptions(reporting=Reporting.PASSED_FAILED, mastery_score=0.8, completion_threshold=0.75),
        [["start"], ["setProgress", 0.8], ["setScore", 9, 0, 10], ["pass"], ["finish"]],
    ),
    Scenario(
        "scorm2004-failed",
        "scorm2004",
        ExportOptions(reporting=Reporting.COMPLETED_FAILED, mastery_score=0.8),
        [["start"], ["setScore", 5, 0, 10], ["fail"], ["finish"]],
    ),
    Scenario(
        "scorm2004-suspended",
        "scorm2004",
        ExportOptions(reporting=Reporting.COMPLETED_INCOMPLETE, completion_threshold=0.9),
        [["start"], ["setProgress", 0.4], ["suspend", {"page": 2}], ["finish"]],
    ),
    Scenario(
        "cmi5-completed-and-passed",
        "cmi5",
        ExportOptions(
            reporting=Reporting.COMPLETED_FAILED, mastery_score=0.8, move_on=MoveOn.COMPLETED_AND_PASSED
        ),
        [
            ["start"],
            ["setProgress", 0.5],
            ["setScore", 90, 0, 100],
            ["complete"],
            ["pass"],
            ["pass"],
            ["finish"],
        ],
    ),
    Scenario(
        "cmi5-failed",
        "cmi5",
        ExportOptions(reporting=Reporting.PASSED_FAILED, mastery_score=0.8),
        [["start"], ["setScore", 40, 0, 100], ["suspend", "q=4"], ["pass"], ["finish"]],
    ),
    Scenario(
        "xapi-completed",
        "xapi",
        ExportOptions(reporting=Reporting.COMPLETED_INCOMPLETE),
        [["start"], ["setProgress", 1], ["finish"]],
    ),
]


@dataclass
class Run:
    results: dict[str, dict[str, Any]]
    recorder: Recorder
    scenarios: dict[str, Scenario]


def _launch_of(path: Path, workdir: Path) -> Launch:
    return import_zip(path, ImportLimits(), workdir).launches[0]


def _scorm_url(base: str, scenario: Scenario, launch: Launch, package: Path) -> str:
    params = {"version": scenario.fmt, "launch": f"/pkg/{scenario.name}/{launch.href}"}
    if scenario.fmt == "scorm12" and launch.attributes.get("masteryscore"):
        params["mastery_score"] = launch.attributes["masteryscore"]
    threshold = launch.attributes.get("completionThreshold") or {}
    if threshold.get("completedByMeasure") == "true":
        params["completion_threshold"] = threshold.get("minProgressMeasure", "1.0")
    measure = _min_normalized_measure(package, launch.id)
    if measure is not None:
        params["scaled_passing_score"] = measure
    return f"{base}/lms/scorm.html?{urlencode(params)}"


def _min_normalized_measure(package: Path, item_id: str) -> str | None:
    """The item's primary objective measure, as a 2004 LMS turns it into cmi.scaled_passing_score."""
    with zipfile.ZipFile(package) as archive:
        root = fromstring(archive.read("imsmanifest.xml"))
    for item in root.iter("{http://www.imsglobal.org/xsd/imscp_v1p1}item"):
        if item.get("identifier") == item_id:
            primary = item.find(".//{http://www.imsglobal.org/xsd/imsss}primaryObjective")
            if primary is not None and primary.get("satisfiedByMeasure") == "true":
                return primary.findtext("{http://www.imsglobal.org/xsd/imsss}minNormalizedMeasure")
    return None


def _lrs_url(base: str, scenario: Scenario, launch: Launch, package: str, recorder: Recorder) -> str:
    registration = str(uuid.uuid4())
    session = str(uuid.uuid4())
    token = uuid.uuid4().hex
    recorder.tokens[registration] = token
    query: dict[str, str] = {
        "endpoint": f"{base}/xapi/",
        "actor": json.dumps(ACTOR),
        "registration": registration,
    }
    if scenario.fmt == "cmi5":
        query["fetch"] = f"{base}/cmi5/fetch/{registration}"
        query["activityId"] = launch.id
        launch_data: dict[str, Any] = {
            "contextTemplate": {
                "contextActivities": {
                    "grouping": [{"id": "https://lms.example/publisher/course", "objectType": "Activity"}]
                },
                "extensions": {SESSION_ID: session},
            },
            "launchMode": "Normal",
            "moveOn": launch.attributes["moveOn"],
            "launchMethod": launch.attributes["launchMethod"],
        }
        if launch.attributes.get("masteryScore") is not None:
            launch_data["masteryScore"] = launch.attributes["masteryScore"]
        recorder.put_state(launch.id, ACTOR, registration, "LMS.LaunchData", json.dumps(launch_data).encode())
        scenario.launch = {
            "registration": registration,
            "session": session,
            "activity": launch.id,
            "data": launch_data,
        }
    else:
        query["auth"] = f"Basic {token}"
        scenario.launch = {"registration": registration, "activity": launch.id}
    return f"{base}/pkg/{package}/{launch.href}?{urlencode(query)}"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    require_browser()
    workdir = tmp_path_factory.mktemp("browser")
    source = workdir / "welcome.zip"
    source.write_bytes(sample_zip_bytes())
    recorder = Recorder()
    plans = []
    with LmsServer(recorder) as server:
        for scenario in SCENARIOS:
            out = workdir / f"{scenario.name}.zip"
            export_zip(source, scenario.fmt, scenario.options, out, limits=ImportLimits(), workdir=workdir)
            recorder.packages[scenario.name] = out
            launch = _launch_of(out, workdir)
            if scenario.fmt.startswith("scorm"):
                url = _scorm_url(server.base, scenario, launch, out)
                plans.append(
                    {
                        "name": scenario.name,
                        "url": url,
                        "frame": f"/pkg/{scenario.name}/",
                        "calls": scenario.calls,
                        "unload": scenario.unload,
                    }
                )
            else:
                url = _lrs_url(server.base, scenario, launch, scenario.name, recorder)
                # The sample has two parts: its xAPI course launches the launcher page, whose
                # links the driver follows to each part.
                parts = scenario.fmt == "xapi"
                plans.append(
                    {
                        "name": scenario.name,
                        "url": url,
                        "frame": None,
                        "calls": scenario.calls,
                        "parts": parts,
                    }
                )
        plan_file = workdir / "scenarios.json"
        result_file = workdir / "results.json"
        plan_file.write_text(json.dumps(plans))
        subprocess.run(
            ["node", str(HERE / "drive.mjs"), str(plan_file), str(result_file)],
            cwd=HERE,
            check=True,
            timeout=120,
            capture_output=True,
        )
    return Run(json.loads(result_file.read_text()), recorder, {s.name: s for s in SCENARIOS})


def _result(run: Run, name: str) -> dict[str, Any]:
    result = run.results[name]
    assert "error" not in result, result["error"] + "\n" + "\n".join(result["console"])
    for driven in result.get("parts") or [result]:
        failed = [call for call in driven["calls"] if not call["ok"]]
        assert not failed, failed
        assert driven["bridge"]["errors"] == [], driven["bridge"]["errors"]
    return result


def _events(result: dict[str, Any]) -> list[str]:
    return [entry["event"] for entry in result["lmsLog"]]


def _last_set(result: dict[str, Any], element: str) -> str | None:
    values = [
        entry["value"]
        for entry in result["lmsLog"]
        if entry["event"] == "set" and entry["element"] == element
    ]
    return values[-1] if values else None


def _assert_scorm_session(result: dict[str, Any]) -> None:
    events = _events(result)
    assert events[0] == "initialize"
    assert events[-1] == "terminate"
    assert events.count("initialize") == 1 and events.count("terminate") == 1
    assert "commit" in events and events.index("commit") < events.index("terminate")


# ---- SCORM 1.2 --------------------------------------------------------------------------------


def test_scorm12_passed_reports_status_score_suspend_data_and_time(run: Run) -> None:
    result = _result(run, "scorm12-passed")
    _assert_scorm_session(result)
    core = result["cmi"]["core"]
    assert core["lesson_status"] == "passed"
    assert core["score"]["raw"] == "85"
    assert (core["score"]["min"], core["score"]["max"]) == ("0", "100")
    assert CMITIMESPAN.match(_last_set(result, "cmi.core.session_time"))
    assert result["cmi"]["suspend_data"] == "page=3"
    assert _last_set(result, "cmi.core.exit") == ""
    assert result["cmi"]["student_data"]["mastery_score"] == "80"


def test_scorm12_mastery_score_decides_as_the_lms_override_does(run: Run) -> None:
    result = _result(run, "scorm12-mastery-override")
    _assert_scorm_session(result)
    # pass() with 50 % under a mastery score of 80: the bridge reports what the LMS decides.
    assert _last_set(result, "cmi.core.lesson_status") == "failed"
    assert result["cmi"]["core"]["lesson_status"] == "failed"


def test_scorm12_completion_threshold_and_limits(run: Run) -> None:
    result = _result(run, "scorm12-completed-by-progress")
    _assert_scorm_session(result)
    assert result["cmi"]["core"]["lesson_status"] == "completed"
    assert len(result["cmi"]["suspend_data"]) == 4096
    refused = [call["error"] for call in result["calls"] if "error" in call]
    assert any("4096" in message for message in refused)
    assert any("score" in message for message in refused)


def test_scorm12_auto_start_and_finish_on_pagehide(run: Run) -> None:
    result = _result(run, "scorm12-auto-finish-on-pagehide")
    _assert_scorm_session(result)
    assert _last_set(result, "cmi.core.lesson_status") == "incomplete"
    assert _last_set(result, "cmi.core.exit") == "suspend"
    assert result["cmi"]["suspend_data"] == "resume-here"


# ---- SCORM 2004 -------------------------------------------------------------------------------


def test_scorm2004_passed_reports_completion_success_scaled_score_and_time(run: Run) -> None:
    result = _result(run, "scorm2004-passed")
    _assert_scorm_session(result)
    cmi = result["cmi"]
    assert cmi["completion_threshold"] == "0.75" and cmi["scaled_passing_score"] == "0.8"
    assert cmi["completion_status"] == "completed"
    assert cmi["success_status"] == "passed"
    assert float(cmi["score"]["scaled"]) == pytest.approx(0.9)
    assert (cmi["score"]["raw"], cmi["score"]["min"], cmi["score"]["max"]) == ("9", "0", "10")
    assert ISO_DURATION.match(_last_set(result, "cmi.session_time"))
    assert _last_set(result, "cmi.exit") == "normal"


def test_scorm2004_failed_under_the_mastery_score(run: Run) -> None:
    result = _result(run, "scorm2004-failed")
    _assert_scorm_session(result)
    assert result["cmi"]["success_status"] == "failed"
    assert result["cmi"]["completion_status"] == "completed"


def test_scorm2004_unfinished_content_is_incomplete_and_suspended(run: Run) -> None:
    result = _result(run, "scorm2004-suspended")
    _assert_scorm_session(result)
    assert _last_set(result, "cmi.completion_status") == "incomplete"
    assert _last_set(result, "cmi.progress_measure") == "0.4"
    assert _last_set(result, "cmi.exit") == "suspend"
    assert result["cmi"]["suspend_data"] == '{"page":2}'


# ---- cmi5 and xAPI ------------------------------------------------------------------------------


def _statements(run: Run, name: str) -> tuple[list[dict[str, Any]], Scenario]:
    _result(run, name)
    scenario = run.scenarios[name]
    entries = [
        entry
        for entry in run.recorder.statements
        if entry["statement"].get("context", {}).get("registration") == scenario.launch["registration"]
    ]
    token = run.recorder.tokens[scenario.launch["registration"]]
    validator = statement_validator()
    for entry in entries:
        assert entry["authorization"] == f"Basic {token}"
        assert entry["version"] == "1.0.3"
        errors = [error.message for error in validator.iter_errors(entry["statement"])]
        assert errors == [], (entry["statement"], errors, XAPI_SCHEMAS)
    return [entry["statement"] for entry in entries], scenario


def _verbs(statements: list[dict[str, Any]]) -> list[str]:
    return [statement["verb"]["id"].removeprefix(VERB) for statement in statements]


def _assert_cmi5_rules(statements: list[dict[str, Any]], scenario: Scenario) -> None:
    verbs = _verbs(statements)
    defined = [s for s in statements if s["verb"]["id"] in CMI5_VERBS]
    assert defined[0]["verb"]["id"] == VERB + "initialized", "initialized must come first"
    assert statements[-1]["verb"]["id"] == VERB + "terminated", "terminated must come last"
    assert verbs.count("initialized") == 1 and verbs.count("terminated") == 1
    assert verbs.count("completed") <= 1
    assert verbs.count("passed") + verbs.count("failed") <= 1
    launch = scenario.launch
    mastery = launch["data"].get("masteryScore")
    for statement in statements:
        assert statement["actor"] == ACTOR
        assert statement["object"]["id"] == launch["activity"]
        context = statement["context"]
        assert context["registration"] == launch["registration"]
        assert context["extensions"][SESSION_ID] == launch["session"]
        assert {"id": "https://lms.example/publisher/course", "objectType": "Activity"} in context[
            "contextActivities"
        ]["grouping"]
        categories = [entry["id"] for entry in context["contextActivities"].get("category", [])]
        verb = statement["verb"]["id"]
        if verb in CMI5_VERBS:
            assert CMI5_CATEGORY in categories
        else:
            assert CMI5_CATEGORY not in categories, "cmi5 allowed statements must not claim the cmi5 category"
        if verb in {VERB + "completed", VERB + "passed", VERB + "failed"}:
            assert MOVEON_CATEGORY in categories
        if verb in {VERB + "completed", VERB + "passed", VERB + "failed", VERB + "terminated"}:
            assert ISO_DURATION.match(statement["result"]["duration"])
        if verb == VERB + "completed":
            assert statement["result"]["completion"] is True
        if verb in {VERB + "passed", VERB + "failed"}:
            assert statement["result"]["success"] is (verb == VERB + "passed")
            if mastery is not None:
                assert context["extensions"][MASTERY_EXTENSION] == mastery
                scaled = statement["result"]["score"]["scaled"]
                assert (scaled >= mastery) is (verb == VERB + "passed")


def test_cmi5_completed_and_passed_follow_the_cmi5_rules(run: Run) -> None:
    statements, scenario = _statements(run, "cmi5-completed-and-passed")
    _assert_cmi5_rules(statements, scenario)
    assert _verbs(statements) == ["initialized", "progressed", "completed", "passed", "terminated"]
    assert scenario.launch["data"]["moveOn"] == "CompletedAndPassed"
    assert run.recorder.fetches[scenario.launch["registration"]] == 1
    passed = statements[3]
    assert passed["result"]["score"] == {"scaled": 0.9, "raw": 90, "min": 0, "max": 100}


def test_cmi5_a_score_under_the_mastery_score_fails(run: Run) -> None:
    statements, scenario = _statements(run, "cmi5-failed")
    _assert_cmi5_rules(statements, scenario)
    assert _verbs(statements) == ["initialized", "completed", "failed", "terminated"]
    assert scenario.launch["data"]["moveOn"] == "Passed"
    stored = [
        body
        for key, body in run.recorder.state.items()
        if key[2] == scenario.launch["registration"] and key[3] == "content-bridge.suspend"
    ]
    assert stored == [b"q=4"]


def test_xapi_statements_are_valid_and_in_order_for_every_part(run: Run) -> None:
    statements, scenario = _statements(run, "xapi-completed")
    links = run.results["xapi-completed"]["links"]
    assert len(links) == 2
    course = scenario.launch["activity"]
    for link in links:
        part = [statement for statement in statements if statement["object"]["id"] == link["activity"]]
        assert _verbs(part) == ["initialized", "progressed", "completed", "terminated"]
        for statement in part:
            assert statement["actor"] == ACTOR
            assert statement["context"]["registration"] == scenario.launch["registration"]
            assert statement["context"]["contextActivities"]["parent"] == [
                {"id": course, "objectType": "Activity"}
            ]
        assert ISO_DURATION.match(part[-1]["result"]["duration"])
    assert {statement["object"]["id"] for statement in statements} == {link["activity"] for link in links}
