"""The local gateway over raw sockets: malformed HTTP gets API Gateway's answers, never a dropped connection."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc.jwk import KeySet

from content_service.auth.verifier import TokenRules, TokenVerifier
from content_service.local.gateway import MAX_BODY_BYTES, LocalGateway, Route
from content_service.local.template import ApiEventSource

PROXY_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"


def _integration(function: str, event: dict[str, Any]) -> Any:
    """Echoes the body it got, or misbehaves as the path asks."""
    case = (event.get("pathParameters") or {}).get("case", "echo")
    answers: dict[str, Any] = {
        "none": None,
        "list": [1, 2],
        "no-status": {"body": "x"},
        "status-999": {"statusCode": 999, "body": ""},
        "status-bool": {"statusCode": True, "body": ""},
        "header-split": {"statusCode": 200, "headers": {"X-A": "1\r\nSet-Cookie: evil=1"}, "body": ""},
        "bad-header-name": {"statusCode": 200, "headers": {"Bad Name": "1"}, "body": ""},
        "bad-base64": {"statusCode": 200, "body": "***", "isBase64Encoded": True},
        "dict-body": {"statusCode": 200, "body": {"not": "a string"}},
    }
    if case == "crash":
        raise RuntimeError("the integration crashed")
    if case in answers:
        return answers[case]
    body = event["body"] or ""
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"method": event["httpMethod"], "length": len(body), "body": body[:100]}),
    }


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    routes = [
        Route.from_event("Fn", ApiEventSource("Misbehave", "/v1/public/{case}", "GET", authorized=False)),
        Route.from_event("Fn", ApiEventSource("Echo", "/v1/echo", "ANY", authorized=False)),
        Route.from_event("Fn", ApiEventSource("Proxy", "/v1/{proxy+}", "ANY", authorized=True)),
    ]
    routes.sort(key=lambda route: route.specificity)
    rules = TokenRules("https://issuer.example", frozenset({"client"}), frozenset())
    authorizer = TokenVerifier(lambda: KeySet([]), rules)
    running = LocalGateway(routes, authorizer, _integration)
    running.start()
    yield running
    running.stop()


def raw(gateway: LocalGateway, request: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read one response (status, headers, body)."""
    host, port = gateway._server.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(request)
        response = http.client.HTTPResponse(connection, method=request.split(b" ", 1)[0].decode())
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def problem(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    assert headers["content-type"] == "application/problem+json", (status, headers, body)
    document = json.loads(body)
    assert document["status"] == status and document["type"] == "about:blank" and document["title"]
    return document


def request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    head = "\r\n".join([f"{method} {path} HTTP/1.1", "Host: localhost", *headers, "", ""])
    return head.encode() + body


@pytest.mark.parametrize("length", ["-5", "abc", "1e3", "+7", " ", "٣"])
def test_a_content_length_that_is_not_a_non_negative_integer_is_a_400(gateway, length) -> None:
    status, headers, body = raw(gateway, request("POST", "/prod/v1/echo", f"Content-Length: {length}"))
    assert status == 400
    assert "Content-Length" in problem(status, headers, body)["detail"]


def test_conflicting_content_lengths_and_both_framings_are_a_400(gateway) -> None:
    two = request("POST", "/v1/echo", "Content-Length: 3", "Content-Length: 4", body=b"abcd")
    both = request("POST", "/v1/echo", "Content-Length: 3", "Transfer-Encoding: chunked", body=b"abc")
    gzip = request("POST", "/v1/echo", "Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n")
    for sent in (two, both, gzip):
        status, headers, body = raw(gateway, sent)
        assert status == 400
        problem(status, headers, body)


def test_a_declared_length_over_ten_megabytes_is_a_413_without_reading_the_body(gateway) -> None:
    started = time.monotonic()
    status, headers, body = raw(
        gateway, request("POST", "/v1/echo", "Content-Length: 10737418240", body=b"only this much"), timeout=5
    )
    assert status == 413 and time.monotonic() - started < 3
    assert str(MAX_BODY_BYTES) in problem(status, headers, body)["detail"]
    assert headers["connection"] == "close"


def test_a_body_of_exactly_the_limit_is_accepted(gateway) -> None:
    data = b"a" * MAX_BODY_BYTES
    status, _, body = raw(gateway, request("POST", "/v1/echo", f"Content-Length: {len(data)}", body=data))
    assert status == 200 and json.loads(body)["length"] == MAX_BODY_BYTES


def test_a_chunked_body_is_read_and_one_over_the_limit_is_a_413(gateway) -> None:
    chunked = request(
        "POST", "/v1/echo", "Transfer-Encoding: chunked", body=b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"
    )
    status, _, body = raw(gateway, chunked)
    assert status == 200 and json.loads(body)["body"] == "hello world"
    huge = request("POST", "/v1/echo", "Transfer-Encoding: chunked", body=b"FFFFFFFF\r\nabc")
    status, headers, body = raw(gateway, huge)
    assert status == 413
    problem(status, headers, body)
    broken = request("POST", "/v1/echo", "Transfer-Encoding: chunked", body=b"zz\r\nabc\r\n0\r\n\r\n")
    assert raw(gateway, broken)[0] == 400


def test_a_body_shorter_than_its_length_is_a_400_not_a_hang(gateway) -> None:
    host, port = gateway._server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(request("POST", "/v1/echo", "Content-Length: 100", body=b"short"))
        connection.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(connection, method="POST")
        response.begin()
        assert response.status == 400
        problem(400, {k.lower(): v for k, v in response.getheaders()}, response.read())


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FOO", "PROPFIND"])
def test_a_method_the_path_does_not_have_is_a_405_with_allow(gateway, method) -> None:
    status, headers, body = raw(gateway, request(method, "/prod/v1/echo"))
    assert status == 405
    assert headers["allow"] == PROXY_METHODS
    problem(status, headers, body)


def test_a_405_on_a_get_only_route_allows_what_the_path_has(gateway) -> None:
    # /v1/public/{case} is GET only, but the greedy /v1/{proxy+} also matches the path.
    status, headers, body = raw(gateway, request("TRACE", "/v1/public/ok"))
    assert status == 405 and headers["allow"] == PROXY_METHODS


def test_a_request_target_that_is_not_a_url_is_a_400(gateway) -> None:
    status, headers, body = raw(gateway, request("GET", "http://[::1/v1/echo"))
    assert status == 400
    problem(status, headers, body)


@pytest.mark.parametrize("path", ["/", "/prod", "/prod/", "/v2/packages", "/prodv1/echo", "*"])
def test_every_unknown_path_is_a_problem_404(gateway, path) -> None:
    for method in ("GET", "TRACE"):
        status, headers, body = raw(gateway, request(method, path))
        assert status == 404, (method, path)
        problem(status, headers, body)


@pytest.mark.parametrize(
    "case",
    [
        "none",
        "list",
        "no-status",
        "status-999",
        "status-bool",
        "header-split",
        "bad-header-name",
        "bad-base64",
        "dict-body",
        "crash",
    ],
)
def test_a_crashed_or_malformed_integration_is_a_problem_502(gateway, case) -> None:
    status, headers, body = raw(gateway, request("GET", f"/v1/public/{case}"))
    assert status == 502
    problem(status, headers, body)
    assert "set-cookie" not in headers


@pytest.mark.parametrize(
    "sent",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /v1/echo HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"GET /v1/echo HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
    ],
    ids=["garbage", "http-0.9", "bad-version", "bad-header", "long-header", "long-uri"],
)
def test_malformed_http_is_answered_with_a_problem_not_a_dropped_connection(gateway, sent) -> None:
    status, headers, body = raw(gateway, sent)
    assert 400 <= status < 500
    problem(status, headers, body)


def test_the_connection_survives_good_requests_and_keeps_alive(gateway) -> None:
    host, port = gateway._server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    for _ in range(3):
        connection.request("POST", "/prod/v1/echo", body=b"{}", headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["length"] == 2
    connection.request("GET", "/prod/v1/public/ok")
    assert connection.getresponse().status == 200
    connection.close()


def test_an_authorized_route_still_asks_for_a_token_after_the_http_checks(gateway) -> None:
    status, headers, body = raw(gateway, request("GET", "/prod/v1/packages"))
    assert status == 401
    problem(status, headers, body)
