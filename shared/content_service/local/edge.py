"""A local CloudFront edge: signed-URL checks, the bundles bucket as origin, ranges and a cache.

Every request must carry a URL signed by a key of the distribution's trusted key groups
(:mod:`content_service.local.edge_auth`); a refusal is a 403 with CloudFront's XML error body.
Objects come from the origin bucket in moto through boto3 (HEAD, then GET, with ``Range`` for
objects too big to cache), and are kept in an :class:`EdgeCache`, so a second read of the same
object does not reach S3 (``X-Cache: Hit from cloudfront``). Objects the cache will not hold are
streamed in chunks and never held whole.

With an origin group (``failover``), a request the first origin answers with one of the
group's failover statuses (CloudFront's FailoverCriteria: 500/502/503/504/403/404 in the
template), or cannot be reached at all, goes to the next origin, as CloudFront does per request.
The origin that answered the HEAD also serves that request's bytes. ``origin_hits`` counts the
requests each origin served.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from content_service.local.edge_auth import AccessDenied, SignatureChecker, SignedRequest
from content_service.local.edge_cache import CachedObject, EdgeCache, RangeNotSatisfiable, parse_range

logger = logging.getLogger(__name__)

STREAM_CHUNK = 256 * 1024
_XML_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
)


#: CloudFront's failover statuses when an origin group names none (the template names these).
DEFAULT_FAILOVER_STATUSES = frozenset({500, 502, 503, 504, 403, 404})


@dataclass(frozen=True)
class Origin:
    """One S3 origin: a bucket in a region (moto serves every region from one endpoint)."""

    bucket: str
    region: str | None = None


@dataclass(frozen=True)
class _Head:
    size: int
    etag: str
    last_modified: str
    content_type: str
    origin: int = 0
    """Which origin of the group answered (its index), so the body comes from the same one."""


class OriginFailed(Exception):
    """Every origin of the group failed; ``status`` is what the last one answered."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class ThreadingEdgeServer(ThreadingHTTPServer):
    """A threading server whose listen backlog takes a burst of thousands of connections."""

    daemon_threads = True
    # socketserver's default backlog of 5 drops SYNs under a burst, and clients then wait seconds.
    request_queue_size = 4096

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops its connection (a device losing its network, a reader that stops
        # after the first bytes) is not an edge failure: say nothing, as CloudFront would.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            return
        super().handle_error(request, client_address)


class LocalEdge:
    """Serves ``bucket`` on 127.0.0.1 the way the template's distribution serves the bundles bucket."""

    def __init__(
        self,
        bucket: str,
        trusted_keys: Mapping[str, str],
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        response_headers: Mapping[str, str] | None = None,
        cache: EdgeCache | None = None,
        port: int = 0,
        failover: Sequence[Origin] = (),
        failover_statuses: frozenset[int] = DEFAULT_FAILOVER_STATUSES,
    ) -> None:
        """``bucket`` in ``region`` is the (primary) origin; ``failover`` the group's next origins."""
        self.bucket = bucket
        self.origins = (Origin(bucket, region), *failover)
        self.failover_statuses = frozenset(failover_statuses)
        self.checker = SignatureChecker(trusted_keys)
        self.cache = cache or EdgeCache()
        self.response_headers = dict(response_headers or {})
        # One client per origin: each signs for its own region, as CloudFront's OAC does. With a
        # group, a failed origin is not retried: the next origin is the retry.
        attempts = 1 if failover else 2
        self._clients = [
            boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=origin.region,
                config=Config(
                    max_pool_connections=64, retries={"max_attempts": attempts, "mode": "standard"}
                ),
            )
            for origin in self.origins
        ]
        self._s3 = self._clients[0]
        self._counter_lock = threading.Lock()
        self.origin_requests = 0
        self.origin_hits = [0] * len(self.origins)
        self._server = ThreadingEdgeServer(("127.0.0.1", port), _handler_class(self))
        self._thread: threading.Thread | None = None

    @property
    def domain(self) -> str:
        """``host:port``: what the distribution's DomainName resolves to locally."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """The URL signed URLs start with locally (CloudFront's is ``https://<domain>``)."""
        return f"http://{self.domain}"

    def start(self) -> LocalEdge:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-edge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # -------------------------------------------------------------- origin
    def head(self, key: str) -> _Head:
        """The first origin's metadata for ``key`` that does not fail over; ``OriginFailed`` if none."""
        status, detail = 502, "no origin"
        for index, origin in enumerate(self.origins):
            self._count_origin_request()
            try:
                reply = self._clients[index].head_object(Bucket=origin.bucket, Key=key)
            except ClientError as error:
                status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 502)
                detail = f"{origin.bucket} ({origin.region}): {status}"
            except BotoCoreError as error:
                status, detail = 502, f"{origin.bucket} ({origin.region}): {error}"
            else:
                with self._counter_lock:
                    self.origin_hits[index] += 1
                return _Head(
                    size=int(reply["ContentLength"]),
                    etag=str(reply["ETag"]),
                    last_modified=format_datetime(reply["LastModified"].astimezone(dt.UTC), usegmt=True),
                    content_type=str(reply.get("ContentType") or "application/octet-stream"),
                    origin=index,
                )
            if status not in self.failover_statuses and status != 502:
                break
            logger.info(
                "edge origin %s failed for %s; %s",
                detail,
                key,
                "failing over" if index + 1 < len(self.origins) else "no origin left",
            )
        raise OriginFailed(status, detail)

    def fetch(self, key: str, head: _Head) -> CachedObject:
        """Read the whole object (only done for objects the cache will keep)."""
        self._count_origin_request()
        origin = self.origins[head.origin]
        body = self._clients[head.origin].get_object(Bucket=origin.bucket, Key=key, IfMatch=head.etag)["Body"]
        data = bytearray()
        for chunk in body.iter_chunks(STREAM_CHUNK):
            data += chunk
        return CachedObject(key, head.etag, head.last_modified, head.content_type, bytes(data))

    def open_range(self, key: str, head: _Head, first: int, last: int) -> Any:
        """The origin's streaming body for bytes ``first..last`` (opened before any header is sent)."""
        self._count_origin_request()
        origin = self.origins[head.origin]
        reply = self._clients[head.origin].get_object(
            Bucket=origin.bucket, Key=key, Range=f"bytes={first}-{last}", IfMatch=head.etag
        )
        return reply["Body"]

    def _count_origin_request(self) -> None:
        with self._counter_lock:
            self.origin_requests += 1


def _error_body(code: str, message: str) -> bytes:
    return _XML_ERROR.format(code=code, message=message).encode()


class _EdgeRequestHandler(BaseHTTPRequestHandler):
    """One request to the edge; ``edge`` is bound per server by :func:`_handler_class`."""

    protocol_version = "HTTP/1.1"
    edge: LocalEdge

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve()

    def _refuse_method(self) -> None:
        # The behavior allows GET and HEAD only; CloudFront answers other methods with 403. The
        # request body is never read, so the connection cannot be reused.
        self.close_connection = True
        self._send_error(403, "MethodNotAllowed", "This distribution only allows GET and HEAD")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("edge: " + format, *args)

    def _serve(self) -> None:
        split = urlsplit(self.path)
        origin = f"http://{self.headers.get('Host') or self.edge.domain}"
        try:
            self.edge.checker.check(
                SignedRequest.parse(origin, split.path, split.query), self.client_address[0]
            )
        except AccessDenied as refusal:
            logger.info("edge 403 for %s: %s", split.path, refusal)
            self._send_error(403, refusal.code, refusal.message)
            return
        key = unquote(split.path.lstrip("/"))
        try:
            self._serve_object(key)
        except OriginFailed as failure:
            logger.info("edge origin error for %s: %s", key, failure)
            if failure.status >= 500:
                # CloudFront passes a 5xx of the last origin on (and answers 502 for no answer).
                self._send_error(failure.status, "ServiceUnavailable", "The origin is unavailable")
            else:
                # Through an OAC without s3:ListBucket, S3 answers a missing object with 403 too.
                self._send_error(403, "AccessDenied", "Access denied")
        except ClientError as error:
            # Through an OAC without s3:ListBucket, S3 answers a missing object with 403 too.
            logger.info("edge origin error for %s: %s", key, error)
            self._send_error(403, "AccessDenied", "Access denied")
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("edge client went away while reading %s", key)
        except Exception:
            # CloudFront answers an origin it cannot use with 502; the half-sent reply, if any, is cut.
            logger.exception("edge failed serving %s", key)
            self.close_connection = True
            self._send_error(502, "BadGateway", "The origin could not be read")

    def _serve_object(self, key: str) -> None:
        cached = self.edge.cache.get(key)
        if cached is not None:
            self._send_cached(cached, "Hit from cloudfront")
            return
        with self.edge.cache.filling(key):
            # Another request may have filled the cache while this one waited for the lock.
            cached = self.edge.cache.get(key)
            if cached is not None:
                self._send_cached(cached, "Hit from cloudfront")
                return
            head = self.edge.head(key)
            if self.edge.cache.cacheable(head.size):
                cached = self.edge.fetch(key, head)
                self.edge.cache.put(cached)
        if cached is not None:
            self._send_cached(cached, "Miss from cloudfront")
        else:
            self._send_streamed(key, head)

    def _selected(self, size: int, etag: str) -> tuple[int, int, int] | None:
        """(status, first, last) to send, or None once a 304/416 went out."""
        if self.headers.get("If-None-Match") in (etag, "*"):
            self._send_head(304, etag_only=etag)
            return None
        try:
            wanted = parse_range(self.headers.get("Range"), size)
        except RangeNotSatisfiable:
            self._send_error(416, "InvalidRange", "The requested range is not satisfiable", size=size)
            return None
        if wanted is None:
            return 200, 0, size - 1
        return 206, wanted[0], wanted[1]

    def _send_cached(self, cached: CachedObject, x_cache: str) -> None:
        selected = self._selected(cached.size, cached.etag)
        if selected is None:
            return
        status, first, last = selected
        self._send_object_head(status, first, last, cached.size, cached, x_cache)
        if self.command != "HEAD":
            self.wfile.write(memoryview(cached.body)[first : last + 1])

    def _send_streamed(self, key: str, head: _Head) -> None:
        selected = self._selected(head.size, head.etag)
        if selected is None:
            return
        status, first, last = selected
        body = self.edge.open_range(key, head, first, last) if self.command != "HEAD" else None
        self._send_object_head(status, first, last, head.size, head, "Miss from cloudfront")
        if body is None:
            return
        try:
            for chunk in body.iter_chunks(STREAM_CHUNK):
                self.wfile.write(chunk)
        finally:
            body.close()

    def _send_object_head(
        self, status: int, first: int, last: int, size: int, meta: CachedObject | _Head, x_cache: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", meta.content_type)
        self.send_header("Content-Length", str(max(last - first + 1, 0)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", meta.etag)
        self.send_header("Last-Modified", meta.last_modified)
        self._send_edge_headers(x_cache)
        self.end_headers()

    def _send_head(self, status: int, etag_only: str) -> None:
        self.send_response(status)
        self.send_header("ETag", etag_only)
        self.send_header("Content-Length", "0")
        self._send_edge_headers("Hit from cloudfront")
        self.end_headers()

    def _send_error(self, status: int, code: str, message: str, size: int | None = None) -> None:
        body = _error_body(code, message)
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        if size is not None:
            self.send_header("Content-Range", f"bytes */{size}")
        self._send_edge_headers("Error from cloudfront")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_edge_headers(self, x_cache: str) -> None:
        for name, value in self.edge.response_headers.items():
            self.send_header(name, value)
        self.send_header("X-Cache", x_cache)
        self.send_header("Via", "1.1 local-edge.cloudfront.net (CloudFront)")
        self.send_header("X-Amz-Cf-Id", uuid.uuid4().hex)


def _handler_class(edge: LocalEdge) -> type[BaseHTTPRequestHandler]:
    return type("EdgeRequestHandler", (_EdgeRequestHandler,), {"edge": edge})
