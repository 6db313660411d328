"""The provider states the consumers' pacts name, set up through the running service's own API.

Nothing is written behind the service's back: a built package is uploaded and built by the
real pipeline, a device is enrolled by its learner, a bundle is created by the catalog service,
and so on, each with the role the real caller has. Each handler answers with the values the
interaction's ``ProviderState`` generators need (ids, the caller's token), which the verifier
puts into the request in place of the consumer's examples.

An interaction names its caller first ("the caller is the ..."): that state mints the caller's
token and starts a fresh context; the states after it act in the same tenant and, for a learner,
for that learner.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from content_service.client import ApiClient
from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build, upload_and_settle

TENANT = "tenant-pact"
STATE_PATH = "/_pact/state"

# Every provider state a consumer may name, and the method that sets it up.
STATES = {
    "the caller is the authoring service": "_authoring_service",
    "the caller is the catalog service": "_catalog_service",
    "the caller is the tenant admin": "_tenant_admin",
    "the caller is the learner": "_learner",
    "a package version is built": "_built_package",
    "a package version failed to build": "_failed_package",
    "a learner has an enrolled device": "_enrolled_device",
    "a bundle is built for a learner": "_built_bundle",
    "a learner's device holds a built bundle": "_device_with_bundle",
    "the device has synced, then a bundle it holds was revoked": "_revoked_since_sync",
    "an assistant generation of a built package version is ready": "_assistant_generation_ready",
    "a draft assistant config of a built package version exists": "_assistant_draft",
    "a built package version no bundle holds": "_unheld_package",
    "a package version was withdrawn": "_withdrawn_package",
}


class ProviderStates:
    """Sets up each named state on a running local stack; remembers built packages for reuse."""

    def __init__(self, stack: LocalStack, tenant: str = TENANT) -> None:
        self.stack = stack
        self.tenant = tenant
        self.context: dict[str, Any] = {}
        self._packages: dict[str, str] = {}
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            state: getattr(self, method) for state, method in STATES.items()
        }

    def set_up(self, state: str, params: dict[str, Any] | None) -> dict[str, Any]:
        """Set up one state; KeyError for a state no handler knows (the verification then fails)."""
        handler = self._handlers[state]
        with self._lock:
            values = handler(params or {})
            self.context.update(values)
            return values

    # ------------------------------------------------------------------ callers
    def _caller(self, token: str, **values: Any) -> dict[str, Any]:
        self.context = {}
        return {"token": token, **values}

    def _authoring_service(self, _: dict[str, Any]) -> dict[str, Any]:
        return self._caller(self.stack.mint_service_token(self.tenant, "authoring", ["author"]))

    def _catalog_service(self, _: dict[str, Any]) -> dict[str, Any]:
        return self._caller(self.stack.mint_service_token(self.tenant, "catalog", ["catalog"]))

    def _tenant_admin(self, _: dict[str, Any]) -> dict[str, Any]:
        return self._caller(self.stack.mint_token(self.tenant, "admin-pact", roles=["admin"]))

    def _learner(self, _: dict[str, Any]) -> dict[str, Any]:
        # A new learner each time, so device caps and feeds never carry over between interactions.
        user = f"learner-{uuid.uuid4().hex[:12]}"
        return {**self._caller(self.stack.mint_token(self.tenant, user)), "user_id": user}

    # ------------------------------------------------------------------ clients
    def _client(self, token: str) -> ApiClient:
        return ApiClient(self.stack.api_url, token)

    def author(self) -> ApiClient:
        return self._client(self.stack.mint_service_token(self.tenant, "authoring", ["author"]))

    def catalog(self) -> ApiClient:
        return self._client(self.stack.mint_service_token(self.tenant, "catalog", ["catalog"]))

    def learner(self) -> tuple[str, ApiClient]:
        """The context's learner, or a new one when the caller is not a learner."""
        user = self.context.get("user_id") or f"learner-{uuid.uuid4().hex[:12]}"
        return user, self._client(self.stack.mint_token(self.tenant, user))

    # ------------------------------------------------------------------ data
    def _package(self, kind: str, data: bytes) -> str:
        if kind not in self._packages:
            self._packages[kind] = upload_and_settle(self.author(), data, timeout=90)["package_id"]
        return self._packages[kind]

    def _built_package(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"package_id": self._package("built", sample_zip_bytes("welcome"))}

    def _failed_package(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"package_id": self._package("failed", _zip_without_descriptor())}

    def admin(self) -> ApiClient:
        return self._client(self.stack.mint_token(self.tenant, "admin-pact", roles=["admin"]))

    def _assistant_generation_ready(self, params: dict[str, Any]) -> dict[str, Any]:
        # Generated through the API and the assistant function, as the authoring service would.
        package_id = self._built_package(params)["package_id"]
        author = self.author()
        queued = author.create_assistant_config(package_id, uuid.uuid4().hex, 1)
        job = author.wait_for_assistant_generation(queued["generation_id"], timeout=90, interval=0.1)
        if job["state"] != "ready":
            raise AssertionError(f"the generation did not succeed: {job}")
        return {"package_id": package_id, "generation_id": job["generation_id"], "config_id": job["config_id"]}

    def _assistant_draft(self, params: dict[str, Any]) -> dict[str, Any]:
        # A fresh draft each time: approving one retires the one approved before, never this one.
        return self._assistant_generation_ready(params)

    def _unheld_package(self, _: dict[str, Any]) -> dict[str, Any]:
        # A package of its own (not the shared built one): withdrawing it refuses no other
        # interaction's bundle.
        return {"package_id": self._fresh_package(sample_zip_bytes("welcome"))}

    def _withdrawn_package(self, params: dict[str, Any]) -> dict[str, Any]:
        package_id = self._unheld_package(params)["package_id"]
        admin = self.admin()
        admin.withdraw_package_version(package_id, 1, "withdrawn for the pact", uuid.uuid4().hex)
        # The planner runs from the table's stream: wait until the withdrawal is done (nobody held it).
        for _attempt in range(200):
            if admin.get_withdrawal(package_id, 1)["state"] == "done":
                return {"package_id": package_id}
            time.sleep(0.05)
        raise AssertionError(f"the withdrawal of {package_id} v1 never finished")

    def _fresh_package(self, data: bytes) -> str:
        return upload_and_build(self.author(), data, timeout=90)["package_id"]

    def _enrolled_device(self, _: dict[str, Any]) -> dict[str, Any]:
        user, learner = self.learner()
        device = learner.enroll_device(device_public_jwk(generate_device_key()), name="pact device")
        return {"user_id": user, "device_id": device["device_id"]}

    def _built_bundle(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.context.get("user_id") or f"learner-{uuid.uuid4().hex[:12]}"
        package_id = self._built_package(params)["package_id"]
        bundle = self.catalog().create_bundle([{"package_id": package_id}], uuid.uuid4().hex, user_id=user)
        return {"user_id": user, "bundle_id": bundle["bundle_id"], "package_id": package_id}

    def _device_with_bundle(self, params: dict[str, Any]) -> dict[str, Any]:
        device = self._enrolled_device(params)
        self.context.update(device)
        bundle = self._built_bundle(params)
        self.context.update(bundle)
        # The sync feed is filled by the stream fan-out: wait until the device sees its bundle.
        self._sync_until(lambda page: any(c["bundle_id"] == bundle["bundle_id"] for c in page["changes"]))
        return {**device, **bundle}

    def _revoked_since_sync(self, _: dict[str, Any]) -> dict[str, Any]:
        first = self._sync_until(lambda page: bool(page["changes"]))
        self.catalog().revoke_bundle(self.context["bundle_id"], "withdrawn by the catalog")
        cursor = first["next_cursor"]
        self._sync_until(lambda page: any(c["type"] == "bundle.revoked" for c in page["changes"]), cursor)
        return {"cursor": cursor}

    def _sync_until(
        self, done: Callable[[dict[str, Any]], bool], cursor: str | None = None, attempts: int = 200
    ) -> dict[str, Any]:
        _, learner = self.learner()
        for _attempt in range(attempts):
            page = learner.sync_device(self.context["device_id"], cursor)
            if done(page):
                return page
            time.sleep(0.05)
        raise AssertionError(f"the sync feed of {self.context['device_id']} never showed the change")


def _zip_without_descriptor() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "no imsmanifest.xml, cmi5.xml or tincan.xml here")
    return buffer.getvalue()


@contextmanager
def state_server(states: ProviderStates) -> Iterator[str]:
    """An HTTP endpoint for the verifier's state-change calls; yields its URL.

    pact-python's own state callback answers with an empty body, but provider-state values reach
    the verifier only in the state-change response, so this small endpoint answers with them.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            try:
                if request.get("action", "setup") == "setup" and request.get("state"):
                    values = states.set_up(request["state"], request.get("params"))
                else:
                    values = {}
                status, body = 200, json.dumps(values).encode()
            except Exception as error:  # reported to the verifier, which fails the interaction
                status, body = 500, json.dumps({"error": f"{type(error).__name__}: {error}"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="pact-states", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{STATE_PATH}"
    finally:
        server.shutdown()
        server.server_close()
