"""The shape of a request, checked before any route reads it: media type, encoding, size, depth.

API Gateway forwards almost anything to the function: any ``Content-Type``, bodies that are not
UTF-8 or not JSON, JSON nested thousands deep. Powertools' validation turns some of these into
exceptions of its own and Python's ``json`` into a ``RecursionError``, so without this gate they
became 500s. Here each becomes its RFC 9457 problem: 415 for a media type a JSON route does not
take, 400 for a body that cannot be decoded or is nested too deep, 413 past API Gateway's 10 MB
payload limit. The unknown-path (404) and unknown-method (405 with ``Allow``) answers live here too,
so the function answers like the gateway whoever calls it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from content_service.domain.errors import PROBLEM_BASE, DomainError, ValidationFailed

#: API Gateway's REST payload limit; the local gateway refuses larger bodies before reading them.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: No request of this API nests deeper than a few levels; 32 leaves room and stops stack abuse.
MAX_JSON_DEPTH = 32
#: The media types a JSON route takes (with no parameter other than ``charset=utf-8``).
JSON_MEDIA_TYPES = ("application/json",)
BODY_METHODS = ("POST", "PUT", "PATCH")


class UnsupportedMediaType(DomainError):
    problem_type = PROBLEM_BASE + "unsupported-media-type"
    title = "The request body's media type is not supported"
    status = 415


class MalformedBody(DomainError):
    problem_type = PROBLEM_BASE + "malformed-body"
    title = "The request body cannot be decoded"
    status = 400


class RequestTooLarge(DomainError):
    problem_type = PROBLEM_BASE + "request-too-large"
    title = "The request body is larger than allowed"
    status = 413


class MethodNotAllowed(DomainError):
    problem_type = PROBLEM_BASE + "method-not-allowed"
    title = "The resource does not support this method"
    status = 405


def check_body(headers: Any, body: str | None, is_base64: bool, *, takes_body: bool) -> Any:
    """The JSON value of a request body, or raise the problem its shape is.

    ``headers`` is the event's (case-insensitive) header mapping. A body on a route that takes none
    is only size-checked; an empty body is left to request validation (a 422 naming the field).
    """
    if body is None or body == "":
        return None
    # A str of n characters is at least n bytes in UTF-8 (and base64 only grows it), so this
    # bounds the work before decoding anything.
    if len(body) > MAX_BODY_BYTES * (2 if is_base64 else 1):
        raise RequestTooLarge(f"the request body is over the {MAX_BODY_BYTES}-byte limit")
    if not takes_body:
        return None
    _check_media_type(headers.get("content-type"))
    raw = _decoded_bytes(body, is_base64)
    if len(raw) > MAX_BODY_BYTES:
        raise RequestTooLarge(f"the request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedBody(f"the request body is not UTF-8 (byte {error.start})") from None
    return parse_json(text)


def raw_body(body: str | None, is_base64: bool) -> bytes:
    """The bytes of a route's raw (non-JSON) body: base64-decoded when the gateway flagged it so."""
    return b"" if not body else _decoded_bytes(body, is_base64)


def parse_json(text: str) -> Any:
    """Strict JSON (RFC 8259): no NaN or Infinity, no lone surrogates, at most MAX_JSON_DEPTH deep."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise MalformedBody(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:
        raise MalformedBody(f"the request body is not valid JSON: {error}") from None
    _check_tree(value)
    return value


def _check_media_type(content_type: str | None) -> None:
    # No Content-Type at all is read as JSON (as Powertools does); anything else must say JSON.
    if content_type is None:
        return
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    if media_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"this route takes application/json, not {media_type or 'an empty media type'}",
            accepted=list(JSON_MEDIA_TYPES),
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            raise UnsupportedMediaType("JSON bodies are UTF-8; send charset=utf-8 or no charset")


def _decoded_bytes(body: str, is_base64: bool) -> bytes:
    if not is_base64:
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedBody("the request body is not UTF-8") from None
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedBody("the request body is flagged base64 but is not base64") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_tree(value: Any) -> None:
    # Iterative, so the walk itself cannot exhaust the stack.
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: list[Any] = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            children = []
            if isinstance(node, str):
                _check_text(node)
        if children and depth > MAX_JSON_DEPTH:
            raise MalformedBody(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedBody("the JSON body holds a lone surrogate (\\ud800-\\udfff escape)") from None


def check_query(query: dict[str, Any] | None, declared: set[str]) -> None:
    """Refuse (422) query parameters the route does not declare, rather than ignore a typo."""
    unknown = sorted(set(query or {}) - declared)
    if unknown:
        raise ValidationFailed(
            f"unknown query parameter(s): {', '.join(unknown)}",
            errors=[{"loc": ["query", name], "type": "extra_forbidden", "msg": "not a parameter"} for name in unknown],
        )


def allowed_methods(app: APIGatewayRestResolver, path: str) -> list[str]:
    """The methods some route of ``app`` serves at ``path`` (empty: the path is unknown)."""
    routes = app._static_routes + app._dynamic_routes  # noqa: SLF001 - Powertools keeps them there
    return sorted({route.method for route in routes if route.rule.match(path)})


def method_not_allowed(method: str, allowed: list[str]) -> MethodNotAllowed:
    return MethodNotAllowed(f"{method} is not allowed here; use {', '.join(allowed)}", allow=allowed)
