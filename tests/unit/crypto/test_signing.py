"""ES256 signing and verification: round trips, every refusal, rotation, KMS adapter logic, vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

from content_service.crypto.jwk import InvalidKey, es256_public_jwk
from content_service.crypto.signing import (
    KMS_RAW_MESSAGE_LIMIT,
    KeyRing,
    KmsSigner,
    LocalSigner,
    MalformedClaims,
    SignatureInvalid,
    Signer,
    SigningFailed,
    TokenExpired,
    TokenNotYetValid,
    UnknownKey,
    WrongTokenType,
    der_to_jose,
    verify,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "es256_der_to_jose_v1.json").read_text())
TYP = "license+jwt"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), unb64(signature)


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)])


def sign_with_joserfc(private_key: ec.EllipticCurvePrivateKey, header: dict[str, Any], payload: bytes) -> str:
    """A validly signed token with whatever header we choose, to test refusals past the signature."""
    return jws.serialize_compact(header, payload, ECKey.import_key(private_key), algorithms=["ES256"])


@pytest.fixture(scope="module")
def private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def signer(private_key) -> LocalSigner:
    return LocalSigner(private_key)


@pytest.fixture(scope="module")
def ring(signer) -> KeyRing:
    return KeyRing([signer])


# Round trip and format


def test_a_local_signer_token_verifies_and_returns_its_claims(signer, ring):
    claims = {"iss": "content-service", "ver": 1, "bundle_id": "bnd_1", "nbf": T, "exp": T + 3600}

    token = signer.sign(claims, typ=TYP)

    assert verify(token, ring.jwks(), typ=TYP, now=NOW) == claims
    assert ring.verify(token, typ=TYP) == claims


def test_the_header_is_exactly_alg_kid_typ(signer):
    header, _, signature = segments(signer.sign({"ver": 1}, typ=TYP))

    assert header == {"alg": "ES256", "kid": signer.kid, "typ": TYP}
    assert len(signature) == 64


def test_the_kid_is_the_rfc7638_thumbprint_of_the_public_jwk(signer):
    jwk = signer.public_jwk()
    # RFC 7638 section 3: the required members in lexicographic order, no whitespace, SHA-256.
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )

    assert signer.kid == b64(hashlib.sha256(canonical.encode()).digest())
    assert jwk["kid"] == signer.kid


def test_the_public_jwk_has_no_private_part(signer):
    assert signer.public_jwk() == {
        "kty": "EC",
        "crv": "P-256",
        "x": signer.public_jwk()["x"],
        "y": signer.public_jwk()["y"],
        "kid": signer.kid,
        "alg": "ES256",
        "use": "sig",
    }


def test_local_and_kms_signers_satisfy_the_signer_port(signer):
    def needs_a_signer(s: Signer) -> str:
        return s.kid

    assert needs_a_signer(signer) == signer.kid
    assert needs_a_signer(LocalSigner.generate()) != signer.kid


def test_a_signer_refuses_a_key_on_another_curve():
    with pytest.raises(InvalidKey):
        LocalSigner(ec.generate_private_key(ec.SECP384R1()))


def test_an_empty_typ_is_a_programming_error(signer, ring):
    with pytest.raises(ValueError):
        signer.sign({}, typ="")
    with pytest.raises(ValueError):
        verify(signer.sign({}, typ=TYP), ring.jwks(), typ="")


# Tampering


def test_a_changed_payload_is_refused(signer, ring):
    header, payload, signature = signer.sign({"device_id": "dev_1"}, typ=TYP).split(".")
    forged_payload = b64(json.dumps({"device_id": "dev_2"}).encode())

    with pytest.raises(SignatureInvalid):
        verify(".".join([header, forged_payload, signature]), ring.jwks(), typ=TYP)


def test_a_changed_header_is_refused(signer, ring):
    token = signer.sign({"ver": 1}, typ="bundle-manifest+jwt")
    _, payload, signature = token.split(".")
    header = b64(json.dumps({"alg": "ES256", "kid": signer.kid, "typ": TYP}).encode())

    with pytest.raises(SignatureInvalid):
        verify(".".join([header, payload, signature]), ring.jwks(), typ=TYP)


@pytest.mark.parametrize("position", [0, 17, 31, 32, 63])
def test_a_flipped_signature_bit_is_refused(signer, ring, position):
    header, payload, signature = signer.sign({"ver": 1}, typ=TYP).split(".")
    raw = bytearray(unb64(signature))
    raw[position] ^= 0x01

    with pytest.raises(SignatureInvalid):
        verify(".".join([header, payload, b64(bytes(raw))]), ring.jwks(), typ=TYP)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-4],
        lambda t: t + ".extra",
        lambda t: t.replace(".", "", 1),
        lambda t: "",
        lambda t: "not a token",
        lambda t: t.rsplit(".", 1)[0] + ".",
    ],
)
def test_a_malformed_token_is_refused_as_invalid(signer, ring, mangle):
    with pytest.raises(SignatureInvalid):
        verify(mangle(signer.sign({"ver": 1}, typ=TYP)), ring.jwks(), typ=TYP)


def test_a_token_that_is_not_a_string_is_refused(ring):
    with pytest.raises(SignatureInvalid):
        verify(b"a.b.c", ring.jwks(), typ=TYP)  # type: ignore[arg-type]


# Algorithm confusion


def test_alg_none_is_refused(signer, ring):
    token = forge({"alg": "none", "kid": signer.kid, "typ": TYP}, {"ver": 1})

    with pytest.raises(SignatureInvalid):
        verify(token, ring.jwks(), typ=TYP)


@pytest.mark.parametrize("secret_of", ["jwk_json", "pem", "x"])
def test_hs256_keyed_with_the_public_key_is_refused(signer, ring, private_key, secret_of):
    public = private_key.public_key()
    secret = {
        "jwk_json": json.dumps(signer.public_jwk()).encode(),
        "pem": public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        "x": signer.public_jwk()["x"].encode(),
    }[secret_of]
    header = b64(json.dumps({"alg": "HS256", "kid": signer.kid, "typ": TYP}).encode())
    payload = b64(json.dumps({"ver": 1}).encode())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()

    with pytest.raises(SignatureInvalid):
        verify(f"{header}.{payload}.{b64(mac)}", ring.jwks(), typ=TYP)


@pytest.mark.parametrize("alg", ["ES384", "RS256", "EdDSA", "es256", ""])
def test_any_alg_but_es256_is_refused(signer, ring, alg):
    _, payload, signature = signer.sign({"ver": 1}, typ=TYP).split(".")
    header = b64(json.dumps({"alg": alg, "kid": signer.kid, "typ": TYP}).encode())

    with pytest.raises(SignatureInvalid):
        verify(f"{header}.{payload}.{signature}", ring.jwks(), typ=TYP)


@pytest.mark.parametrize(
    "extra",
    [{"jku": "https://attacker.example/jwks.json"}, {"crit": ["b64"], "b64": False}, {"cty": "JWT"}],
)
def test_a_validly_signed_token_with_extra_header_members_is_refused(signer, ring, private_key, extra):
    token = sign_with_joserfc(private_key, {"alg": "ES256", "kid": signer.kid, "typ": TYP, **extra}, b"{}")

    with pytest.raises(SignatureInvalid):
        verify(token, ring.jwks(), typ=TYP)


def test_an_embedded_jwk_header_is_not_trusted(ring):
    attacker = ec.generate_private_key(ec.SECP256R1())
    jwk = es256_public_jwk(attacker.public_key())
    token = sign_with_joserfc(attacker, {"alg": "ES256", "kid": jwk["kid"], "typ": TYP, "jwk": jwk}, b"{}")

    with pytest.raises(SignatureInvalid):
        verify(token, ring.jwks(), typ=TYP)


# Keys and types


def test_a_token_from_a_key_not_in_the_set_is_refused_as_unknown_key(ring):
    stranger = LocalSigner.generate()

    with pytest.raises(UnknownKey):
        verify(stranger.sign({"ver": 1}, typ=TYP), ring.jwks(), typ=TYP)


def test_a_token_without_kid_is_refused_even_when_the_set_has_one_key(signer, ring, private_key):
    token = sign_with_joserfc(private_key, {"alg": "ES256", "typ": TYP}, b"{}")

    with pytest.raises(UnknownKey):
        verify(token, ring.jwks(), typ=TYP)


def test_a_stranger_reusing_a_known_kid_fails_the_signature(signer, ring):
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = sign_with_joserfc(stranger, {"alg": "ES256", "kid": signer.kid, "typ": TYP}, b"{}")

    with pytest.raises(SignatureInvalid):
        verify(token, ring.jwks(), typ=TYP)


def test_a_kid_naming_a_symmetric_key_in_the_set_is_unknown(signer):
    jwks = {"keys": [{"kty": "oct", "kid": "k1", "k": b64(b"secret")}, signer.public_jwk()]}
    header = b64(json.dumps({"alg": "ES256", "kid": "k1", "typ": TYP}).encode())

    with pytest.raises(UnknownKey):
        verify(f"{header}.{b64(b'{}')}.{b64(bytes(64))}", jwks, typ=TYP)


def test_another_token_type_is_refused(signer, ring):
    manifest = signer.sign({"ver": 1}, typ="bundle-manifest+jwt")

    with pytest.raises(WrongTokenType):
        verify(manifest, ring.jwks(), typ=TYP)


def test_a_token_without_typ_is_refused_as_the_wrong_type(signer, ring, private_key):
    token = sign_with_joserfc(private_key, {"alg": "ES256", "kid": signer.kid}, b"{}")

    with pytest.raises(WrongTokenType):
        verify(token, ring.jwks(), typ=TYP)


@pytest.mark.parametrize("payload", [b"[1, 2]", b"not json", b'"text"', b'{"exp": NaN}'])
def test_a_signed_payload_that_is_not_a_json_object_is_refused(signer, ring, private_key, payload):
    token = sign_with_joserfc(private_key, {"alg": "ES256", "kid": signer.kid, "typ": TYP}, payload)

    with pytest.raises(MalformedClaims):
        verify(token, ring.jwks(), typ=TYP)


# Time


def test_an_expired_token_is_refused_with_the_injected_clock(signer, ring):
    token = signer.sign({"exp": T}, typ=TYP)

    assert verify(token, ring.jwks(), typ=TYP, now=NOW - timedelta(hours=1))
    assert verify(token, ring.jwks(), typ=TYP, now=NOW + timedelta(seconds=30))  # within leeway
    with pytest.raises(TokenExpired):
        verify(token, ring.jwks(), typ=TYP, now=NOW + timedelta(seconds=61))
    with pytest.raises(TokenExpired):
        verify(token, ring.jwks(), typ=TYP, now=NOW + timedelta(seconds=1), leeway=timedelta(0))


def test_a_token_used_before_nbf_is_refused(signer, ring):
    token = signer.sign({"nbf": T}, typ=TYP)

    assert verify(token, ring.jwks(), typ=TYP, now=NOW)
    with pytest.raises(TokenNotYetValid):
        verify(token, ring.jwks(), typ=TYP, now=NOW - timedelta(minutes=5))


def test_time_claims_are_not_checked_without_a_clock(signer, ring):
    token = signer.sign({"nbf": T + 10**6, "exp": T - 10**6}, typ=TYP)

    assert verify(token, ring.jwks(), typ=TYP) == {"nbf": T + 10**6, "exp": T - 10**6}


def test_a_token_without_time_claims_passes_with_a_clock(signer, ring):
    assert verify(signer.sign({"ver": 1}, typ=TYP), ring.jwks(), typ=TYP, now=NOW) == {"ver": 1}


@pytest.mark.parametrize("claims", [{"exp": "tomorrow"}, {"nbf": True}, {"exp": None}])
def test_ill_typed_time_claims_are_refused(signer, ring, claims):
    with pytest.raises(MalformedClaims):
        verify(signer.sign(claims, typ=TYP), ring.jwks(), typ=TYP, now=NOW)


def test_a_naive_clock_is_a_programming_error(signer, ring):
    with pytest.raises(ValueError):
        verify(signer.sign({"exp": T}, typ=TYP), ring.jwks(), typ=TYP, now=datetime(2026, 11, 28))


# Key ring and rotation


def test_rotation_old_tokens_verify_while_the_old_key_is_listed_and_fail_once_removed():
    old, new = LocalSigner.generate(), LocalSigner.generate()
    before = KeyRing([old])
    old_token = before.sign({"jti": "lic_old"}, typ=TYP)

    during = KeyRing([new, old.public_jwk()])
    new_token = during.sign({"jti": "lic_new"}, typ=TYP)

    assert segments(new_token)[0]["kid"] == new.kid
    assert during.verify(old_token, typ=TYP) == {"jti": "lic_old"}
    assert during.verify(new_token, typ=TYP) == {"jti": "lic_new"}
    with pytest.raises(UnknownKey):
        before.verify(new_token, typ=TYP)

    after = KeyRing([new])
    assert after.verify(new_token, typ=TYP) == {"jti": "lic_new"}
    with pytest.raises(UnknownKey):
        after.verify(old_token, typ=TYP)


def test_the_jwks_lists_every_key_once_public_only_signer_first():
    new, old = LocalSigner.generate(), LocalSigner.generate()

    jwks = KeyRing([new, old, old.public_jwk()]).jwks()

    assert [k["kid"] for k in jwks["keys"]] == [new.kid, old.kid]
    for key in jwks["keys"]:
        assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")


def test_a_ring_led_by_a_public_key_cannot_sign():
    ring = KeyRing([LocalSigner.generate().public_jwk()])

    with pytest.raises(InvalidKey):
        ring.sign({}, typ=TYP)


def test_an_empty_ring_is_refused():
    with pytest.raises(InvalidKey):
        KeyRing([])


@pytest.mark.parametrize(
    "change",
    [
        {"d": "AAAA"},
        {"kid": "not-the-thumbprint"},
        {"crv": "P-384"},
        {"alg": "HS256"},
        {"use": "enc"},
        {"x": "AAAA"},
    ],
)
def test_a_ring_refuses_a_jwk_that_is_not_a_public_es256_key(change):
    jwk = {**LocalSigner.generate().public_jwk(), **change}

    with pytest.raises(InvalidKey):
        KeyRing([jwk]).jwks()


# KMS signer logic, against an in-process fake KMS (the moto run is in tests/integration/crypto)


class FakeKms:
    """Signs like KMS: DER ECDSA over SHA-256 of RAW input, or over a given DIGEST."""

    def __init__(
        self, key_spec: str = "ECC_NIST_P256", signing_key: ec.EllipticCurvePrivateKey | None = None
    ):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.signing_key = signing_key or self.key
        self.key_spec = key_spec
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_public_key(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetPublicKey", kwargs))
        der = self.key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return {
            "KeyId": kwargs["KeyId"],
            "PublicKey": der,
            "KeySpec": self.key_spec,
            "KeyUsage": "SIGN_VERIFY",
        }

    def sign(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("Sign", kwargs))
        assert kwargs["SigningAlgorithm"] == "ECDSA_SHA_256"
        if kwargs["MessageType"] == "RAW":
            assert len(kwargs["Message"]) <= KMS_RAW_MESSAGE_LIMIT
            der = self.signing_key.sign(kwargs["Message"], ec.ECDSA(hashes.SHA256()))
        else:
            der = self.signing_key.sign(kwargs["Message"], ec.ECDSA(Prehashed(hashes.SHA256())))
        return {"KeyId": kwargs["KeyId"], "Signature": der, "SigningAlgorithm": "ECDSA_SHA_256"}


def test_a_kms_signer_signs_raw_and_fetches_the_public_key_once():
    kms = FakeKms()
    signer = KmsSigner(kms, "alias/signing")

    tokens = [signer.sign({"n": n}, typ=TYP) for n in range(3)]

    assert signer.kid == LocalSigner(kms.key).kid
    assert [name for name, _ in kms.calls].count("GetPublicKey") == 1
    assert {call["MessageType"] for name, call in kms.calls if name == "Sign"} == {"RAW"}
    for n, token in enumerate(tokens):
        assert verify(token, KeyRing([signer]).jwks(), typ=TYP) == {"n": n}


def test_a_kms_signer_refuses_input_over_the_raw_limit_unless_digests_are_allowed():
    kms = FakeKms()
    big = {"keys": ["x" * 5000]}

    with pytest.raises(SigningFailed):
        KmsSigner(kms, "k").sign(big, typ=TYP)

    token = KmsSigner(kms, "k", digest_large_messages=True).sign(big, typ=TYP)
    assert kms.calls[-1][1]["MessageType"] == "DIGEST"
    assert verify(token, {"keys": [LocalSigner(kms.key).public_jwk()]}, typ=TYP) == big


def test_a_kms_signer_refuses_a_signature_that_does_not_match_its_public_key():
    kms = FakeKms(signing_key=ec.generate_private_key(ec.SECP256R1()))

    with pytest.raises(SigningFailed):
        KmsSigner(kms, "k").sign({}, typ=TYP)


def test_a_kms_signer_refuses_a_key_that_is_not_p256():
    with pytest.raises(InvalidKey):
        KmsSigner(FakeKms(key_spec="RSA_2048"), "k").sign({}, typ=TYP)


# DER -> JOSE vectors


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_der_signatures_convert_to_jose_r_s(case):
    jose = der_to_jose(bytes.fromhex(case["der"]))

    assert jose.hex() == case["jose"]
    assert len(jose) == 64


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_der_signatures_that_do_not_fit_p256_are_refused(case):
    with pytest.raises(SigningFailed):
        der_to_jose(bytes.fromhex(case["der"]))


def test_the_rfc7515_a3_vector_converted_from_der_verifies_as_jose():
    rfc = VECTORS["rfc7515_a3"]
    case = next(c for c in VECTORS["valid"] if c["name"] == "rfc7515-a3")
    key = ECKey.import_key(rfc["public_jwk"])

    assert JWSRegistry.algorithms["ES256"].verify(
        rfc["signing_input"].encode(), der_to_jose(bytes.fromhex(case["der"])), key
    )
