"""A local S3 front for presigned uploads: it enforces the presigned URL the way S3 does.

moto accepts any request to a presigned URL: it checks neither the SigV4 query signature, nor
the expiry, nor the signed headers. The API's presigned upload URLs therefore point at this
front (``UPLOAD_ENDPOINT_URL``), which checks each request like S3 and only then forwards the
PUT to moto with the SDK. Everything else (the service's own S3 calls) goes straight to moto.

The signature is recomputed with botocore's own presigned-URL signer (``S3SigV4QueryAuth``)
over the canonical request made of the method, the path, the query without the signature and
the headers the URL names as signed, at the URL's own ``X-Amz-Date``. A PUT with another
Content-Type or Content-Length than the URL signed, a missing signed header, an unknown key,
a tampered parameter or an expired URL is refused with S3's status and XML error body.
"""

from __future__ import annotations

import hmac
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

import boto3
from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_REQUIRED_PARAMETERS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
#: S3 refuses presigned URLs valid for longer than seven days.
MAX_EXPIRES_SECONDS = 7 * 24 * 3600
#: S3's largest single PUT.
MAX_PUT_BYTES = 5 * 1024**3
#: Bodies up to this size are spooled in memory; larger ones go to a temporary file.
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
_CHUNK = 1024 * 1024


class S3Refusal(Exception):
    """A request S3 would refuse: its HTTP status and S3 error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _signature_mismatch() -> S3Refusal:
    return S3Refusal(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided."
        " Check your key and signing method.",
    )


def _bad_parameters(message: str) -> S3Refusal:
    return S3Refusal(400, "AuthorizationQueryParametersError", message)


@dataclass(frozen=True)
class PresignedRequest:
    """The parts of an HTTP request that a SigV4 query signature covers."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    """Header names in lower case."""


class PresignedUrlChecker:
    """Checks SigV4 presigned URLs as S3 does, for the given access keys and region."""

    def __init__(self, secret_keys: Mapping[str, str], region: str, clock: Clock | None = None) -> None:
        self.secret_keys = dict(secret_keys)
        self.region = region
        self.clock: Clock = clock or (lambda: datetime.now(UTC))

    def check(self, request: PresignedRequest) -> None:
        """Return if S3 would accept the request's authentication; raise S3Refusal otherwise."""
        params = parse_qsl(request.query, keep_blank_values=True)
        given = dict(params)
        if not any(name.startswith("X-Amz-") for name in given):
            raise S3Refusal(403, "AccessDenied", "Access Denied")
        if missing := [name for name in _REQUIRED_PARAMETERS if not given.get(name)]:
            raise _bad_parameters(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential,"
                f" X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters"
                f" (missing: {', '.join(missing)})."
            )
        if given["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
            raise _bad_parameters("X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'.")
        signed_at, expires = self._validity(given["X-Amz-Date"], given["X-Amz-Expires"])
        access_key = self._credential(given["X-Amz-Credential"], given["X-Amz-Date"])
        now = self.clock()
        if now > signed_at + timedelta(seconds=expires):
            raise S3Refusal(403, "AccessDenied", "Request has expired")
        if now < signed_at - timedelta(minutes=15):
            raise S3Refusal(403, "AccessDenied", "Request is not yet valid")
        signed_headers = given["X-Amz-SignedHeaders"].split(";")
        if "host" not in signed_headers:
            raise _bad_parameters("X-Amz-SignedHeaders must include the host header.")
        expected = self._signature(request, params, signed_headers, access_key, given["X-Amz-Date"], expires)
        if not hmac.compare_digest(expected, given["X-Amz-Signature"]):
            raise _signature_mismatch()

    @staticmethod
    def _validity(amz_date: str, amz_expires: str) -> tuple[datetime, int]:
        try:
            signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            raise _bad_parameters(
                f"X-Amz-Date must be in the ISO8601 Long Format, not {amz_date!r}."
            ) from None
        if not amz_expires.isdigit():
            raise _bad_parameters("X-Amz-Expires should be a number.")
        expires = int(amz_expires)
        if expires > MAX_EXPIRES_SECONDS:
            raise _bad_parameters("X-Amz-Expires must be less than a week (in seconds) that is 604800.")
        return signed_at, expires

    def _credential(self, credential: str, amz_date: str) -> str:
        parts = credential.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request" or parts[3] != "s3":
            raise _bad_parameters(f"Error parsing the X-Amz-Credential parameter {credential!r}.")
        access_key, date, region = parts[0], parts[1], parts[2]
        if date != amz_date[:8]:
            raise _bad_parameters(f"Invalid credential date {date!r}: it must be the date of X-Amz-Date.")
        if region != self.region:
            raise _bad_parameters(
                f"Error parsing the X-Amz-Credential parameter; the region {region!r} is wrong;"
                f" expecting {self.region!r}"
            )
        if access_key not in self.secret_keys:
            raise S3Refusal(
                403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
            )
        return access_key

    def _signature(
        self,
        request: PresignedRequest,
        params: list[tuple[str, str]],
        signed_headers: list[str],
        access_key: str,
        amz_date: str,
        expires: int,
    ) -> str:
        if any(name not in request.headers for name in signed_headers):
            # S3 signs what it received: a signed header the request lacks cannot match.
            raise _signature_mismatch()
        signer = S3SigV4QueryAuth(
            Credentials(access_key, self.secret_keys[access_key]), "s3", self.region, expires=expires
        )
        canonical = AWSRequest(
            method=request.method,
            url=f"http://{request.headers['host']}{request.path}",
            headers={name: request.headers[name] for name in signed_headers},
            params=[(name, value) for name, value in params if name != "X-Amz-Signature"],
        )
        canonical.context["timestamp"] = amz_date
        string_to_sign = signer.string_to_sign(canonical, signer.canonical_request(canonical))
        return str(signer.signature(string_to_sign, canonical))


class _FrontServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class LocalS3Front:
    """Serves presigned PUTs to ``buckets`` on 127.0.0.1, checked as S3 would, stored in moto."""

    def __init__(
        self,
        buckets: Collection[str],
        secret_keys: Mapping[str, str],
        *,
        endpoint_url: str | None = None,
        region: str,
        clock: Clock | None = None,
        port: int = 0,
        read_timeout: float = 60.0,
    ) -> None:
        self.buckets = frozenset(buckets)
        self.checker = PresignedUrlChecker(secret_keys, region, clock)
        self.read_timeout = read_timeout
        self._s3 = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=Config(signature_version="s3v4")
        )
        self._server = _FrontServer(("127.0.0.1", port), _handler_class(self))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The endpoint presigned upload URLs are made for (``UPLOAD_ENDPOINT_URL``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalS3Front:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-s3-front", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def put(self, bucket: str, key: str, body: Any, length: int, content_type: str | None) -> str:
        """Store the checked upload in moto; returns its ETag."""
        extra = {"ContentType": content_type} if content_type is not None else {}
        reply = self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentLength=length, **extra)
        return str(reply["ETag"])


def _error_body(code: str, message: str, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    ).encode()


class _FrontRequestHandler(BaseHTTPRequestHandler):
    """One request to the front; ``front`` is bound per server by :func:`_handler_class`."""

    protocol_version = "HTTP/1.1"
    front: LocalS3Front

    def setup(self) -> None:
        # A client that declares more bytes than it sends must not hold a thread forever.
        self.timeout = self.front.read_timeout
        super().setup()

    def handle_expect_100(self) -> bool:
        # S3 answers "100 Continue" only once the request is authenticated; see _serve.
        return True

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    do_GET = do_HEAD = do_POST = do_DELETE = do_PATCH = do_OPTIONS = do_PUT  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("s3 front: " + format, *args)

    def _serve(self) -> None:
        request_id = uuid.uuid4().hex[:16].upper()
        try:
            self._checked_put(request_id)
        except S3Refusal as refusal:
            logger.info(
                "s3 front %d %s for %s %s: %s",
                refusal.status,
                refusal.code,
                self.command,
                self.path,
                refusal.message,
            )
            self._send_error(refusal, request_id)
        except ClientError as error:
            details = error.response.get("Error", {})
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            self._send_error(
                S3Refusal(status, str(details.get("Code")), str(details.get("Message"))), request_id
            )
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("s3 front client went away during %s", self.path)
            self.close_connection = True
        except Exception:
            # S3 answers its own failures with 500 InternalError, never a dropped connection.
            logger.exception("s3 front failed on %s %s", self.command, self.path)
            self._send_error(S3Refusal(500, "InternalError", "We encountered an internal error."), request_id)

    def _checked_put(self, request_id: str) -> None:
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        headers.setdefault("host", "")
        # S3 wants the length of a PUT before it looks at the authentication.
        length = self._content_length(headers) if self.command == "PUT" else 0
        self.front.checker.check(PresignedRequest(self.command, split.path, split.query, headers))
        if self.command != "PUT":
            raise S3Refusal(
                405, "MethodNotAllowed", "The specified method is not allowed against this resource."
            )
        bucket, _, key = unquote(split.path).lstrip("/").partition("/")
        if bucket not in self.front.buckets or not key:
            raise S3Refusal(403, "AccessDenied", "Access Denied")
        if headers.get("expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as body:
            self._read_body(body, length)
            body.seek(0)
            etag = self.front.put(bucket, key, body, length, headers.get("content-type"))
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Content-Length", "0")
        self.end_headers()

    @staticmethod
    def _content_length(headers: Mapping[str, str]) -> int:
        value = headers.get("content-length")
        if value is None:
            raise S3Refusal(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        if not value.isdigit():
            raise S3Refusal(400, "InvalidArgument", "Content-Length must be a non-negative integer.")
        length = int(value)
        if length > MAX_PUT_BYTES:
            raise S3Refusal(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        return length

    def _read_body(self, sink: Any, length: int) -> None:
        remaining = length
        try:
            while remaining:
                chunk = self.rfile.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                sink.write(chunk)
                remaining -= len(chunk)
        except TimeoutError:
            pass
        if remaining:
            raise S3Refusal(
                400,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
            )

    def _send_error(self, refusal: S3Refusal, request_id: str) -> None:
        # The body of a refused request is never read, so the connection cannot be reused.
        self.close_connection = True
        body = _error_body(refusal.code, refusal.message, request_id)
        self.send_response(refusal.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", request_id)
        if refusal.status == 405:
            self.send_header("Allow", "PUT")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _handler_class(front: LocalS3Front) -> type[BaseHTTPRequestHandler]:
    return type("S3FrontRequestHandler", (_FrontRequestHandler,), {"front": front})
