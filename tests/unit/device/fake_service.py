"""A small in-process stand-in for the service a device talks to: the device API, the CDN and an LRS.

It follows docs/offline-bundles.md with real crypto (sealed containers, ES256 manifests and
licences from a ``LocalSigner``, content keys wrapped to the device's X25519 key), on a
loopback HTTP server, so the agent's unit tests exercise its real HTTP, Range and crypto paths
in milliseconds. The local stack (tests/e2e) checks the same agent against the real service.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from content_service.crypto import LocalSigner, seal, wrap_content_key
from content_service.domain.licence import LicenceTerms
from content_service.domain.tenant import Branding, TenantSettings

TOKEN = "device-test-token"


@dataclass
class FakeBundle:
    bundle_id: str
    manifest: str
    packages: list[dict[str, Any]]
    keys: dict[tuple[str, int], bytes]
    files: dict[str, dict[str, bytes]]
    revoked: bool = False


@dataclass
class Faults:
    """Ways the CDN misbehaves, to test resume: each applies to the next matching GETs."""

    cut_after: int | None = None
    """Send the headers of the whole answer, then only this many body bytes, then close."""
    cut_only: str = ""
    """Apply ``cut_after`` only to keys ending with this (for example ``.cspc``)."""
    ignore_range: bool = False
    """Answer a Range request with 200 and the whole object."""
    extra_bytes: bytes = b""
    """Append these bytes after the object (a server sending more than the manifest says)."""
    refuse_next: int = 0
    """Answer this many next GETs with 403, as the CDN answers a signed URL it no longer accepts."""


@dataclass
class FakeService:
    now: Callable[[], float]
    tenant_id: str = "tenant-a"
    user_id: str = "user-1"
    token: str = TOKEN
    terms: LicenceTerms = field(default_factory=LicenceTerms)
    signer: LocalSigner = field(default_factory=LocalSigner.generate)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    bundles: dict[str, FakeBundle] = field(default_factory=dict)
    objects: dict[str, bytes] = field(default_factory=dict)
    tamper_reports: list[dict[str, Any]] = field(default_factory=list)
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    statement_puts: list[str] = field(default_factory=list)
    cdn_requests: list[dict[str, str]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    retired_keys: list[dict[str, str]] = field(default_factory=list)
    """Public keys of earlier signers, still listed in the JWKS (rotation)."""
    fail_licences_with: int | None = None
    """Answer licence requests with this status (a server error, an expired token)."""
    feeds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Each device's sync feed, in order (seq = index + 1), as docs/offline-bundles.md "Sync" shows it."""
    sync_requests: list[dict[str, str]] = field(default_factory=list)
    mangle_status: Callable[[str], str] | None = None
    """Alter each signed status before it is sent (a forged or replayed status)."""
    mangle_jwks: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """Alter the key set document before it is sent (a forged key set)."""
    retired_signers: list[LocalSigner] = field(default_factory=list)
    """Signers retired for good: listed as retired, they still sign the key set once more."""
    signals: list[dict[str, Any]] = field(default_factory=list)
    previous_signers: list[LocalSigner] = field(default_factory=list)
    stages: tuple[str, ...] = ("/prod",)
    """API stages served; a second one plays another zone's API (a residency migration)."""
    stage_requests: list[str] = field(default_factory=list)
    enrolment_endpoints: list[str] | None = None
    """The ``api_endpoints`` of the enrolment reply (a zone's primary, then its secondary)."""
    failed_stages: set[str] = field(default_factory=set)
    """Stages that answer 503 to everything, as a failed region's gateway does."""
    moved_stages: dict[str, Any] = field(default_factory=dict)
    """Stage → the ``api_endpoints`` its 421 ``tenant-moved`` problem names: an old zone that
    cleaned up after a residency migration and knows the tenant's devices no more."""
    download_url_ttl: float | None = None
    """Seconds the download listing's signed URLs are valid (its ``expires_at``); None: no expiry given."""
    download_requests: int = 0
    """How many download listings (signed URLs) the API handed out."""
    settings: TenantSettings | None = None
    """The tenant's settings (branding); None: never written, unbranded."""
    mangle_branding: Callable[[str], str] | None = None
    """Alter the signed branding overlay before it is sent (a forged overlay)."""
    branding_requests: int = 0
    logo: bytes | None = None
    """The bytes ``GET /v1/tenant/branding/logo`` answers (None: a 404)."""
    _server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeService:
        service = self

        class Handler(_Handler):
            fake = service

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/prod"

    @property
    def lrs_url(self) -> str:
        return self.base_url + "/lrs"

    # ------------------------------------------------------------ content
    def add_bundle(
        self,
        packages: dict[str, dict[str, bytes]],
        *,
        segment_size: int = 256,
        corrupt: Callable[[bytes], bytes] | None = None,
    ) -> str:
        """Seal each package's files in a container and sign a manifest listing them.

        ``corrupt`` alters each container before it is hashed and signed: a service-signed
        container whose segments do not authenticate.
        """
        bundle_id = f"bnd_{uuid.uuid4().hex}"
        members, keys = [], {}
        for package_id, files in packages.items():
            key = os.urandom(32)
            out = io.BytesIO()
            seal(((p, io.BytesIO(d)) for p, d in files.items()), key, out, segment_size=segment_size)
            data = corrupt(out.getvalue()) if corrupt else out.getvalue()
            content_hash = hashlib.sha256(json.dumps(sorted(files)).encode()).hexdigest()
            object_key = f"tenants/{self.tenant_id}/containers/{package_id}/v1/{content_hash}.cspc"
            self.objects[object_key] = data
            keys[(package_id, 1)] = key
            members.append(
                {
                    "package_id": package_id,
                    "version": 1,
                    "content_hash": content_hash,
                    "container": {
                        "key": object_key,
                        "size": len(data),
                        "sha256": hashlib.sha256(data).hexdigest(),
                    },
                }
            )
        claims = {
            "iss": "content-service",
            "ver": 1,
            "bundle_id": bundle_id,
            "tenant_id": self.tenant_id,
            "residency_zone": "eu",
            "iat": int(self.now()),
            "packages": members,
        }
        manifest = self.signer.sign(claims, typ="bundle-manifest+jwt")
        self.objects[f"tenants/{self.tenant_id}/bundles/{bundle_id}/manifest.jws"] = manifest.encode()
        self.bundles[bundle_id] = FakeBundle(bundle_id, manifest, members, keys, packages)
        self._fan_out("bundle.added", bundle_id)
        return bundle_id

    # ------------------------------------------------------------ sync feed
    def _fan_out(self, kind: str, bundle_id: str, reason: str | None = None) -> None:
        for device_id, device in self.devices.items():
            if device["state"] == "active":
                self._append(device_id, kind, bundle_id, reason)

    def _append(self, device_id: str, kind: str, bundle_id: str, reason: str | None = None) -> None:
        feed = self.feeds.setdefault(device_id, [])
        feed.append(
            {
                "seq": len(feed) + 1,
                "type": kind,
                "bundle_id": bundle_id,
                "at": "2026-11-28T12:00:00Z",
                "event_id": f"evt_{uuid.uuid4().hex}",
                "reason": reason,
            }
        )

    def migrate(self, stage: str, zone: str = "us") -> str:
        """Move the tenant to another zone served on ``stage``: every active device's feed gets
        ``tenant.migrated`` with that API, as the sync route shows it. Returns the new API URL."""
        self.stages = (*self.stages, stage)
        for device_id, device in self.devices.items():
            if device["state"] != "active":
                continue
            feed = self.feeds.setdefault(device_id, [])
            seq = len(feed) + 1
            feed.append(
                {
                    "seq": seq,
                    "type": "tenant.migrated",
                    "bundle_id": "",
                    "at": "2026-11-28T12:00:00Z",
                    "event_id": f"evt_{uuid.uuid4().hex}",
                    "zone": zone,
                    "api_endpoints": [self.base_url + stage],
                    "resume_after_seq": seq - 1,
                }
            )
        return self.base_url + stage

    def revoke_bundle(self, bundle_id: str, reason: str = "withdrawn") -> None:
        """Revoke a bundle: licences are refused and every active device's feed says so."""
        self.bundles[bundle_id].revoked = True
        self._fan_out("bundle.revoked", bundle_id, reason)

    def key_set(self) -> dict[str, Any]:
        """The signed key set as the service publishes it (``KeyRing.signed_jwks``)."""
        keys = [self.signer.public_jwk(), *self.retired_keys]
        retired = [s.kid for s in self.retired_signers]
        claims = {
            "iss": "content-service",
            "ver": 1,
            "server_time": int(self.now()),
            "keys": keys,
            "retired": retired,
        }
        signatures = [self.signer.sign(claims, typ="jwk-set+jwt")]
        signatures += [
            s.sign(claims, typ="jwk-set+jwt") for s in self.previous_signers + self.retired_signers
        ]
        document = {"keys": keys, "retired": retired, "signatures": signatures}
        return self.mangle_jwks(document) if self.mangle_jwks else document

    def sync(
        self, device_id: str, cursor: str | None, limit: int, nonce: str | None = None
    ) -> tuple[int, Any]:
        device = self.devices.get(device_id)
        if device is None:
            return 404, {"title": "Not found"}
        after = json.loads(base64.urlsafe_b64decode(cursor))["s"] if cursor else 0
        feed = self.feeds.get(device_id, [])
        page = feed[after : after + limit]
        last = page[-1]["seq"] if page else after
        claims = {
            "iss": "content-service",
            "ver": 1,
            "device_id": device_id,
            "tenant_id": self.tenant_id,
            "sub": self.user_id,
            "device_state": device["state"],
            "server_time": int(self.now()),
            "revoked_bundles": sorted(b for b, x in self.bundles.items() if x.revoked),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims["branding_revision"] = self.settings.branding_revision if self.settings else 0
        status = self.signer.sign(claims, typ="device-status+jwt")
        if self.mangle_status:
            status = self.mangle_status(status)
        return 200, {
            "changes": page,
            "next_cursor": base64.urlsafe_b64encode(
                json.dumps({"d": device_id, "s": last}).encode()
            ).decode(),
            "has_more": after + limit < len(feed),
            "server_time": "2026-11-28T12:00:00Z",
            "status": status,
        }

    def licence(self, bundle_id: str, device_id: str, *, device_key: dict[str, str] | None = None) -> str:
        """A licence as the service issues it (``device_key`` overrides the enrolled key)."""
        bundle = self.bundles[bundle_id]
        public = device_key or self.devices[device_id]["public_key"]
        now = int(self.now())
        claims = {
            "iss": "content-service",
            "ver": 1,
            "jti": f"lic_{uuid.uuid4().hex}",
            "tenant_id": self.tenant_id,
            "sub": self.user_id,
            "device_id": device_id,
            "bundle_id": bundle_id,
            "content_hash": hashlib.sha256(bundle.manifest.encode()).hexdigest(),
            "nbf": now,
            "exp": now + int(self.terms.validity.total_seconds()),
            "offline_grace": int(self.terms.offline_grace.total_seconds()),
            "server_time": now,
            "status_deadline": now + int(self.terms.status_interval.total_seconds()),
            "keys": [
                {
                    "package_id": package_id,
                    "version": version,
                    "jwe": wrap_content_key(key, public, bundle_id=bundle_id, device_id=device_id),
                }
                for (package_id, version), key in bundle.keys.items()
            ],
        }
        return self.signer.sign(claims, typ="license+jwt")

    # ------------------------------------------------------------ API
    def handle_api(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "POST" and path == "/v1/devices":
            device_id = f"dev_{uuid.uuid4().hex}"
            self.devices[device_id] = {
                "device_id": device_id,
                "user_id": self.user_id,
                "name": body.get("name", ""),
                "state": "active",
                "public_key": body["public_key"],
                "created_at": "2026-11-28T12:00:00Z",
            }
            for bundle in self.bundles.values():
                if not bundle.revoked:
                    self._append(device_id, "bundle.added", bundle.bundle_id)
            if self.enrolment_endpoints is not None:
                return 201, {**self.devices[device_id], "api_endpoints": self.enrolment_endpoints}
            return 201, self.devices[device_id]
        if match := re.fullmatch(r"/v1/devices/(dev_\w+)/sync", path):
            self.sync_requests.append(dict(query))
            return self.sync(match[1], query.get("cursor"), int(query.get("limit", 100)), query.get("nonce"))
        if match := re.fullmatch(r"/v1/devices/(dev_\w+)/signals", path):
            if match[1] not in self.devices:
                return 404, {"title": "Not found"}
            self.signals.append({"device_id": match[1], **body})
            return 202, {"accepted": True}
        if method == "GET" and path == "/v1/tenant/branding":
            self.branding_requests += 1
            claims = self.settings.branding_claims(int(self.now())) if self.settings else None
            overlay = None if claims is None else self.signer.sign(claims, typ="branding-overlay+jwt")
            if overlay is not None and self.mangle_branding:
                overlay = self.mangle_branding(overlay)
            return 200, {"overlay": overlay, "revision": self.settings.revision if self.settings else 0}
        if method == "GET" and path == "/v1/.well-known/jwks.json":
            return 200, self.key_set()
        if method == "GET" and path == "/v1/bundles":
            items = [
                {"bundle_id": b, "user_id": self.user_id, "state": "revoked" if x.revoked else "built"}
                for b, x in self.bundles.items()
            ]
            return 200, {"items": items, "next_cursor": None}
        if match := re.fullmatch(r"/v1/bundles/(bnd_\w+)/licenses", path):
            if self.fail_licences_with is not None:
                return self.fail_licences_with, {"title": "Failing on purpose"}
            bundle = self.bundles.get(match[1])
            device = self.devices.get(body.get("device_id", ""))
            if bundle is None or device is None:
                return 404, {"title": "Not found"}
            if bundle.revoked or device["state"] != "active":
                return 409, {"title": "Revoked"}
            return 201, {
                "license": self.licence(bundle.bundle_id, device["device_id"]),
                "license_id": "lic",
                "expires_at": "",
            }
        if match := re.fullmatch(r"/v1/bundles/(bnd_\w+)/download", path):
            bundle = self.bundles.get(match[1])
            device = self.devices.get(query.get("device_id", ""))
            if bundle is None or device is None:
                return 404, {"title": "Not found"}
            if bundle.revoked or device["state"] != "active":
                return 409, {"title": "Revoked"}
            self.download_requests += 1
            expires_at = ""
            if self.download_url_ttl is not None:
                expires_at = datetime.fromtimestamp(self.now() + self.download_url_ttl, tz=UTC).isoformat()
            return 200, {
                "manifest_url": f"{self.base_url}/cdn/tenants/{self.tenant_id}/bundles/{bundle.bundle_id}/manifest.jws",
                "containers": [
                    {
                        "package_id": p["package_id"],
                        "version": p["version"],
                        "url": f"{self.base_url}/cdn/{p['container']['key']}",
                        "size": p["container"]["size"],
                        "sha256": p["container"]["sha256"],
                    }
                    for p in bundle.packages
                ],
                "expires_at": expires_at,
            }
        if match := re.fullmatch(r"/v1/devices/(dev_\w+)/tamper-reports", path):
            if match[1] not in self.devices or body.get("bundle_id") not in self.bundles:
                return 404, {"title": "Not found"}
            report_id = f"tmp_{uuid.uuid4().hex}"
            self.tamper_reports.append({"device_id": match[1], "report_id": report_id, **body})
            return 202, {"report_id": report_id}
        return 404, {"title": "No such route"}

    def brand(self, branding: Branding | None) -> TenantSettings:
        """An admin changes the tenant's branding (the settings' revision moves on, as the store's does)."""
        revision = self.settings.revision + 1 if self.settings else 1
        self.settings = TenantSettings(self.tenant_id, "eu", branding=branding, revision=revision)
        return self.settings

    def rotate_key(self) -> None:
        """A new signer signs from now on; the old key stays listed (and signs the key set) until retired."""
        self.retired_keys.insert(0, self.signer.public_jwk())
        self.previous_signers.insert(0, self.signer)
        self.signer = LocalSigner.generate()

    def retire_previous_keys(self) -> None:
        """The previous signers are retired: no longer listed, named as retired, signing the set once more."""
        self.retired_signers.extend(self.previous_signers)
        self.previous_signers.clear()
        self.retired_keys.clear()

    def revoke_device(self, device_id: str) -> None:
        self.devices[device_id]["state"] = "revoked"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A connection the tests cut on purpose is not worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    fake: FakeService
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._reply(status, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else {}

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/cdn/"):
            return self._cdn(url.path[len("/cdn/") :])
        if url.path == "/lrs/statements" and method == "PUT":
            statement = self._body()
            statement_id = query["statementId"]
            self.fake.statement_puts.append(statement_id)
            # xAPI PUT-by-id: the same id is stored once; a different statement under it is a 409.
            known = self.fake.statements.setdefault(statement_id, statement)
            return self._reply(204 if known == statement else 409, b"")
        stage = next((s for s in self.fake.stages if url.path.startswith(s + "/")), None)
        if stage is None:
            return self._json(404, {"title": "Not found"})
        if self.headers.get("Authorization") != f"Bearer {self.fake.token}":
            return self._json(401, {"title": "Unauthorized"})
        self.fake.stage_requests.append(stage)
        body = self._body() if method in ("POST", "PUT") else None
        if stage in self.fake.moved_stages:
            return self._json(
                421,
                {
                    "type": "https://content-service.example/problems/tenant-moved",
                    "title": "The tenant moved to another residency zone",
                    "status": 421,
                    "zone": "us",
                    "api_endpoints": self.fake.moved_stages[stage],
                },
            )
        if stage in self.fake.failed_stages:
            return self._json(503, {"title": "Service Unavailable", "detail": "the region is failed"})
        if method == "GET" and url.path[len(stage) :] == "/v1/tenant/branding/logo":
            if self.fake.logo is None:
                return self._json(404, {"title": "Resource not found"})
            return self._reply(200, self.fake.logo, {"Content-Type": "image/png"})
        status, answer = self.fake.handle_api(method, url.path[len(stage) :], query, body)
        self._json(status, answer)

    def _cdn(self, key: str) -> None:
        fake = self.fake
        fake.cdn_requests.append({"key": key, "range": self.headers.get("Range", "")})
        data = fake.objects.get(key)
        if fake.faults.refuse_next:
            fake.faults.refuse_next -= 1
            return self._json(403, {"title": "Access denied"})
        if data is None:
            return self._json(403, {"title": "Access denied"})
        data = data + fake.faults.extra_bytes
        requested = self.headers.get("Range")
        if requested and not fake.faults.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-(\d*)", requested)[1])  # type: ignore[index]
            if start >= len(data):
                return self._reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            status, body = 206, data[start:]
            headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
        else:
            status, body, headers = 200, data, {}
        if fake.faults.cut_after is not None and key.endswith(fake.faults.cut_only):
            cut, fake.faults.cut_after = fake.faults.cut_after, None
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        return self._reply(status, body, headers)

    def do_GET(self) -> None:  # noqa: N802 - the http.server naming.
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")
