"""ES256 compact JWS: signers (KMS and local), a key ring for rotation, and strict verification.

Bundle manifests and licences are compact JWS (RFC 7515) with the protected header
``{"alg": "ES256", "kid": <RFC 7638 thumbprint>, "typ": ...}``. joserfc builds and checks the
JWS; KMS only ever sees the signing input. Verification raises a typed error and never returns
a bool; the clock is a parameter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError, UnsupportedAlgorithmError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry
from joserfc.registry import Header

from content_service.crypto.jwk import (
    ES256,
    InvalidKey,
    es256_public_jwk,
    es256_public_jwk_from_der,
    import_es256_public_jwk,
)
from content_service.domain.errors import PROBLEM_BASE, DomainError

#: The only header members a token may carry; ``crit``, ``b64``, ``jwk``, ``jku`` and friends are refused.
ALLOWED_HEADER = frozenset({"alg", "kid", "typ"})
#: Real KMS refuses a ``MessageType=RAW`` message longer than this many bytes.
KMS_RAW_MESSAGE_LIMIT = 4096
#: P-256 scalars are 32 bytes; a JOSE ES256 signature is r || s, 64 bytes.
_P256_SCALAR_BYTES = 32
DEFAULT_LEEWAY = timedelta(seconds=60)
#: The issuer every token of the service names.
ISSUER = "content-service"
#: The signed key set document devices refresh their pinned keys from.
JWKS_TYPE = "jwk-set+jwt"
JWKS_VERSION = 1
JWKS_CACHE = timedelta(minutes=5)


class TokenError(DomainError):
    """Base of every reason a signed token is refused."""

    problem_type = PROBLEM_BASE + "token-invalid"
    title = "The signed token is not valid"
    status = 401


class SignatureInvalid(TokenError):
    """The token is malformed, uses another algorithm, or its signature does not verify."""

    problem_type = PROBLEM_BASE + "token-signature-invalid"
    title = "The token's signature does not verify"


class UnknownKey(TokenError):
    """The token names no key (``kid``) of the key set it is checked against."""

    problem_type = PROBLEM_BASE + "token-unknown-key"
    title = "The token was signed by an unknown key"


class WrongTokenType(TokenError):
    """The token verifies but is another kind of token (its ``typ`` differs)."""

    problem_type = PROBLEM_BASE + "token-wrong-type"
    title = "The token is not of the expected type"


class TokenExpired(TokenError):
    """``now`` is past the token's ``exp`` (plus leeway)."""

    problem_type = PROBLEM_BASE + "token-expired"
    title = "The token has expired"


class TokenNotYetValid(TokenError):
    """``now`` is before the token's ``nbf`` (minus leeway)."""

    problem_type = PROBLEM_BASE + "token-not-yet-valid"
    title = "The token is not valid yet"


class MalformedClaims(TokenError):
    """The signature verifies but the payload is not a JSON object of well-typed claims."""

    problem_type = PROBLEM_BASE + "token-claims-invalid"
    title = "The token's claims are not valid"


class SigningFailed(DomainError):
    """The signer could not produce a signature that verifies under its own public key."""

    problem_type = PROBLEM_BASE + "signing-failed"
    title = "The token could not be signed"
    status = 500


class Signer(Protocol):
    """Port: something that signs claims as an ES256 compact JWS and publishes its public key."""

    @property
    def kid(self) -> str:
        """The RFC 7638 thumbprint of the public JWK, put in every header it signs."""
        ...

    def public_jwk(self) -> dict[str, str]:
        """The public JWK (with ``kid``, ``alg`` ES256 and ``use`` sig), never a private part."""
        ...

    def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        """Return a compact JWS of ``claims`` with header ``{"alg": "ES256", "kid", "typ"}``."""
        ...


class KmsSigningClient(Protocol):
    """The two KMS calls a ``KmsSigner`` makes (a boto3 KMS client satisfies it)."""

    def sign(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_public_key(self, **kwargs: Any) -> Mapping[str, Any]: ...


def der_to_jose(der_signature: bytes) -> bytes:
    """Convert a DER ECDSA P-256 signature (what KMS returns) to JOSE ``r || s`` (RFC 7518 3.4).

    Each scalar is left-padded to 32 bytes. A DER value that does not parse, or a scalar that
    does not fit in 32 bytes, raises ``SigningFailed``.
    """
    try:
        r, s = decode_dss_signature(der_signature)
    except ValueError as error:
        raise SigningFailed("the signature is not a DER ECDSA signature") from error
    limit = 1 << (8 * _P256_SCALAR_BYTES)
    if not (0 < r < limit and 0 < s < limit):
        raise SigningFailed("the signature's scalars do not fit P-256")
    return r.to_bytes(_P256_SCALAR_BYTES, "big") + s.to_bytes(_P256_SCALAR_BYTES, "big")


def _payload(claims: Mapping[str, Any]) -> bytes:
    # Compact and strict JSON: NaN and Infinity are not JSON and would not round-trip.
    return json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def _check_typ(typ: str) -> None:
    if not isinstance(typ, str) or not typ:
        raise ValueError("typ must be a non-empty string")


class LocalSigner:
    """ES256 with a private key held in process: for tests, tools and the device-free local stack."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise InvalidKey("an ES256 signer needs an EC P-256 private key")
        self._key = ECKey.import_key(private_key)
        self._jwk = es256_public_jwk(private_key.public_key())

    @classmethod
    def generate(cls) -> LocalSigner:
        """A signer with a fresh P-256 key."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def kid(self) -> str:
        return self._jwk["kid"]

    def public_jwk(self) -> dict[str, str]:
        return dict(self._jwk)

    def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        _check_typ(typ)
        header = {"alg": ES256, "kid": self.kid, "typ": typ}
        return jws.serialize_compact(header, _payload(claims), self._key, algorithms=[ES256])


class _KmsES256(jws.JWSAlgModel):
    """joserfc's ES256, with the private-key operation done by KMS.

    KMS never releases the private key, so joserfc cannot sign with a key object. Rather than
    assembling the JWS by hand, this plugs into joserfc's algorithm extension point: joserfc
    builds the header and signing input and calls ``sign``; we send the input to KMS
    (``MessageType=RAW``, so KMS hashes it with SHA-256 as ES256 requires), convert the DER
    answer to JOSE ``r || s``, and check it against the public key before it leaves.
    """

    name = ES256
    description = "ECDSA using P-256 and SHA-256, signed by AWS KMS"
    recommended = True
    key_type = "EC"

    def __init__(self, client: KmsSigningClient, key_id: str, *, digest_large_messages: bool) -> None:
        self._client = client
        self._key_id = key_id
        self._digest_large_messages = digest_large_messages
        self._standard = JWSRegistry.algorithms[ES256]

    def check_key(self, key: Any) -> None:
        self._standard.check_key(key)

    def sign(self, msg: bytes, key: Any) -> bytes:
        if len(msg) <= KMS_RAW_MESSAGE_LIMIT:
            request = {"Message": msg, "MessageType": "RAW"}
        elif self._digest_large_messages:
            # KMS takes at most 4096 bytes RAW; beyond that it signs a SHA-256 digest we compute.
            # moto 5.2 hashes a DIGEST message again, so this path only verifies on real KMS.
            request = {"Message": hashlib.sha256(msg).digest(), "MessageType": "DIGEST"}
        else:
            raise SigningFailed(
                f"the signing input is {len(msg)} bytes; KMS signs at most {KMS_RAW_MESSAGE_LIMIT} bytes RAW",
                size=len(msg),
            )
        response = self._client.sign(KeyId=self._key_id, SigningAlgorithm="ECDSA_SHA_256", **request)
        signature = der_to_jose(bytes(response["Signature"]))
        if not self._standard.verify(msg, signature, key):
            raise SigningFailed("KMS returned a signature that does not verify under the key's public key")
        return signature

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool:
        return self._standard.verify(msg, sig, key)


class _SingleAlgorithmRegistry(JWSRegistry):
    """A registry that knows exactly one algorithm object, without touching joserfc's global table."""

    def __init__(self, alg: jws.JWSAlgModel) -> None:
        super().__init__(algorithms=[alg.name])
        self._alg = alg

    def get_alg(self, name: str) -> jws.JWSAlgModel:
        if name != self._alg.name:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self._alg


class KmsSigner:
    """ES256 through KMS ``Sign`` with an ``ECC_NIST_P256`` / ``SIGN_VERIFY`` key.

    The public key is fetched once with ``GetPublicKey`` and cached; ``kid`` is its RFC 7638
    thumbprint. ``digest_large_messages`` lets signing inputs over 4 KiB go as ``DIGEST`` (real
    KMS only: moto hashes the digest again); without it such inputs raise ``SigningFailed``.
    """

    def __init__(
        self, kms_client: KmsSigningClient, key_id: str, *, digest_large_messages: bool = False
    ) -> None:
        self._client = kms_client
        self._key_id = key_id
        self._alg = _KmsES256(kms_client, key_id, digest_large_messages=digest_large_messages)
        self._registry = _SingleAlgorithmRegistry(self._alg)
        self._jwk: dict[str, str] | None = None
        self._public_key: ECKey | None = None

    def _load(self) -> tuple[dict[str, str], ECKey]:
        if self._jwk is None or self._public_key is None:
            response = self._client.get_public_key(KeyId=self._key_id)
            spec = response.get("KeySpec") or response.get("CustomerMasterKeySpec")
            if spec != "ECC_NIST_P256" or response.get("KeyUsage") != "SIGN_VERIFY":
                raise InvalidKey(f"KMS key {self._key_id} is not an ECC_NIST_P256 SIGN_VERIFY key")
            jwk = es256_public_jwk_from_der(bytes(response["PublicKey"]))
            self._public_key = import_es256_public_jwk(jwk)
            self._jwk = jwk
        return self._jwk, self._public_key

    @property
    def kid(self) -> str:
        return self._load()[0]["kid"]

    def public_jwk(self) -> dict[str, str]:
        return dict(self._load()[0])

    def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        _check_typ(typ)
        jwk, public_key = self._load()
        header = {"alg": ES256, "kid": jwk["kid"], "typ": typ}
        return jws.serialize_compact(header, _payload(claims), public_key, registry=self._registry)


class KeyRing:
    """The keys that may verify live tokens, in order: the first one signs, every one verifies.

    Rotation: put the new signer first and keep the old key (as a signer or as its public JWK)
    listed until the last token it signed has expired; then drop it.
    """

    def __init__(
        self, keys: Iterable[Signer | Mapping[str, Any]], *, retired: Iterable[Signer] = ()
    ) -> None:
        self._entries: list[Signer | Mapping[str, Any]] = list(keys)
        if not self._entries:
            raise InvalidKey("a key ring needs at least one key")
        #: Keys that verify nothing any more. They still sign the key set document, once more, so a
        #: device that trusts only a retired key can move to the current ones; then it drops them.
        self._retired: list[Signer] = list(retired)
        self._signed_jwks: tuple[float, dict[str, Any]] | None = None

    @property
    def signer(self) -> Signer:
        """The signer of new tokens: the first entry, which must hold (or reach) a private key."""
        first = self._entries[0]
        if isinstance(first, Mapping):
            raise InvalidKey("the first key of the ring is a public key only; it cannot sign")
        return first

    def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        """Sign with the current (first) key."""
        return self.signer.sign(claims, typ=typ)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWKS: one ``{kty, crv, x, y, kid, alg, use}`` per distinct key, signer first."""
        keys: list[dict[str, str]] = []
        seen: set[str] = set()
        for entry in self._entries:
            # A Mapping is a public JWK; anything else is a Signer. (A runtime Protocol check would
            # read ``kid`` on Python 3.11, which costs a KMS call for a ``KmsSigner``.)
            jwk = dict(entry) if isinstance(entry, Mapping) else entry.public_jwk()
            key = import_es256_public_jwk(jwk)
            public = {k: str(key[k]) for k in ("kty", "crv", "x", "y", "kid", "alg", "use")}
            if public["kid"] not in seen:
                seen.add(public["kid"])
                keys.append(public)
        return {"keys": keys}

    def verify(
        self, token: str, *, typ: str, now: datetime | None = None, leeway: timedelta = DEFAULT_LEEWAY
    ) -> dict[str, Any]:
        """``verify`` against this ring's JWKS."""
        return verify(token, self.jwks(), typ=typ, now=now, leeway=leeway)

    def signed_jwks(self, now: datetime, *, max_age: timedelta = JWKS_CACHE) -> dict[str, Any]:
        """The JWKS as devices refresh it: the keys, the retired kids, and signatures over both.

        ``signatures`` holds one compact JWS (``typ`` ``jwk-set+jwt``) per key of the ring that
        can sign, retired ones included, each over the same claims ``{iss, ver, server_time,
        keys, retired}``; a device accepts the set only through a signature by a key it already
        trusts. The document is cached for ``max_age``, so a public route cannot be made to call
        KMS on every request.
        """
        stamp = now.timestamp()
        if self._signed_jwks is not None and 0 <= stamp - self._signed_jwks[0] < max_age.total_seconds():
            return self._signed_jwks[1]
        keys = self.jwks()["keys"]
        active = {key["kid"] for key in keys}
        retired = sorted({signer.kid for signer in self._retired} - active)
        claims = {
            "iss": ISSUER,
            "ver": JWKS_VERSION,
            "server_time": int(stamp),
            "keys": keys,
            "retired": retired,
        }
        signers = [entry for entry in self._entries if not isinstance(entry, Mapping)] + self._retired
        signatures, seen = [], set()
        for signer in signers:
            if signer.kid not in seen:
                seen.add(signer.kid)
                signatures.append(signer.sign(claims, typ=JWKS_TYPE))
        document = {"keys": keys, "retired": retired, "signatures": signatures}
        self._signed_jwks = (stamp, document)
        return document


def _verification_keys(jwks: Mapping[str, Any]) -> dict[str, ECKey]:
    # Entries that are not public P-256 keys cannot verify an ES256 token; they are skipped, so
    # a token naming one of them is refused as signed by an unknown key.
    keys: dict[str, ECKey] = {}
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    for entry in entries if isinstance(entries, Sequence) else ():
        try:
            key = import_es256_public_jwk(entry)
        except InvalidKey:
            continue
        keys[str(key.kid)] = key
    return keys


def _header(token: str) -> tuple[Header, jws.CompactSignature]:
    if not isinstance(token, str):
        raise SignatureInvalid("the token must be a string")
    try:
        obj = jws.extract_compact(token.encode("ascii"))
    except (JoseError, ValueError, UnicodeError) as error:
        raise SignatureInvalid("the token is not a compact JWS") from error
    header = obj.headers()
    if set(header) - ALLOWED_HEADER:
        raise SignatureInvalid(
            f"the token header carries unexpected members: {sorted(set(header) - ALLOWED_HEADER)}"
        )
    if header.get("alg") != ES256:
        # Exactly ES256: no "none", no HS256 keyed with the public key, nothing chosen by the token.
        raise SignatureInvalid(f"the token's alg must be {ES256}", alg=str(header.get("alg")))
    return header, obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_time(claims: dict[str, Any], now: datetime, leeway: timedelta) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    registry = JWTClaimsRegistry(now=int(now.timestamp()), leeway=int(leeway.total_seconds()))
    try:
        registry.validate(claims)
    except ExpiredTokenError as error:
        raise TokenExpired("the token has expired", exp=claims.get("exp")) from error
    except ClaimError as error:
        nbf = claims.get("nbf")
        if error.claim == "nbf" and isinstance(nbf, int | float) and not isinstance(nbf, bool):
            raise TokenNotYetValid("the token is not valid yet", nbf=nbf) from error
        raise MalformedClaims(f"the token's {error.claim!r} claim is not valid", claim=error.claim) from error


def verify(
    token: str,
    jwks: Mapping[str, Any],
    *,
    typ: str,
    now: datetime | None = None,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> dict[str, Any]:
    """Verify an ES256 compact JWS against a JWKS and return its claims, or raise a ``TokenError``.

    Checks, in order: the header holds only ``alg``, ``kid`` and ``typ``; ``alg`` is exactly
    ES256; ``kid`` names a public P-256 key of ``jwks`` (``UnknownKey``); the signature
    (``SignatureInvalid``); ``typ`` (``WrongTokenType``); the payload is a JSON object. Time
    claims (``exp``, ``nbf``, ``iat``) are checked only when ``now`` is given, and only if present;
    callers with their own time rules (the device's offline grace) pass ``now=None``.
    """
    _check_typ(typ)
    header, obj = _header(token)
    kid = header.get("kid")
    key = _verification_keys(jwks).get(kid) if isinstance(kid, str) else None
    if key is None:
        raise UnknownKey("the token's kid is not in the key set", kid=str(kid))
    try:
        valid = jws.validate_compact(obj, key, algorithms=[ES256])
    except JoseError as error:
        raise SignatureInvalid("the token's signature does not verify") from error
    if not valid:
        raise SignatureInvalid("the token's signature does not verify")
    if header.get("typ") != typ:
        raise WrongTokenType(f"expected a {typ} token", expected=typ, actual=str(header.get("typ")))
    try:
        claims = json.loads(obj.payload, parse_constant=_refuse_constant)
    except (ValueError, UnicodeError) as error:
        raise MalformedClaims("the token's payload is not JSON") from error
    if not isinstance(claims, dict):
        raise MalformedClaims("the token's payload is not a JSON object")
    if now is not None:
        _check_time(claims, now, leeway)
    return claims
