"""Tamper evidence is corroborated only when it contradicts what the service stored."""

from __future__ import annotations

from datetime import UTC, datetime

from content_service.domain.bundle import Bundle, BundlePackage
from content_service.domain.package import ContainerRef
from content_service.domain.tamper import TamperEvidence, corroborates

STORED = "a" * 64


def bundle() -> Bundle:
    member = BundlePackage("pkg", 2, "c" * 64, ContainerRef("k", 10, STORED))
    now = datetime(2026, 12, 1, tzinfo=UTC)
    made = Bundle.create(
        tenant_id="t", bundle_id="b", user_id="u", residency_zone="eu", packages=(member,), now=now
    )
    return made.mark_built("m", "d" * 64, now)


def test_a_container_mismatch_against_the_stored_digest_is_corroborated():
    assert corroborates(bundle(), TamperEvidence("container", STORED, "0" * 64, "pkg", 2))
    assert corroborates(bundle(), TamperEvidence("manifest", "d" * 64, "0" * 64))


def test_evidence_that_does_not_contradict_the_store_is_not():
    assert not corroborates(bundle(), None)
    assert not corroborates(bundle(), TamperEvidence("container", STORED, STORED, "pkg", 2))
    assert not corroborates(bundle(), TamperEvidence("container", "b" * 64, "0" * 64, "pkg", 2))
    assert not corroborates(bundle(), TamperEvidence("container", STORED, "0" * 64, "pkg", 3))
    assert not corroborates(bundle(), TamperEvidence("licence", STORED, "0" * 64))
