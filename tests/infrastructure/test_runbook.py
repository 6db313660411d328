"""docs/runbook.md: every link inside it lands on one of its sections."""

from __future__ import annotations

import re

from tests.infrastructure.test_metrics_agree import RUNBOOK, _runbook_anchors


def _links(text: str) -> set[str]:
    return set(re.findall(r"\]\(#([\w-]+)\)", text))


def test_every_link_inside_the_runbook_names_one_of_its_sections() -> None:
    links = _links(RUNBOOK.read_text(encoding="utf-8"))
    assert links, "the runbook links its sections to one another"
    assert sorted(links - _runbook_anchors()) == []


def test_the_link_check_catches_a_missing_section() -> None:
    assert _links("see [x](#no-such-section)") - _runbook_anchors() == {"no-such-section"}
