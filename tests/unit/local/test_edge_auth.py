"""The local edge's signature rules, checked without a server: canned and custom policies."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit

import pytest

from content_service.crypto.cdn import CdnKeyPair, CdnSigner, cloudfront_b64encode, generate_key_pair
from content_service.local.edge_auth import AccessDenied, SignatureChecker, SignedRequest, resource_matches

ORIGIN = "http://127.0.0.1:8443"
NOW = 1_900_000_000
LATER = dt.datetime.fromtimestamp(NOW + 300, dt.UTC)


@pytest.fixture(scope="module")
def key_pair() -> CdnKeyPair:
    return generate_key_pair()


@pytest.fixture(scope="module")
def signer(key_pair: CdnKeyPair) -> CdnSigner:
    return CdnSigner("KTEST", key_pair.private_key_pem, ORIGIN)


@pytest.fixture(scope="module")
def checker(key_pair: CdnKeyPair) -> SignatureChecker:
    return SignatureChecker({"KTEST": key_pair.public_key_pem}, clock=lambda: NOW)


def _request(url: str) -> SignedRequest:
    split = urlsplit(url)
    return SignedRequest.parse(ORIGIN, split.path, split.query)


def _refusal(checker: SignatureChecker, url: str, client_ip: str = "127.0.0.1") -> str:
    with pytest.raises(AccessDenied) as refused:
        checker.check(_request(url), client_ip)
    return refused.value.code


def test_the_resource_keeps_other_query_parameters_in_order_and_drops_the_signing_ones() -> None:
    request = SignedRequest.parse(ORIGIN, "/a%20b", "x=1&Expires=5&y=%2F&Signature=s&Key-Pair-Id=K")
    assert request.resource == ORIGIN + "/a%20b?x=1&y=%2F"
    assert request.parameters == {"Expires": "5", "Signature": "s", "Key-Pair-Id": "K"}


def test_a_repeated_signing_parameter_is_refused() -> None:
    with pytest.raises(AccessDenied):
        SignedRequest.parse(ORIGIN, "/a", "Expires=1&Expires=2")


def test_a_fresh_canned_url_with_its_own_query_passes(checker: SignatureChecker, signer: CdnSigner) -> None:
    checker.check(_request(signer.signed_url("tenants/t1/a.cspc?v=3", LATER)), "127.0.0.1")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("/a.cspc", "/b.cspc"),
        lambda url: url.replace("v=3", "v=4"),
        lambda url: url.replace("?v=3&", "?v=3&w=1&"),
        lambda url: url.replace("Expires=", "Expires=1"),
    ],
    ids=["path", "query value", "added query", "expiry"],
)
def test_any_change_to_a_canned_url_is_refused(
    checker: SignatureChecker, signer: CdnSigner, tamper: object
) -> None:
    url = signer.signed_url("tenants/t1/a.cspc?v=3", LATER)
    assert _refusal(checker, tamper(url)) == "AccessDenied"  # type: ignore[operator]


def test_an_expired_canned_url_is_refused(key_pair: CdnKeyPair, signer: CdnSigner) -> None:
    url = signer.signed_url("a", LATER)
    late = SignatureChecker({"KTEST": key_pair.public_key_pem}, clock=lambda: NOW + 300)
    assert _refusal(late, url) == "AccessDenied"


def test_missing_or_unknown_keys_and_signatures_are_refused(
    checker: SignatureChecker, signer: CdnSigner
) -> None:
    url = signer.signed_url("a", LATER)
    assert _refusal(checker, ORIGIN + "/a") == "MissingKey"
    assert _refusal(checker, url.replace("Key-Pair-Id=KTEST", "Key-Pair-Id=KOTHER")) == "InvalidKey"
    assert _refusal(checker, url.split("&Signature=")[0] + "&Key-Pair-Id=KTEST") == "MissingSignature"
    assert _refusal(checker, url.replace("Signature=", "Signature=AAAA")) == "AccessDenied"
    assert _refusal(checker, url.replace("Signature=", "Signature=!")) == "AccessDenied"


def test_a_url_signed_by_another_key_under_a_trusted_id_is_refused(checker: SignatureChecker) -> None:
    impostor = CdnSigner("KTEST", generate_key_pair().private_key_pem, ORIGIN)
    assert _refusal(checker, impostor.signed_url("a", LATER)) == "AccessDenied"


def test_a_prefix_policy_admits_every_object_under_the_prefix_only(
    checker: SignatureChecker, signer: CdnSigner
) -> None:
    url = signer.signed_prefix_url("tenants/t1/m.jws", "tenants/t1/", LATER)
    query = urlsplit(url).query
    checker.check(_request(url), "127.0.0.1")
    checker.check(_request(f"{ORIGIN}/tenants/t1/containers/p/v1/h.cspc?{query}"), "127.0.0.1")
    assert _refusal(checker, f"{ORIGIN}/tenants/t2/m.jws?{query}") == "AccessDenied"


def test_custom_policy_time_and_address_conditions_hold(checker: SignatureChecker, signer: CdnSigner) -> None:
    early = signer.signed_prefix_url("t/a", "t/", LATER, not_before=LATER - dt.timedelta(seconds=60))
    assert _refusal(checker, early) == "AccessDenied"
    expired = signer.signed_prefix_url("t/a", "t/", dt.datetime.fromtimestamp(NOW, dt.UTC))
    assert _refusal(checker, expired) == "AccessDenied"
    elsewhere = signer.signed_prefix_url("t/a", "t/", LATER, ip_address="10.0.0.0/8")
    assert _refusal(checker, elsewhere, client_ip="127.0.0.1") == "AccessDenied"
    checker.check(_request(elsewhere), "10.1.2.3")


def test_a_policy_swapped_under_a_signature_is_refused(checker: SignatureChecker, signer: CdnSigner) -> None:
    url = signer.signed_prefix_url("t/a", "t/", LATER)
    wider = json.dumps(
        {"Statement": [{"Resource": "*", "Condition": {"DateLessThan": {"AWS:EpochTime": NOW + 9}}}]}
    )
    head, _, rest = url.partition("Policy=")
    swapped = head + "Policy=" + cloudfront_b64encode(wider.encode()) + "&" + rest.split("&", 1)[1]
    assert _refusal(checker, swapped) == "AccessDenied"


def test_a_signed_policy_without_an_expiry_is_malformed(
    key_pair: CdnKeyPair, checker: SignatureChecker
) -> None:
    signer = CdnSigner("KTEST", key_pair.private_key_pem, ORIGIN)
    policy = json.dumps({"Statement": [{"Resource": "*", "Condition": {}}]}).encode()
    signature = cloudfront_b64encode(signer._rsa_sha1(policy))
    url = f"{ORIGIN}/a?Policy={cloudfront_b64encode(policy)}&Signature={signature}&Key-Pair-Id=KTEST"
    assert _refusal(checker, url) == "MalformedPolicy"


def test_canned_and_custom_parameters_cannot_be_mixed(checker: SignatureChecker, signer: CdnSigner) -> None:
    url = signer.signed_prefix_url("t/a", "t/", LATER)
    assert _refusal(checker, url + "&Expires=1") == "MalformedPolicy"


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        ("http://h/t/*", "http://h/t/a/b?x=1", True),
        ("http://h/t/*", "http://h/u/a", False),
        ("http*://h/a", "https://h/a", True),
        ("http://h/?.bin", "http://h/a.bin", True),
        ("http://h/?.bin", "http://h/ab.bin", False),
        ("http://h/a.b", "http://h/aXb", False),
    ],
)
def test_policy_wildcards_follow_cloudfront(pattern: str, resource: str, matches: bool) -> None:
    assert resource_matches(pattern, resource) is matches
