"""The stored dict forms of manifests and bundle members round-trip every field, and nothing else."""

from __future__ import annotations

import pytest

from content_service.domain.bundle import BundlePackage
from content_service.domain.errors import InvariantViolated
from content_service.domain.package import ContainerRef, FileEntry, Launch, PackageManifest, Standard

SHA = "1" * 64


def a_full_manifest() -> PackageManifest:
    return PackageManifest(
        standard=Standard.SCORM12,
        title="Fire safety",
        language="de",
        launches=(Launch("sco1", "Start", "a/index.html", "?x=1", "sco", {"mastery": 80}),),
        files=(FileEntry("a/index.html", 12, "text/html", SHA), FileEntry("b.js", 3, "text/javascript", SHA)),
        metadata={"version": "1.2"},
    )


def test_a_manifest_round_trips_through_its_dict_form() -> None:
    manifest = a_full_manifest()
    data = manifest.as_dict()
    assert data == {
        "standard": "scorm12",
        "title": "Fire safety",
        "language": "de",
        "launches": [launch.as_dict() for launch in manifest.launches],
        "files": [
            {"path": "a/index.html", "size": 12, "media_type": "text/html", "sha256": SHA},
            {"path": "b.js", "size": 3, "media_type": "text/javascript", "sha256": SHA},
        ],
        "metadata": {"version": "1.2"},
        "content_hash": manifest.content_hash,
    }
    again = PackageManifest.from_dict(data)
    assert again == manifest
    assert again.standard is Standard.SCORM12 and again.launches[0].attributes == {"mastery": 80}
    assert manifest.total_bytes == 15


def test_a_manifest_dict_without_the_optional_fields_gets_their_defaults() -> None:
    data = a_full_manifest().as_dict()
    for optional in ("language", "metadata", "content_hash"):
        del data[optional]
    manifest = PackageManifest.from_dict(data)
    assert (manifest.language, manifest.metadata) == (None, {})
    assert manifest.content_hash == a_full_manifest().content_hash


def test_a_manifest_dict_with_a_wrong_content_hash_is_refused() -> None:
    data = a_full_manifest().as_dict()
    data["content_hash"] = "f" * 64
    with pytest.raises(InvariantViolated, match="^the content hash does not match the file list$"):
        PackageManifest.from_dict(data)


def test_a_bundle_member_round_trips_and_its_version_is_an_int() -> None:
    member = BundlePackage("pkg_1", 3, SHA, ContainerRef("containers/t/pkg_1/3", 99, "2" * 64))
    data = member.as_dict()
    assert data == {
        "package_id": "pkg_1",
        "version": 3,
        "content_hash": SHA,
        "container": {"key": "containers/t/pkg_1/3", "size": 99, "sha256": "2" * 64},
    }
    assert BundlePackage.from_dict(data) == member
    assert BundlePackage.from_dict({**data, "version": "3"}).version == 3


def test_a_manifest_built_without_a_content_hash_gets_the_hash_of_its_files() -> None:
    from content_service.domain.package import content_hash

    manifest = a_full_manifest()
    assert manifest.content_hash == content_hash(manifest.files)
    assert len(manifest.content_hash) == 64
