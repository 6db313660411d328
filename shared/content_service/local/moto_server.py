"""Run moto in server mode on loopback and point the AWS SDK of this process at it."""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from content_service.local.faults import FaultSwitch, RegionFaults
from content_service.local.moto_dynamodb import serialise_dynamodb_requests

LOOPBACK = "127.0.0.1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class _FaultableMotoServer(ThreadedMotoServer):
    """moto's threaded server with :class:`RegionFaults` in front of its application.

    moto serves every region from one server (by the region in each request's signature); the
    wrapper is where a failed region's S3 answers 503. It copies moto's ``_server_entry``,
    wrapping the app; moto offers no hook for middleware.
    """

    def __init__(self, switch: FaultSwitch | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._switch = switch

    def _server_entry(self) -> None:
        app: Any = DomainDispatcherApplication(create_backend_app)
        if self._switch is not None:
            app = RegionFaults(app, self._switch)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class MotoServer:
    """moto's threaded server on 127.0.0.1 and an ephemeral port, with a readiness check.

    With ``attach_to`` (the endpoint of a moto server another process started) nothing is
    started: :meth:`start` waits until that server answers, and neither it nor :meth:`stop`
    resets the other process's resources.
    """

    def __init__(
        self,
        region: str = "eu-west-1",
        ready_timeout: float = 10.0,
        faults: FaultSwitch | None = None,
        attach_to: str | None = None,
    ) -> None:
        self.region = region
        self._faults = faults
        self._ready_timeout = ready_timeout
        self._server: ThreadedMotoServer | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._attach_to = attach_to
        self.endpoint_url = ""

    def start(self) -> str:
        """Start the server (or find the attached one), wait until it answers HTTP, return its URL."""
        if self._attach_to is not None:
            self.endpoint_url = self._attach_to.rstrip("/")
            self._wait_until_ready()
            return self.endpoint_url
        # werkzeug logs every request to stderr; the local stack's own log says what matters.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # moto serves requests on threads without making DynamoDB writes atomic (see the module).
        serialise_dynamodb_requests()
        # Port 0 lets the OS pick a free port at bind time, so two stacks (or test runs) never race.
        self._server = _FaultableMotoServer(self._faults, ip_address=LOOPBACK, port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._wait_until_ready()
        # moto keeps its backends in module globals, shared by every server in this process: start
        # from a clean slate so that a previous stack's tables and queues do not leak into this one.
        self.reset()
        return self.endpoint_url

    def reset(self) -> None:
        """Drop every resource moto holds in this process."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass

    def stop(self) -> None:
        """Stop the server and restore whatever AWS settings the process had before."""
        self.restore_environment()
        if self._server is not None:
            self.reset()
            self._server.stop()
            self._server = None

    def environment(self) -> dict[str, str]:
        """The settings that make boto3 (and anything built on it) talk to this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # boto3 would otherwise route DynamoDB through account-id endpoints, which moto lacks.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            **DUMMY_CREDENTIALS,
        }

    def apply_environment(self, extra: Mapping[str, str] | None = None) -> None:
        """Export :meth:`environment` (and ``extra``) into ``os.environ``, remembering old values."""
        for key, value in {**self.environment(), **(extra or {})}.items():
            self._saved_environment.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        # A session token from the developer's real profile would be sent along and confuse nothing
        # in moto, but it must not leak into requests either.
        self._saved_environment.setdefault("AWS_SESSION_TOKEN", os.environ.get("AWS_SESSION_TOKEN"))
        os.environ.pop("AWS_SESSION_TOKEN", None)

    def restore_environment(self) -> None:
        """Undo :meth:`apply_environment`."""
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environment.clear()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._ready_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return  # Any HTTP answer means the server is serving.
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"moto did not answer on {self.endpoint_url}") from None
                time.sleep(0.05)
