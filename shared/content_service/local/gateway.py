"""A local API Gateway (REST, proxy integration) in front of the in-process handlers.

It routes by the ``Type: Api`` events in template.yaml, verifies the bearer token as
the template's Lambda TOKEN authorizer does, with its verifier and rules (routes with ``Authorizer: NONE`` skip that), builds the v1 proxy
event, invokes the function and writes its response back.

Like API Gateway it never drops a connection over a malformed request: a bad or conflicting
``Content-Length`` or ``Transfer-Encoding`` is a 400, a body over API Gateway's 10 MB payload
limit a 413 (refused before reading it), an unknown path a 404, a method the path does not
have a 405 with ``Allow``, and a crashed or malformed integration a 502, each as
``application/problem+json``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

from content_service.auth.verifier import TokenRefused, TokenVerifier
from content_service.local.template import ApiEventSource, LocalTemplate

logger = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]

UNAUTHORIZED_PROBLEM = {
    "type": "about:blank",
    "title": "Unauthorized",
    "status": 401,
    "detail": "A valid bearer token is required.",
}
"""Mirrors the UNAUTHORIZED gateway response configured on ContentApi in template.yaml."""

MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit for REST APIs (10 MB)."""

ANY_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
"""What a route with ``Method: ANY`` answers; API Gateway has no TRACE or CONNECT."""

READ_TIMEOUT_SECONDS = 30.0
"""How long a client may pause while sending its request before it gets a 408."""


@dataclass(frozen=True)
class Route:
    """One ``Type: Api`` event: a path template, a method (or ANY) and the function behind it."""

    function: str
    resource: str
    method: str
    authorized: bool
    pattern: re.Pattern[str]

    @classmethod
    def from_event(cls, function: str, source: ApiEventSource) -> Route:
        """Compile the API Gateway path template (``{name}``, ``{name+}``) into a regex."""
        regex = ""
        for part in re.split(r"(\{[^}]+\})", source.path):
            if part.startswith("{") and part.endswith("+}"):
                regex += f"(?P<{part[1:-2]}>.+)"
            elif part.startswith("{"):
                regex += f"(?P<{part[1:-1]}>[^/]+)"
            else:
                regex += re.escape(part)
        return cls(function, source.path, source.method, source.authorized, re.compile(f"^{regex}$"))

    @property
    def specificity(self) -> tuple[int, int]:
        """API Gateway prefers literal paths, then single-segment variables, then greedy ones."""
        return ("+}" in self.resource, -len(re.sub(r"\{[^}]+\}", "", self.resource)))  # type: ignore[return-value]


def routes_from_template(template: LocalTemplate) -> list[Route]:
    """Every API route the template declares, most specific first."""
    routes = [
        Route.from_event(spec.logical_id, source)
        for spec in template.functions.values()
        for source in spec.events
        if isinstance(source, ApiEventSource)
    ]
    return sorted(routes, key=lambda route: route.specificity)


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops connections under a burst of clients.
    request_queue_size = 1024


class LocalGateway:
    """A ThreadingHTTPServer on 127.0.0.1 that behaves like the REST API stage."""

    def __init__(
        self,
        routes: list[Route],
        authorizer: TokenVerifier,
        invoke: Invoke,
        stage: str = "prod",
        port: int = 0,
        unavailable: Callable[[], bool] | None = None,
    ) -> None:
        """``unavailable`` says when this region is failed (the fault switch): every request is a 503."""
        self.routes = routes
        self.unavailable = unavailable
        self.authorizer = authorizer
        self.invoke = invoke
        self.stage = stage
        self._server = _GatewayServer(("127.0.0.1", port), _handler_class(self))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Where the API stage answers; like the ApiUrl output, it ends with the stage name."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{self.stage}"

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        # shutdown() waits for serve_forever, so a gateway that never started only closes.
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def handle(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes) -> _Reply:
        """Turn one HTTP request into a proxy event, invoke, and return the HTTP reply."""
        if self.unavailable is not None and self.unavailable():
            return problem_reply(
                503, "The region is unavailable (local fault switch); use the other endpoint."
            )
        try:
            split = urlsplit(raw_path)
        except ValueError:
            return problem_reply(400, "The request target is not a valid URL.")
        path = split.path
        # The stage prefix is optional locally, so both ApiUrl-style and bare /v1 paths work.
        if path.startswith(f"/{self.stage}/"):
            path = path[len(self.stage) + 1 :]
        match = self._match(method, path)
        if match is None:
            return self._unmatched(method, path)
        route, path_parameters = match
        context: dict[str, str] | None = None
        if route.authorized:
            authorization = next((v for k, v in headers if k.lower() == "authorization"), None)
            try:
                # What AuthorizerFunction does on AWS, with the same verifier and rules.
                context = self.authorizer.context_for(authorization)
            except TokenRefused as refusal:
                logger.info("401 for %s %s: %s", method, path, refusal)
                return _json_reply(401, UNAUTHORIZED_PROBLEM, "application/problem+json")
        event = self._event(route, method, path, split.query, headers, body, path_parameters, context)
        try:
            response = self.invoke(route.function, event)
            return _reply_from_proxy_response(response)
        except Exception:
            # API Gateway answers a crashed or malformed integration with a 502.
            logger.exception("%s failed for %s %s", route.function, method, path)
            return bad_gateway_reply()

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if method not in _route_methods(route):
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def _unmatched(self, method: str, path: str) -> _Reply:
        """404 for a path no route has; 405 with ``Allow`` for a method the path lacks."""
        allowed = sorted(
            {m for route in self.routes if route.pattern.match(path) for m in _route_methods(route)}
        )
        if not allowed:
            return problem_reply(404, f"No route matches {path!r}.")
        reply = problem_reply(405, f"{method} is not allowed on {path!r}.")
        return _Reply(reply.status, [*reply.headers, ("Allow", ", ".join(allowed))], reply.body)

    def _event(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        path_parameters: dict[str, str],
        context: dict[str, str] | None,
    ) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name, []).append(value)
        multi_query = parse_qs(query, keep_blank_values=True) if query else {}
        text, is_base64 = _body(body)
        now = time.time()
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": method,
            "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "resourceId": "local",
                "resourcePath": route.resource,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "extendedRequestId": str(uuid.uuid4()),
                "requestTime": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now * 1000),
                "protocol": "HTTP/1.1",
                "domainName": "127.0.0.1",
                "identity": {
                    "sourceIp": "127.0.0.1",
                    "userAgent": next((v for k, v in headers if k.lower() == "user-agent"), None),
                },
                # A Lambda authorizer's context, plus the principalId it returned.
                "authorizer": (
                    {"principalId": context["principal_id"], **context} if context is not None else None
                ),
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def _json_reply(status: int, document: dict[str, Any], content_type: str) -> _Reply:
    return _Reply(status, [("Content-Type", content_type)], json.dumps(document).encode())


def problem_reply(status: int, detail: str) -> _Reply:
    """An RFC 9457 problem reply for what the gateway itself refuses."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    document = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return _json_reply(status, document, "application/problem+json")


def bad_gateway_reply() -> _Reply:
    return problem_reply(502, "The integration failed or returned a malformed response.")


def _route_methods(route: Route) -> tuple[str, ...]:
    return ANY_METHODS if route.method == "ANY" else (route.method,)


_HEADER_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_UNSAFE_HEADER_VALUE = re.compile(r"[\r\n\0]")


def _reply_from_proxy_response(response: Any) -> _Reply:
    """The HTTP reply of a proxy integration's response; ValueError when API Gateway would 502."""
    if not isinstance(response, dict):
        raise ValueError(f"malformed proxy response: {response!r:.200}")
    status = response.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"malformed proxy response status: {status!r:.50}")
    headers = [(str(k), str(v)) for k, v in (response.get("headers") or {}).items()]
    single = {k.lower() for k, _ in headers}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if name.lower() not in single:
            headers.extend((str(name), str(value)) for value in values)
    for name, value in headers:
        # A CR or LF would let a handler split the response (and a NUL is never valid).
        if not _HEADER_TOKEN.fullmatch(name) or _UNSAFE_HEADER_VALUE.search(value):
            raise ValueError(f"malformed proxy response header: {name!r:.50}")
    body = response.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("a proxy response body must be a string")
    raw = base64.b64decode(body, validate=True) if response.get("isBase64Encoded") else body.encode()
    return _Reply(status, headers, raw)


class _RequestRefused(Exception):
    """A request the gateway answers itself, before any integration runs."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.reply = problem_reply(status, detail)


def read_body(headers: Message, stream: BinaryIO, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, framed by ``Content-Length`` or chunked ``Transfer-Encoding``.

    Raises _RequestRefused for framing a server cannot trust (negative, non-numeric or
    conflicting lengths, both framings at once: the request-smuggling cases), for a body over
    ``limit`` (refused from its declared length, before a byte of it is read), and for a body
    that ends early.
    """
    encodings = [v.strip().lower() for h in headers.get_all("Transfer-Encoding") or [] for v in h.split(",")]
    lengths = {value.strip() for value in headers.get_all("Content-Length") or []}
    if encodings and lengths:
        raise _RequestRefused(400, "A request cannot have both Content-Length and Transfer-Encoding.")
    if encodings:
        if encodings != ["chunked"]:
            raise _RequestRefused(400, f"Unsupported Transfer-Encoding {', '.join(encodings)!r}.")
        return _read_chunked(stream, limit)
    if not lengths:
        return b""
    if len(lengths) > 1:
        raise _RequestRefused(400, "Conflicting Content-Length headers.")
    (declared,) = lengths
    if not declared.isascii() or not declared.isdigit():
        raise _RequestRefused(400, f"Content-Length must be a non-negative integer, not {declared[:40]!r}.")
    length = int(declared)
    if length > limit:
        raise _RequestRefused(413, f"The request body is {length} bytes; the limit is {limit}.")
    return _read_exactly(stream, length)


def _read_exactly(stream: BinaryIO, length: int) -> bytes:
    try:
        body = stream.read(length) if length else b""
    except TimeoutError:
        raise _RequestRefused(408, "The request body did not arrive in time.") from None
    if len(body) < length:
        raise _RequestRefused(400, f"The request body ended after {len(body)} of {length} bytes.")
    return body


def _read_chunked(stream: BinaryIO, limit: int) -> bytes:
    body = bytearray()
    while True:
        try:
            line = stream.readline(1026)
        except TimeoutError:
            raise _RequestRefused(408, "The request body did not arrive in time.") from None
        size_text = line.split(b";", 1)[0].strip()
        if (
            not line.endswith(b"\n")
            or not size_text
            or not all(c in b"0123456789abcdefABCDEF" for c in size_text)
        ):
            raise _RequestRefused(400, "Malformed chunked request body.")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise _RequestRefused(413, f"The request body is over the {limit}-byte limit.")
        body += _read_exactly(stream, size)
        if _read_exactly(stream, 2) != b"\r\n":
            raise _RequestRefused(400, "Malformed chunked request body.")
    # Trailer fields, if any, end with an empty line; they are read and dropped.
    for _ in range(100):
        try:
            trailer = stream.readline(8192)
        except TimeoutError:
            raise _RequestRefused(408, "The request body did not arrive in time.") from None
        if trailer in (b"\r\n", b"\n", b""):
            return bytes(body)
    raise _RequestRefused(400, "Too many trailer fields.")


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    """One connection to the gateway; ``gateway`` is bound per server by :func:`_handler_class`."""

    gateway: LocalGateway
    protocol_version = "HTTP/1.1"
    # API Gateway speaks HTTP/1.1 (and 2): even a refusal of a garbled request line gets a status line.
    default_request_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_SECONDS

    def handle_one_request(self) -> None:
        """The standard library's request loop, except that every method reaches the gateway.

        The library answers a method without a ``do_`` handler with an HTML 501; API Gateway
        answers any method, and the gateway decides between 404 and 405.
        """
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            words = self.raw_requestline.split()
            if len(words) != 3 or words[2] not in (b"HTTP/1.0", b"HTTP/1.1"):
                # HTTP/0.9 ("GET /"), other versions and garbage: the library would wait for
                # headers, answer with HTML, or with a 505 (the API never answers a 5xx to a request).
                self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
                self.request_version = self.default_request_version
                self.command = ""
                self.send_error(HTTPStatus.BAD_REQUEST, "The request line is not 'METHOD target HTTP/1.1'.")
                return
            if not self.parse_request():
                return  # parse_request answered through send_error.
            self._serve()
            self.wfile.flush()
        except TimeoutError:
            # The request line or headers never arrived; there is nobody left to answer.
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The library's own refusals (bad request line, headers too long...) as problem+json."""
        status = int(code)
        self._send(problem_reply(status, message or HTTPStatus(status).phrase), close=True)

    def _serve(self) -> None:
        try:
            if self.headers.defects:
                # A header line without a colon, or a folded first line: framing nobody should guess at.
                raise _RequestRefused(400, "The request has a malformed header line.")
            body = read_body(self.headers, self.rfile)
        except _RequestRefused as refused:
            # The body was not read (or not all of it), so the connection cannot be reused.
            self._send(refused.reply, close=True)
            self._drain()
            return
        try:
            reply = self.gateway.handle(self.command, self.path, list(self.headers.items()), body)
        except Exception:
            logger.exception("the gateway failed on %s %s", self.command, self.path)
            reply = bad_gateway_reply()
        self._send(reply)

    def _send(self, reply: _Reply, close: bool = False) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if close:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _drain(self, limit: int = 1024 * 1024) -> None:
        # Closing a socket with unread bytes resets it, and the client may lose the reply:
        # read (and drop) a little of what it is still sending first, as servers linger.
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.2)
            while limit > 0 and (chunk := self.connection.recv(min(65536, limit))):
                limit -= len(chunk)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("gateway: " + format, *args)


def _handler_class(gateway: LocalGateway) -> type[BaseHTTPRequestHandler]:
    return type("GatewayRequestHandler", (_GatewayRequestHandler,), {"gateway": gateway})
