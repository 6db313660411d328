"""Assistant revisions at the edges: the exact approval and retirement changes, provenance in full."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from content_service.domain.assistant import AssistantConfigState, Provenance
from content_service.domain.errors import InvalidTransition
from tests.unit.domain.test_assistant import NOW, a_config, a_provenance, with_drafts

LATER = NOW + timedelta(hours=1)


def test_approval_stamps_the_approver_and_time_and_touches_nothing_else() -> None:
    drafts = with_drafts(3)
    approved = drafts.approve("v2r2", "admin-2", LATER)
    first, second, third = approved.revisions
    assert (second.state, second.approved_by, second.approved_at, second.retired_at) == (
        AssistantConfigState.APPROVED, "admin-2", LATER, None
    )
    assert first == drafts.revisions[0] and third == drafts.revisions[2]
    assert approved.updated_at == LATER
    event = approved.events[-1]
    assert (event.name, event.subject_id, event.occurred_at) == ("content.assistant_config.approved.v1", "v2r2", LATER)
    assert event.data == {
        "package_id": "golf",
        "version": 2,
        "output_sha256": second.provenance.output_sha256,
        "approved_by": "admin-2",
        "retired_config_id": None,
    }


def test_approving_a_retired_or_approved_revision_names_its_state() -> None:
    approved = with_drafts(1).approve("v2r1", "admin", NOW)
    message = "assistant config v2r1 is approved: only a draft can be approved"
    with pytest.raises(InvalidTransition, match="^" + re.escape(message) + "$") as raised:
        approved.approve("v2r1", "admin", NOW)
    assert raised.value.extensions == {"state": "approved"}


def test_retiring_takes_one_revision_out_for_good_and_records_when() -> None:
    drafts = with_drafts(2)
    retired = drafts.retire("v2r1", LATER)
    first, second = retired.revisions
    assert (first.state, first.retired_at, first.approved_by) == (AssistantConfigState.RETIRED, LATER, None)
    assert second == drafts.revisions[1]
    assert retired.updated_at == LATER and retired.events == drafts.events
    approved = drafts.approve("v2r2", "admin", NOW).retire("v2r2", LATER)
    assert approved.approved is None and approved.get("v2r2").approved_by == "admin"
    with pytest.raises(InvalidTransition, match="^assistant config v2r1 is already retired$") as raised:
        retired.retire("v2r1", LATER)
    assert raised.value.extensions == {"state": "retired"}


def test_provenance_dict_form_is_complete_and_its_usage_is_integers() -> None:
    provenance = a_provenance(a_config())
    stored = provenance.as_dict()
    assert stored == {
        "generator": "local-extractive",
        "model_id": "yake-0.7.3+luhn",
        "prompt_template_id": "assistant-config.local/v1",
        "prompt_template_sha256": "a" * 64,
        "input": provenance.input.as_dict(),
        "output_sha256": provenance.output_sha256,
        "parameters": {"max_key_terms": 12},
        "requested_by": "admin-1",
        "requested_at": NOW.isoformat(),
        "usage": {},
        "generation_id": None,
    }
    again = Provenance.from_dict({**stored, "usage": {"input_tokens": "12"}})
    assert again.usage == {"input_tokens": 12}
    assert again.requested_at == NOW and again.input == provenance.input
    del stored["usage"]
    assert Provenance.from_dict(stored).usage == {}


def test_a_generation_fails_once_with_its_problem_and_the_problem_survives_its_dict_form() -> None:
    from content_service.domain.assistant import AssistantGeneration, FieldError, GenerationProblem

    job = AssistantGeneration.request(
        tenant_id="t1", generation_id="asg_" + "a" * 32, package_id="pkg_x", version=1,
        parameters={}, requested_by="admin-1", now=NOW,
    )  # fmt: skip
    problem = GenerationProblem(
        "https://problems.content-service.dev/assistant-generation-failed",
        "The assistant generator gave no usable configuration",
        "the generator's output was refused: /questions: 'x' is not of type 'array'",
        (FieldError(("config", "questions"), "assistant.AssistantGenerationFailed", "'x' is not of type 'array'"),),
    )
    failed = job.fail(problem, NOW + timedelta(seconds=1))
    assert failed.state.value == "failed" and failed.problem == problem and failed.config_id is None
    assert failed.problem.code == "assistant.AssistantGenerationFailed"
    assert GenerationProblem.from_dict(problem.as_dict()) == problem
    with pytest.raises(InvalidTransition):
        failed.fail(problem, NOW)


def test_a_problem_stored_in_the_older_code_detail_form_reads_as_problem_details() -> None:
    from content_service.domain.assistant import GenerationProblem

    old = GenerationProblem.from_dict({"code": "assistant.crashed", "detail": "boom", "path": None})
    assert old.code == "assistant.crashed" and old.detail == "boom" and old.title
    assert old.as_dict()["errors"] == [{"loc": [], "type": "assistant.crashed", "msg": "boom"}]
