"""The code's figures and the template's dashboards and alarms agree, and every alarm can be acted on.

A figure is a (metric name, dimension names) pair in the ContentService namespace: CloudWatch keeps
``BuildSucceeded{service}`` and ``BuildSucceeded{service, standard}`` as two metrics, so a widget that
names the wrong dimensions shows nothing even when the name is right. The code's figures are read
from its source (every ``metrics.count/seconds/milliseconds/bytes`` call, its name resolved through
the module-level string constants), so a figure nobody emits, or one emitted and never shown, fails
here rather than on a blank dashboard.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "shared" / "content_service", ROOT / "functions"]
RUNBOOK = ROOT / "docs" / "runbook.md"
NAMESPACE = "ContentService"
METHODS = {"count", "seconds", "milliseconds", "bytes"}

Figure = tuple[str, frozenset[str]]

# Figures a dashboard or alarm may name before the code that emits them is merged. Each entry says
# who emits it; `test_a_pending_figure_is_dropped_from_the_list_once_the_code_emits_it` fails as
# soon as it is emitted, so the list cannot outlive its reason.
PENDING: dict[Figure, str] = {}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    document, errors = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not errors, errors
    return json.loads(json.dumps(document))


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _string_constants() -> dict[str, set[str]]:
    constants: dict[str, set[str]] = {}
    for _, module in _modules():
        for node in module.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                constants.setdefault(node.targets[0].id, set()).add(node.value.value)
    return constants


def emitted_figures() -> tuple[set[Figure], list[str]]:
    """Every figure the code emits, and the calls whose figure cannot be read from the source."""
    constants = _string_constants()
    figures: set[Figure] = set()
    unreadable: list[str] = []
    for path, module in _modules():
        for node in ast.walk(module):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in METHODS
                and ast.unparse(node.func.value).endswith("metrics")
            ):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            name = _figure_name(node.args[0] if node.args else None, constants)
            dimensions = [kw.arg for kw in node.keywords if kw.arg != "value"]
            if name is None or None in dimensions:
                unreadable.append(where)
                continue
            figures.add((name, frozenset(d for d in dimensions if d is not None)))
    return figures, unreadable


def _figure_name(arg: ast.expr | None, constants: dict[str, set[str]]) -> str | None:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    symbol = arg.id if isinstance(arg, ast.Name) else arg.attr if isinstance(arg, ast.Attribute) else None
    values = constants.get(symbol or "", set())
    return next(iter(values)) if len(values) == 1 else None


_SEARCH = re.compile(r"\{(?P<namespace>[\w/]+),(?P<dimensions>[\w,]+)\}\s+MetricName=\"(?P<name>\w+)\"")


def dashboard_figures(template: dict[str, Any]) -> dict[str, set[Figure]]:
    """Dashboard logical id → the figures of our namespace its widgets name."""
    shown: dict[str, set[Figure]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Dashboard":
            continue
        body = resource["Properties"]["DashboardBody"]
        if isinstance(body, dict):
            body = body["Fn::Sub"]
            body = body[0] if isinstance(body, list) else body  # !Sub [text, variables]
        body = json.loads(body)
        figures = shown.setdefault(logical_id, set())
        for widget in body["widgets"]:
            for row in widget["properties"].get("metrics", []):
                figures.update(_row_figures(row))
    return shown


def _row_figures(row: list[Any]) -> Iterator[Figure]:
    if isinstance(row[0], dict):
        for found in _SEARCH.finditer(row[0]["expression"]):
            if found["namespace"] == NAMESPACE:
                yield found["name"], frozenset(found["dimensions"].split(",")) - {"service"}
        return
    namespace, name, *rest = [cell for cell in row if not isinstance(cell, dict)]
    if namespace == NAMESPACE:
        dimensions = dict(zip(rest[::2], rest[1::2], strict=True))
        assert dimensions.get("service") == "content-service", row
        yield name, frozenset(dimensions) - {"service"}


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    }


def alarm_figures(template: dict[str, Any]) -> dict[str, set[Figure]]:
    """Metric alarm logical id → the figures of our namespace it watches."""
    watched: dict[str, set[Figure]] = {}
    for logical_id, props in alarms(template).items():
        metrics = (
            [props]
            if "MetricName" in props
            else [
                query["MetricStat"]["Metric"] for query in props.get("Metrics", []) if "MetricStat" in query
            ]
        )
        for metric in metrics:
            if metric["Namespace"] != NAMESPACE:
                continue
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            assert dimensions.get("service") == "content-service", logical_id
            watched.setdefault(logical_id, set()).add(
                (metric["MetricName"], frozenset(dimensions) - {"service"})
            )
    return watched


def _union(groups: dict[str, set[Figure]]) -> set[Figure]:
    return set().union(*groups.values()) if groups else set()


def test_every_metric_call_names_its_figure_readably() -> None:
    figures, unreadable = emitted_figures()
    assert unreadable == [], "name each figure by a string constant at the call"
    # The scan really finds the figures (so the comparisons below compare something).
    assert {("TamperEvents", frozenset()), ("BuildRejected", frozenset({"problem"}))} <= figures


def test_every_figure_a_widget_or_alarm_names_is_emitted_by_the_code(template) -> None:
    emitted, _ = emitted_figures()
    named = _union(dashboard_figures(template)) | _union(alarm_figures(template))
    assert sorted(named - emitted - set(PENDING)) == []


def test_every_figure_the_code_emits_is_on_a_dashboard(template) -> None:
    emitted, _ = emitted_figures()
    assert sorted(emitted - _union(dashboard_figures(template))) == []


def test_a_pending_figure_is_dropped_from_the_list_once_the_code_emits_it() -> None:
    emitted, _ = emitted_figures()
    assert sorted(set(PENDING) & emitted) == [], "now emitted: delete it from PENDING"


def test_the_comparison_catches_a_widget_with_the_wrong_dimensions(template) -> None:
    emitted, _ = emitted_figures()
    row = [
        "ContentService",
        "BuildSucceeded",
        "service",
        "content-service",
        "format",
        "cmi5",
        {"stat": "Sum"},
    ]
    assert set(_row_figures(row)) - emitted == {("BuildSucceeded", frozenset({"format"}))}


def test_there_is_a_dashboard_per_flow(template) -> None:
    assert set(dashboard_figures(template)) == {
        "BuildDashboard",
        "ImportDashboard",
        "BundleDashboard",
        "DeliveryDashboard",
        "ExportDashboard",
        "AssistantDashboard",
        "RevocationDashboard",
    }


def _dead_letter_queues(template: dict[str, Any]) -> set[str]:
    queues = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        target = props.get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if target:
            queues.add(target["Fn::GetAtt"][0])
        for event in props.get("Events", {}).values():
            on_failure = event.get("Properties", {}).get("DestinationConfig", {}).get("OnFailure", {})
            if on_failure.get("Type") == "SQS":
                queues.add(on_failure["Destination"]["Fn::GetAtt"][0])
    return queues


def test_every_dead_letter_queue_has_a_depth_alarm(template) -> None:
    watched = {
        props["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for props in alarms(template).values()
        if props.get("Namespace") == "AWS/SQS"
        and props.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    dead_letters = _dead_letter_queues(template)
    assert len(dead_letters) == 7
    assert sorted(dead_letters - watched) == []


def _composite_children(template: dict[str, Any]) -> set[str]:
    children = set()
    for props in alarms(template).values():
        rule = props.get("AlarmRule")
        if rule:
            children.update(re.findall(r"\$\{(\w+)\.Arn\}", rule["Fn::Sub"]))
    return children


def test_every_alarm_notifies_the_topic_or_feeds_a_composite_alarm_that_does(template) -> None:
    children = _composite_children(template)
    for logical_id, props in alarms(template).items():
        if logical_id in children:
            assert "AlarmActions" not in props, f"{logical_id} is one window of a burn-rate pair"
        else:
            assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
    assert template["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"


def test_each_slo_ratio_pages_on_a_fast_burn_and_tickets_on_a_slow_one(template) -> None:
    composites = {logical_id: props for logical_id, props in alarms(template).items() if "AlarmRule" in props}
    assert set(composites) == {
        f"{slo}{speed}BurnAlarm"
        for slo in ("BuildSuccess", "BundleCreate", "Download")
        for speed in ("Fast", "Slow")
    }
    every = alarms(template)
    for logical_id, props in composites.items():
        long_window, short_window = re.findall(r"\$\{(\w+)\.Arn\}", props["AlarmRule"]["Fn::Sub"])
        periods = [
            {q["MetricStat"]["Period"] for q in every[child]["Metrics"] if "MetricStat" in q}
            for child in (long_window, short_window)
        ]
        expected = [{3600}, {300}] if "Fast" in logical_id else [{21600}, {1800}]
        assert periods == expected, logical_id
        assert " AND " in props["AlarmRule"]["Fn::Sub"]


def _runbook_anchors() -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


def test_every_alarm_description_links_a_section_of_the_runbook(template) -> None:
    anchors = _runbook_anchors()
    for logical_id, props in alarms(template).items():
        description = props["AlarmDescription"]["Fn::Sub"]
        found = re.search(r"Runbook: \$\{RunbookUrl\}#([\w-]+)$", description)
        assert found, f"{logical_id}: the description must end with 'Runbook: ${{RunbookUrl}}#<section>'"
        assert found[1] in anchors, f"{logical_id}: docs/runbook.md has no section #{found[1]}"
