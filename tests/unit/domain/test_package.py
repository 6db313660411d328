"""PlayPackage: the state machine, its invariants and the events it records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content_service.domain.errors import InvalidTransition, InvariantViolated
from content_service.domain.package import (
    DeclaredUpload,
    FileEntry,
    Launch,
    PackageManifest,
    PackageState,
    PlayPackage,
    Problem,
    Standard,
    can_transition,
    content_hash,
    path_key,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SHA = "0" * 64


def a_manifest(*paths: str) -> PackageManifest:
    files = tuple(FileEntry(p, 10, "text/html", SHA) for p in (paths or ("index.html",)))
    return PackageManifest(
        standard=Standard.NATIVE,
        title="Welcome",
        language="en",
        launches=(Launch("entry", "Welcome", files[0].path),),
        files=files,
    )


def a_package() -> PlayPackage:
    return PlayPackage.start_building(
        tenant_id="t1", package_id="p1", version=1, source_key="uploads/t1/p1/v1/source.zip", now=NOW
    )


def test_a_new_package_is_building_and_records_its_event():
    package = a_package()
    assert package.state is PackageState.BUILDING
    assert [e.name for e in package.events] == ["content.package.building.v1"]


def test_a_built_package_keeps_a_summary_of_its_manifest():
    manifest = a_manifest("index.html", "b.css")
    built = a_package().mark_built(manifest, NOW)
    assert built.state is PackageState.BUILT
    assert built.summary is not None
    assert built.summary.file_count == 2
    assert built.summary.total_bytes == 20
    assert built.summary.content_hash == manifest.content_hash
    assert built.last_event is not None and built.last_event.name == "content.package.built.v1"


def test_a_failed_package_keeps_its_problem_and_is_final():
    failed = a_package().mark_failed(Problem("zip.traversal", "nope", "../x"), NOW)
    assert failed.problem == Problem("zip.traversal", "nope", "../x")
    with pytest.raises(InvalidTransition):
        failed.mark_built(a_manifest(), NOW)
    with pytest.raises(InvalidTransition):
        failed.revoke("why", NOW)


def test_revoking_needs_a_reason():
    built = a_package().mark_built(a_manifest(), NOW)
    with pytest.raises(InvariantViolated):
        built.revoke("  ", NOW)
    assert built.revoke("withdrawn", NOW).state is PackageState.REVOKED


@pytest.mark.parametrize(("tenant", "package", "version"), [("", "p", 1), ("t", "", 1), ("t", "p", 0)])
def test_a_package_needs_a_tenant_an_id_and_a_positive_version(tenant, package, version):
    with pytest.raises(InvariantViolated):
        PlayPackage.start_building(
            tenant_id=tenant, package_id=package, version=version, source_key="k", now=NOW
        )


def test_a_package_is_stale_only_while_building_past_the_timeout():
    package = a_package()
    assert not package.is_stale(NOW + timedelta(seconds=59), 60)
    assert package.is_stale(NOW + timedelta(seconds=61), 60)
    assert not package.mark_built(a_manifest(), NOW).is_stale(NOW + timedelta(days=1), 60)


@pytest.mark.parametrize(
    ("first", "second"),
    [("Index.html", "index.html"), ("caf\u00e9.html", "cafe\u0301.html"), ("STRASSE.txt", "stra\u00dfe.txt")],
)
def test_paths_colliding_under_case_folding_or_nfc_are_refused(first, second):
    assert path_key(first) == path_key(second)
    with pytest.raises(InvariantViolated, match="collide"):
        a_manifest(first, second)


def test_a_launch_must_name_a_file_of_the_package():
    with pytest.raises(InvariantViolated, match="not in the package"):
        PackageManifest(
            standard=Standard.SCORM12,
            title="t",
            language=None,
            launches=(Launch("sco1", "SCO", "missing.html"),),
            files=(FileEntry("index.html", 1, "text/html", SHA),),
        )


def test_a_package_needs_a_launch():
    with pytest.raises(InvariantViolated, match="launch"):
        PackageManifest(Standard.XAPI, "t", None, (), (FileEntry("a", 1, "x", SHA),))


def test_the_content_hash_is_over_the_sorted_file_list_and_is_checked():
    a = FileEntry("a.html", 1, "text/html", "1" * 64)
    b = FileEntry("b.html", 2, "text/html", "2" * 64)
    assert content_hash([a, b]) == content_hash([b, a])
    assert content_hash([a, b]) != content_hash([a, FileEntry("b.html", 3, "text/html", "2" * 64)])
    manifest = a_manifest()
    with pytest.raises(InvariantViolated, match="content hash"):
        PackageManifest(
            manifest.standard,
            manifest.title,
            manifest.language,
            manifest.launches,
            manifest.files,
            {},
            "f" * 64,
        )


def test_a_manifest_survives_a_round_trip_through_its_dict_form():
    manifest = a_manifest("index.html", "img/a.png")
    assert PackageManifest.from_dict(manifest.as_dict()) == manifest


ACTIONS = st.sampled_from(["built", "failed", "revoked"])


@given(st.lists(ACTIONS, max_size=8))
def test_any_sequence_of_transitions_follows_the_state_machine(actions):
    package = a_package()
    for action in actions:
        before = package.state
        target = PackageState(action)
        try:
            if action == "built":
                package = package.mark_built(a_manifest(), NOW)
            elif action == "failed":
                package = package.mark_failed(Problem("x", "y"), NOW)
            else:
                package = package.revoke("reason", NOW)
        except InvalidTransition:
            assert not can_transition(before, target)
            assert package.state is before
        else:
            assert can_transition(before, target)
            assert package.state is target
            assert package.last_event is not None
            assert package.last_event.name == f"content.package.{action}.v1"
    # There is no way back: final states stay final, and building is never re-entered.
    if package.state in (PackageState.FAILED, PackageState.REVOKED):
        assert not any(can_transition(package.state, s) for s in PackageState)
    assert len(package.events) >= 1


def test_a_package_keeps_the_upload_it_declared_through_its_transitions():
    declared = DeclaredUpload("application/zip", 2129)
    package = PlayPackage.start_building(
        tenant_id="t1", package_id="p1", version=1, source_key="k", now=NOW, declared_upload=declared
    )
    assert package.declared_upload.as_dict() == {"content_type": "application/zip", "content_length": 2129}
    assert package.mark_failed(Problem("upload.length_mismatch", "x"), NOW).declared_upload == declared


@pytest.mark.parametrize(("content_type", "length"), [("", 10), ("application/zip", -1)])
def test_a_declared_upload_needs_a_type_and_a_non_negative_length(content_type, length):
    with pytest.raises(InvariantViolated):
        DeclaredUpload(content_type, length)
