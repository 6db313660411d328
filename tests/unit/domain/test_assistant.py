"""PackageAssistant: drafts with immutable provenance, one approved revision at a time."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from content_service.domain.assistant import (
    MAX_REVISIONS,
    AssistantConfigState,
    AssistantRevision,
    FileRead,
    InputDigest,
    PackageAssistant,
    Provenance,
    canonical_sha256,
)
from content_service.domain.errors import InvalidTransition, InvariantViolated, NotFound

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HASH = "c" * 64


def a_config(summary: str = "Golf etiquette keeps play safe and quiet for everyone.") -> dict:
    return {
        "schema_version": 1,
        "language": "en",
        "title": "Golf",
        "summary": summary,
        "key_terms": [{"term": "putting line", "source": "Etiquette/Play.html"}],
        "questions": [{"question": "What is a putting line?", "source": "Etiquette/Play.html"}],
        "topic_scope": {"topics": ["etiquette"], "out_of_scope_reply": "Only golf."},
        "reading_level": {"band": "intermediate", "flesch_kincaid_grade": 9.1},
    }


def a_provenance(config: dict, content_hash: str = HASH, who: str = "admin-1") -> Provenance:
    return Provenance(
        generator="local-extractive",
        model_id="yake-0.7.3+luhn",
        prompt_template_id="assistant-config.local/v1",
        prompt_template_sha256="a" * 64,
        input=InputDigest(content_hash, (FileRead("Etiquette/Play.html", "b" * 64),)),
        output_sha256=canonical_sha256(config),
        parameters={"max_key_terms": 12},
        requested_by=who,
        requested_at=NOW,
        usage={},
    )


def a_package_assistant() -> PackageAssistant:
    return PackageAssistant.start(tenant_id="t1", package_id="golf", version=2, content_hash=HASH, now=NOW)


def with_drafts(count: int) -> PackageAssistant:
    assistant = a_package_assistant()
    for index in range(count):
        config = a_config(f"Summary number {index} of the golf course text.")
        assistant = assistant.add_draft(config, a_provenance(config), NOW)
    return assistant


def test_a_generated_config_is_a_draft_with_its_id_provenance_and_event():
    assistant = with_drafts(1)
    draft = assistant.revisions[0]
    assert (draft.config_id, draft.number, draft.state) == ("v2r1", 1, AssistantConfigState.DRAFT)
    assert assistant.approved is None
    event = assistant.events[-1]
    assert event.name == "content.assistant_config.generated.v1" and event.subject_id == "v2r1"
    assert event.data["output_sha256"] == canonical_sha256(draft.config)
    assert event.data["input_sha256"] == draft.provenance.input.sha256
    assert event.data["package_id"] == "golf" and event.data["version"] == 2


def test_approving_a_draft_retires_the_previously_approved_revision_in_the_same_change():
    assistant = with_drafts(2).approve("v2r1", "admin-2", NOW)
    assert assistant.approved.config_id == "v2r1" and assistant.approved.approved_by == "admin-2"
    later = NOW + timedelta(minutes=5)
    assistant = assistant.approve("v2r2", "admin-3", later)
    states = {r.config_id: r.state for r in assistant.revisions}
    assert states == {"v2r1": AssistantConfigState.RETIRED, "v2r2": AssistantConfigState.APPROVED}
    assert assistant.get("v2r1").retired_at == later
    assert assistant.events[-1].name == "content.assistant_config.approved.v1"
    assert assistant.events[-1].data["retired_config_id"] == "v2r1"


def test_only_a_draft_can_be_approved():
    approved = with_drafts(1).approve("v2r1", "admin", NOW)
    with pytest.raises(InvalidTransition):
        approved.approve("v2r1", "admin", NOW)
    retired = approved.retire("v2r1", NOW)
    with pytest.raises(InvalidTransition):
        retired.approve("v2r1", "admin", NOW)
    with pytest.raises(InvalidTransition):
        retired.retire("v2r1", NOW)


def test_an_unknown_revision_is_not_found():
    with pytest.raises(NotFound):
        with_drafts(1).approve("v2r9", "admin", NOW)


def test_a_config_made_from_other_content_is_refused():
    config = a_config()
    with pytest.raises(InvariantViolated, match="other content"):
        a_package_assistant().add_draft(config, a_provenance(config, content_hash="d" * 64), NOW)


def test_revisions_are_capped():
    full = with_drafts(MAX_REVISIONS)
    config = a_config("One more summary of the golf course text here.")
    with pytest.raises(InvariantViolated, match=str(MAX_REVISIONS)):
        full.add_draft(config, a_provenance(config), NOW)


def test_a_config_that_no_longer_matches_its_output_hash_is_refused():
    config = a_config()
    provenance = a_provenance(config)
    altered = copy.deepcopy(config)
    altered["summary"] = "Something the generator never said about golf."
    with pytest.raises(InvariantViolated, match="output hash"):
        AssistantRevision("v2r1", 1, AssistantConfigState.DRAFT, altered, provenance)


def test_the_output_hash_is_canonical_json_so_key_order_does_not_matter():
    config = a_config()
    reordered = dict(reversed(list(config.items())))
    assert canonical_sha256(config) == canonical_sha256(reordered)
    assert canonical_sha256(config) != canonical_sha256(a_config("A different summary of the course."))


def test_provenance_round_trips_and_a_tampered_input_digest_is_refused():
    provenance = a_provenance(a_config())
    stored = provenance.as_dict()
    assert Provenance.from_dict(stored) == provenance
    stored["input"]["files"][0]["sha256"] = "e" * 64
    with pytest.raises(InvariantViolated, match="input digest"):
        Provenance.from_dict(stored)
