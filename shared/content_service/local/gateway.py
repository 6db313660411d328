"""A local API Gateway (REST, proxy integration) in front of the in-process handlers.

It routes by the ``Type: Api`` events in template.yaml, verifies the bearer token as the
Cognito authorizer would (routes with ``Authorizer: NONE`` skip that), builds the v1 proxy
event, invokes the function and writes its response back.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from content_service.local.authorizer import CognitoStyleAuthorizer, Unauthorized
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


class LocalGateway:
    """A ThreadingHTTPServer on 127.0.0.1 that behaves like the REST API stage."""

    def __init__(
        self,
        routes: list[Route],
        authorizer: CognitoStyleAuthorizer,
        invoke: Invoke,
        stage: str = "prod",
        port: int = 0,
    ) -> None:
        self.routes = routes
        self.authorizer = authorizer
        self.invoke = invoke
        self.stage = stage
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(self))
        self._server.daemon_threads = True
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
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def handle(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes) -> _Reply:
        """Turn one HTTP request into a proxy event, invoke, and return the HTTP reply."""
        split = urlsplit(raw_path)
        path = split.path
        # The stage prefix is optional locally, so both ApiUrl-style and bare /v1 paths work.
        if path.startswith(f"/{self.stage}/"):
            path = path[len(self.stage) + 1 :]
        match = self._match(method, path)
        if match is None:
            return _json_reply(404, {"message": "Not Found"}, "application/json")
        route, path_parameters = match
        claims: dict[str, str] | None = None
        if route.authorized:
            authorization = next((v for k, v in headers if k.lower() == "authorization"), None)
            try:
                claims = self.authorizer.claims_for(authorization)
            except Unauthorized as refusal:
                logger.info("401 for %s %s: %s", method, path, refusal)
                return _json_reply(401, UNAUTHORIZED_PROBLEM, "application/problem+json")
        event = self._event(route, method, path, split.query, headers, body, path_parameters, claims)
        try:
            response = self.invoke(route.function, event)
            return _reply_from_proxy_response(response)
        except Exception:
            # API Gateway answers a crashed or malformed integration with a bare 502.
            logger.exception("%s failed for %s %s", route.function, method, path)
            return _json_reply(502, {"message": "Internal server error"}, "application/json")

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in ("ANY", method):
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def _event(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        path_parameters: dict[str, str],
        claims: dict[str, str] | None,
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
                "authorizer": {"claims": claims} if claims is not None else None,
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


def _reply_from_proxy_response(response: Any) -> _Reply:
    if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
        raise ValueError(f"malformed proxy response: {response!r:.200}")
    headers = [(str(k), str(v)) for k, v in (response.get("headers") or {}).items()]
    single = {k.lower() for k, _ in headers}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if name.lower() not in single:
            headers.extend((str(name), str(value)) for value in values)
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    return _Reply(response["statusCode"], headers, raw)


def _handler_class(gateway: LocalGateway) -> type[BaseHTTPRequestHandler]:
    class _RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = gateway.handle(self.command, self.path, list(self.headers.items()), body)
            self.send_response(reply.status)
            for name, value in reply.headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            logger.debug("gateway: " + format, *args)

    return _RequestHandler
