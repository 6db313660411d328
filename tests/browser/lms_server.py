"""The LMS side of the browser tests, on 127.0.0.1: static host pages, exported packages, and a
small LRS (cmi5 fetch, the State API, statements) that records every request.

It is deliberately strict where cmi5 is: the fetch URL hands out its token once, statements
must carry that token and an xAPI version header, and statement ids must be unique.
"""

from __future__ import annotations

import json
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

HERE = Path(__file__).parent
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".xml": "application/xml",
}


@dataclass
class Recorder:
    """What the content sent, and the LRS's state documents."""

    packages: dict[str, Path] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    fetches: dict[str, int] = field(default_factory=dict)
    statements: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    state: dict[tuple[str, str, str, str], bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def statements_of(self, registration: str) -> list[dict[str, Any]]:
        return [
            entry["statement"]
            for entry in self.statements
            if entry["statement"].get("context", {}).get("registration") == registration
        ]

    def put_state(
        self, activity: str, agent: dict[str, Any], registration: str, state_id: str, body: bytes
    ) -> None:
        self.state[(activity, json.dumps(agent, sort_keys=True), registration, state_id)] = body


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # silence the default stderr log
            return

        def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            path = unquote(url.path)
            if path.startswith(("/lms/", "/node_modules/")):
                file = (HERE / path.lstrip("/")).resolve()
                if HERE in file.parents and file.is_file():
                    return self._send(
                        200, file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream")
                    )
                return self._send(404)
            if path.startswith("/pkg/"):
                return self._package(path)
            if path == "/xapi/activities/state":
                return self._get_state(parse_qs(url.query))
            return self._send(404)

        def do_POST(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path.startswith("/cmi5/fetch/"):
                key = url.path.rsplit("/", 1)[-1]
                self._body()
                with recorder.lock:
                    recorder.fetches[key] = recorder.fetches.get(key, 0) + 1
                    first = recorder.fetches[key] == 1
                if not first or key not in recorder.tokens:
                    return self._send(
                        200, json.dumps({"error-code": "1", "error-text": "already fetched"}).encode()
                    )
                return self._send(200, json.dumps({"auth-token": recorder.tokens[key]}).encode())
            if url.path == "/xapi/statements":
                return self._statements(None)
            return self._send(404)

        def do_PUT(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/xapi/statements":
                return self._statements(query.get("statementId", [None])[0])
            if url.path == "/xapi/activities/state":
                if not self._authorised():
                    return self._send(401)
                body = self._body()
                key = self._state_key(query)
                with recorder.lock:
                    recorder.state[key] = body
                return self._send(204)
            return self._send(404)

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization") or ""
            return auth in {f"Basic {token}" for token in recorder.tokens.values()} and bool(
                self.headers.get("X-Experience-API-Version")
            )

        def _state_key(self, query: dict[str, list[str]]) -> tuple[str, str, str, str]:
            agent = json.loads(query.get("agent", ["{}"])[0])
            return (
                query.get("activityId", [""])[0],
                json.dumps(agent, sort_keys=True),
                query.get("registration", [""])[0],
                query.get("stateId", [""])[0],
            )

        def _get_state(self, query: dict[str, list[str]]) -> None:
            if not self._authorised():
                return self._send(401)
            body = recorder.state.get(self._state_key(query))
            return self._send(404) if body is None else self._send(200, body)

        def _statements(self, statement_id: str | None) -> None:
            body = self._body()
            entry = {
                "authorization": self.headers.get("Authorization"),
                "version": self.headers.get("X-Experience-API-Version"),
                "statement_id": statement_id,
            }
            try:
                statement = json.loads(body)
            except ValueError:
                return self._send(400)
            entry["statement"] = statement
            with recorder.lock:
                duplicate = any(
                    other["statement"].get("id") == statement.get("id") for other in recorder.statements
                )
                recorder.statements.append(entry)
            if not self._authorised():
                return self._send(401)
            if duplicate or (statement_id and statement.get("id") != statement_id):
                return self._send(409)
            return self._send(204)

        def _package(self, path: str) -> None:
            _, _, name, inner = path.split("/", 3)
            archive_path = recorder.packages.get(name)
            if archive_path is None:
                return self._send(404)
            with zipfile.ZipFile(archive_path) as archive:
                try:
                    data = archive.read(inner)
                except KeyError:
                    return self._send(404)
            return self._send(200, data, TYPES.get(Path(inner).suffix, "application/octet-stream"))

    return Handler


class LmsServer:
    """A threaded HTTP server on 127.0.0.1 with a free port; use as a context manager."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LmsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
