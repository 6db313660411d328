"""Any request shape gets a 4xx problem from the API function itself, never a 5xx.

These are the inputs the contract issue found answering 500 (or a non-problem 404) when sent
straight to the function, as API Gateway would forward them.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.unit.api.test_routes import api_event, resolve, with_content_type
from tests.unit.api.test_routes import deps as deps  # noqa: F401 (the fixture)

PROBLEM = "application/problem+json"
UPLOAD = {"content_type": "application/zip", "content_length": 99}


def send(method, path, body, content_type="application/json", *, base64_body=False, query=None):
    event = with_content_type(api_event(method, path, query=query), content_type)
    if isinstance(body, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body, base64_body
    status, headers, response = resolve(event)
    return status, {name.lower(): value for name, value in headers.items()}, json.loads(response["body"])


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data", "multipart/form-data; boundary=x",
     "application/x-www-form-urlencoded", "application/jsonx", "application/json; charset=latin-1"],
)
def test_an_unsupported_media_type_is_a_415_problem(deps, content_type):
    status, headers, body = send("POST", "/v1/uploads", json.dumps(UPLOAD), content_type)
    assert (status, headers["content-type"], body["status"]) == (415, PROBLEM, 415)


def test_json_with_a_charset_is_accepted(deps):
    status, _, _ = send("POST", "/v1/uploads", json.dumps(UPLOAD), "application/json; charset=utf-8")
    assert status == 201


@pytest.mark.parametrize(
    "body",
    [
        b'{"content_type": "\xff\xfe"}',
        "{not json",
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50 + "1" + "}" * 50,
        '{"content_type": "application/zip", "content_length": NaN}',
        "\"\\ud800\"",
    ],
    ids=["invalid-utf8", "invalid-json", "very-deep", "too-deep", "nan", "lone-surrogate"],
)
def test_an_undecodable_or_too_deep_body_is_a_400_problem(deps, body):
    status, headers, problem = send("POST", "/v1/uploads", body)
    assert (status, headers["content-type"], problem["status"]) == (400, PROBLEM, 400)


def test_a_body_that_is_not_base64_when_flagged_so_is_a_400_problem(deps):
    status, _, problem = send("POST", "/v1/uploads", "%%%not base64", base64_body=True)
    assert (status, problem["status"]) == (400, 400)


def test_a_base64_json_body_is_decoded(deps):
    status, _, _ = send("POST", "/v1/uploads", json.dumps(UPLOAD).encode())
    assert status == 201


def test_a_body_past_10_mb_is_a_413_problem(deps):
    status, headers, problem = send("POST", "/v1/uploads", " " * (10 * 1024 * 1024 + 1))
    assert (status, headers["content-type"], problem["status"]) == (413, PROBLEM, 413)


def test_another_method_on_a_route_is_a_405_with_allow(deps):
    status, headers, problem = send("DELETE", "/v1/packages", None)
    assert (status, headers["content-type"], problem["status"]) == (405, PROBLEM, 405)
    assert headers["allow"] == "GET"


def test_another_method_on_a_templated_route_lists_what_it_allows(deps):
    status, headers, _ = send("PUT", "/v1/devices/dev_" + "0" * 32, None)
    assert (status, headers["allow"]) == (405, "GET")


@pytest.mark.parametrize("path", ["/", "/prod", "/v1", "/v2/packages", "/v1/packages/a/b/c"])
def test_an_unknown_path_is_a_404_problem(deps, path):
    status, headers, problem = send("GET", path, None)
    assert (status, headers["content-type"], problem["status"]) == (404, PROBLEM, 404)


def test_a_cursor_is_sealed_and_any_change_to_it_is_a_422():
    from content_service.adapters.cursors import decode_cursor, encode_cursor, fernet_for
    from content_service.domain.errors import ValidationFailed

    fernet = fernet_for("test-secret")
    key = {"pk": {"S": "TENANT#t1#PACKAGE#p1"}, "sk": {"S": "V#1"}}
    cursor = encode_cursor(key, ("pk", "sk"), fernet)
    assert "TENANT" not in base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("latin-1")
    assert decode_cursor(cursor, ("pk", "sk"), "TENANT#t1#", fernet) == {"pk": "TENANT#t1#PACKAGE#p1", "sk": "V#1"}
    flipped = cursor[:-5] + ("A" if cursor[-5] != "A" else "B") + cursor[-4:]
    for bad in (flipped, cursor[:-1], "x" + cursor, "é", ""):
        with pytest.raises(ValidationFailed):
            decode_cursor(bad, ("pk", "sk"), "TENANT#t1#", fernet)
    with pytest.raises(ValidationFailed):  # sealed under another key
        decode_cursor(cursor, ("pk", "sk"), "TENANT#t1#", fernet_for("other"))
    with pytest.raises(ValidationFailed):  # another tenant's position
        decode_cursor(cursor, ("pk", "sk"), "TENANT#t2#", fernet)


@pytest.mark.parametrize(
    "body",
    [
        {"content_type": "application/zip", "content_length": "99"},
        {"content_type": "application/zip", "content_length": True},
        {"content_type": "application/zip", "content_length": 99.5},
        {"content_type": "application/zip", "content_length": 99, "package_id": 7},
    ],
    ids=["string-for-int", "bool-for-int", "fraction-for-int", "int-for-string"],
)
def test_request_bodies_are_strict_json_without_coercion(deps, body):
    status, _, problem = send("POST", "/v1/uploads", json.dumps(body))
    assert (status, problem["status"]) == (422, 422)


def test_an_integral_json_number_is_an_integer(deps):
    status, _, body = send("POST", "/v1/uploads", '{"content_type": "application/zip", "content_length": 99.0}')
    assert status == 201 and body["upload"]["headers"]["Content-Length"] == "99"


def test_an_unknown_query_parameter_is_a_422(deps):
    assert send("GET", "/v1/packages", None, query={"limit": "5"})[0] == 200
    status, _, problem = send("GET", "/v1/packages", None, query={"limt": "5"})
    assert (status, problem["errors"][0]["loc"]) == (422, ["query", "limt"])


@pytest.mark.parametrize("name", ["a\x00b", "evil\u202etxt.exe", "line\nbreak", "\u2066x\u2069", "esc\x1b["])
def test_names_with_control_or_bidi_characters_are_refused(name):
    from pydantic import ValidationError

    from content_service.api.models import EnrollDevice, RevokeRequest
    from content_service.crypto.licence import device_public_jwk, generate_device_key

    key = device_public_jwk(generate_device_key())
    assert EnrollDevice.model_validate({"public_key": key, "name": "Ana's tablet"}).name == "Ana's tablet"
    with pytest.raises(ValidationError):
        EnrollDevice.model_validate({"public_key": key, "name": name})
    with pytest.raises(ValidationError):
        RevokeRequest.model_validate({"reason": name})
