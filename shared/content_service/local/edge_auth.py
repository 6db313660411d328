"""Check a request's CloudFront signature the way a distribution with trusted key groups does.

A canned URL carries ``Expires``, ``Signature`` and ``Key-Pair-Id``; the edge rebuilds the canned
policy from the URL it was asked for (scheme, host, path and the query string without those
three parameters) and checks the signature over it, so changing any byte of the path or of
another query parameter breaks it. A custom URL carries ``Policy`` instead of ``Expires``: the
signature covers the policy as sent, and the policy's resource (with '*' and '?' wildcards),
``DateLessThan``, optional ``DateGreaterThan`` and optional ``IpAddress`` must all admit the
request. Every refusal is an :class:`AccessDenied` that the edge answers with 403.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from content_service.crypto.cdn import (
    CdnVerifier,
    SignatureMismatch,
    canned_policy,
    cloudfront_b64decode,
)

SIGNING_PARAMETERS = ("Expires", "Policy", "Signature", "Key-Pair-Id")
_CONDITIONS = {"DateLessThan", "DateGreaterThan", "IpAddress"}


class AccessDenied(Exception):
    """The request is refused; ``code`` and ``message`` go into CloudFront's XML error body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SignedRequest:
    """A request URL split into the resource CloudFront signs and the signing parameters."""

    resource: str
    parameters: dict[str, str]

    @classmethod
    def parse(cls, origin: str, path: str, raw_query: str) -> SignedRequest:
        """Split ``origin + path + ?query``; the other parameters keep their order and raw bytes."""
        kept: list[str] = []
        parameters: dict[str, str] = {}
        for part in raw_query.split("&") if raw_query else []:
            name, _, value = part.partition("=")
            if name in SIGNING_PARAMETERS:
                if name in parameters:
                    raise AccessDenied("MalformedPolicy", f"{name} appears more than once")
                parameters[name] = unquote(value)
            else:
                kept.append(part)
        query = "&".join(kept)
        return cls(f"{origin}{path}{'?' + query if query else ''}", parameters)


class SignatureChecker:
    """Verifies signed URLs against the public keys of the distribution's trusted key groups."""

    def __init__(self, trusted_keys: Mapping[str, str], clock: Callable[[], float] = time.time) -> None:
        self._verifiers = {key_id: CdnVerifier(pem) for key_id, pem in trusted_keys.items()}
        self._clock = clock

    def check(self, request: SignedRequest, client_ip: str) -> None:
        """Return if the request may be served; raise :class:`AccessDenied` otherwise."""
        params = request.parameters
        key_pair_id = params.get("Key-Pair-Id")
        if not key_pair_id:
            raise AccessDenied("MissingKey", "Missing Key-Pair-Id query parameter or cookie value")
        verifier = self._verifiers.get(key_pair_id)
        if verifier is None:
            raise AccessDenied("InvalidKey", "Unknown Key")
        if "Signature" not in params:
            raise AccessDenied("MissingSignature", "Missing Signature query parameter or cookie value")
        if ("Expires" in params) == ("Policy" in params):
            raise AccessDenied("MalformedPolicy", "Exactly one of Expires and Policy is required")
        if "Expires" in params:
            self._check_canned(verifier, request.resource, params["Expires"], params["Signature"])
        else:
            self._check_custom(verifier, request.resource, params["Policy"], params["Signature"], client_ip)

    def _check_canned(self, verifier: CdnVerifier, resource: str, expires: str, signature: str) -> None:
        if not expires.isdigit():
            raise AccessDenied("MalformedPolicy", "Expires is not an epoch time")
        # The URL as requested is the policy's resource: any change to it changes the signed bytes.
        _verify(verifier, canned_policy(resource, int(expires)).encode(), signature)
        if self._clock() >= int(expires):
            raise AccessDenied("AccessDenied", "Access denied")

    def _check_custom(
        self, verifier: CdnVerifier, resource: str, policy_text: str, signature: str, client_ip: str
    ) -> None:
        try:
            policy_bytes = cloudfront_b64decode(policy_text)
        except ValueError:
            raise AccessDenied("MalformedPolicy", "Malformed policy") from None
        # The signature is checked first: nothing in an unauthenticated policy is trusted.
        _verify(verifier, policy_bytes, signature)
        statement = _statement(policy_bytes)
        pattern = statement.get("Resource")
        if pattern is not None and not resource_matches(str(pattern), resource):
            raise AccessDenied("AccessDenied", "Access denied")
        conditions = statement["Condition"]
        now = self._clock()
        if now >= _epoch(conditions, "DateLessThan"):
            raise AccessDenied("AccessDenied", "Access denied")
        if "DateGreaterThan" in conditions and now < _epoch(conditions, "DateGreaterThan"):
            raise AccessDenied("AccessDenied", "Access denied")
        if "IpAddress" in conditions and not _ip_allowed(conditions["IpAddress"], client_ip):
            raise AccessDenied("AccessDenied", "Access denied")


def resource_matches(pattern: str, resource: str) -> bool:
    """CloudFront's wildcards: '*' is any run of characters (also none), '?' exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, resource, flags=re.DOTALL) is not None


def _verify(verifier: CdnVerifier, message: bytes, signature: str) -> None:
    try:
        verifier.verify(message, cloudfront_b64decode(signature))
    except (ValueError, SignatureMismatch):
        raise AccessDenied("AccessDenied", "Access denied") from None


def _statement(policy_bytes: bytes) -> dict[str, Any]:
    try:
        document = json.loads(policy_bytes)
        (statement,) = document["Statement"]
        conditions = statement["Condition"]
        if not isinstance(conditions, dict) or "DateLessThan" not in conditions:
            raise ValueError("DateLessThan is required")
        if set(conditions) - _CONDITIONS or set(statement) - {"Resource", "Condition"}:
            raise ValueError("unknown policy keys")
    except (ValueError, KeyError, TypeError):
        raise AccessDenied("MalformedPolicy", "Malformed policy") from None
    return dict(statement)


def _epoch(conditions: dict[str, Any], name: str) -> int:
    value = conditions[name].get("AWS:EpochTime") if isinstance(conditions[name], dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AccessDenied("MalformedPolicy", f"{name} needs an integer AWS:EpochTime")
    return value


def _ip_allowed(condition: Any, client_ip: str) -> bool:
    try:
        network = ipaddress.ip_network(str(condition["AWS:SourceIp"]), strict=False)
        return ipaddress.ip_address(client_ip) in network
    except (KeyError, TypeError, ValueError):
        raise AccessDenied("MalformedPolicy", "Malformed IpAddress condition") from None
