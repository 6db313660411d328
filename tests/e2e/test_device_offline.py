"""The reference device against the local stack: upload → build → bundle → enroll → licence → download → read.

Then the device goes offline (its HTTP session raises), plays under the licence, is refused
past expiry + grace, and flushes its outbox exactly once when it is back online; tampering with
a container, the manifest or the licence is refused and reported to the API; another device's
key, another tenant's token and a revoked device are refused.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from content_service.client import ApiClient, ApiError
from content_service.crypto import LicenceKeyError, unwrap_content_key
from content_service.device.agent import DeviceAgent
from content_service.device.errors import LicenceRevoked, TamperDetected
from content_service.device.http import HttpStatementSink
from content_service.device.store import DeviceStore
from content_service.domain.licence import LicenceExpired, LicenceWrongDevice
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.roles import LearnerWithCatalog, author_client
from tests.e2e.uploads import upload_and_build

TENANT = "tenant-a"
DAY = 86_400.0


class DeviceTime:
    """The device's wall and monotonic clocks, starting now; tests move them forward or back."""

    def __init__(self) -> None:
        self.wall = time.time()
        self.mono = 1_000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


class Airplane(requests.Session):
    """Airplane mode: every network call of the agent fails."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        raise requests.ConnectionError("airplane mode")


class StatementReceiver:
    """A tiny LRS: records every PUT /statements?statementId= and stores each id once."""

    def __init__(self) -> None:
        self.puts: list[str] = []
        self.stored: dict[str, Any] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:  # noqa: N802 - the http.server naming.
                statement_id = parse_qs(urlsplit(self.path).query)["statementId"][0]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.puts.append(statement_id)
                receiver.stored.setdefault(statement_id, body)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        runner_settings=RunnerSettings(schedules_enabled=False),
        write_state_file=False,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def package(stack: LocalStack) -> dict[str, Any]:
    """The welcome sample, uploaded and built once for the tenant."""
    author = author_client(stack, TENANT)
    return upload_and_build(author, sample_zip_bytes("welcome"))


@pytest.fixture
def learner(stack: LocalStack) -> ApiClient:
    """A learner of their own per test, so the per-user device cap never couples tests."""
    return LearnerWithCatalog(stack, TENANT)


@pytest.fixture
def bundle(learner: ApiClient, package: dict[str, Any]) -> dict[str, Any]:
    """A built bundle of the welcome sample for the learner."""
    made = learner.create_bundle([{"package_id": package["package_id"]}], f"bundle-{uuid.uuid4().hex}")
    assert made["state"] == "built", made
    return made


@pytest.fixture
def device_time() -> DeviceTime:
    return DeviceTime()


def new_agent(home: Path, device_time: DeviceTime) -> DeviceAgent:
    store = DeviceStore(home).ensure()
    return DeviceAgent(store, wall=device_time.time, monotonic=device_time.monotonic, session=requests.Session())


def enrolled(home: Path, device_time: DeviceTime, client: ApiClient) -> DeviceAgent:
    agent = new_agent(home, device_time)
    agent.enroll(client, home.name)
    return agent


@pytest.fixture
def device(
    tmp_path: Path, device_time: DeviceTime, learner: ApiClient, bundle: dict[str, Any]
) -> DeviceAgent:
    """An enrolled device holding the bundle, licensed and downloaded."""
    agent = enrolled(tmp_path / "device", device_time, learner)
    agent.fetch_licence(bundle["bundle_id"])
    agent.download(bundle["bundle_id"])
    return agent


def source_files() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(sample_zip_bytes("welcome"))) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def tamper_reports(stack: LocalStack, device_id: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(stack.endpoints.tables["Table"])
    items = table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": f"TENANT#{TENANT}#DEVICE#{device_id}", ":sk": "TAMPER#"},
    )["Items"]
    return [json.loads(i["body"]) if isinstance(i["body"], str) else i["body"] for i in items]


def test_a_downloaded_bundle_verifies_and_reads_back_the_source_bytes(
    device: DeviceAgent, bundle: dict[str, Any]
) -> None:
    bundle_id = bundle["bundle_id"]
    package_id = bundle["packages"][0]["package_id"]
    report = device.verify(bundle_id)
    expected = source_files()
    assert report.packages == 1 and report.files == len(expected)
    with device.mount(bundle_id) as mounted:
        assert {f.path for f in mounted.files(package_id)} == set(expected)
        for path, data in expected.items():
            assert mounted.read(package_id, path) == data
    # Nothing plaintext on disk: the bundle folder holds the manifest, licence and ciphertext, and
    # the empty lock file that keeps two downloads of the bundle apart.
    root = device.store.bundle(bundle_id).root
    names = {p.name for p in root.iterdir()}
    assert names == {"manifest.jws", "licence.jws", f"{package_id}-v1.cspc", ".lock"}
    assert (root / ".lock").stat().st_size == 0
    assert device.list_bundles()[0].downloaded


def test_airplane_mode_plays_under_the_licence_refuses_past_grace_and_flushes_once_back_online(
    device: DeviceAgent, bundle: dict[str, Any], device_time: DeviceTime
) -> None:
    bundle_id = bundle["bundle_id"]
    package_id = bundle["packages"][0]["package_id"]
    device.session = Airplane()
    with device.mount(bundle_id) as mounted:
        assert mounted.read(package_id, "index.html") == source_files()["index.html"]
    ids = [
        device.record_statement(
            {
                "actor": {"mbox": "mailto:learner-1@example.com"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                "object": {"id": f"urn:content:{package_id}:{n}"},
            }
        )
        for n in range(3)
    ]
    receiver = StatementReceiver()
    try:
        # Offline the flush reaches nothing and keeps everything.
        offline = device.flush(HttpStatementSink(receiver.url, session=device.session))
        assert offline["statement"].pending == 3 and receiver.puts == []
        # Past expiry (7 days) but within the offline grace (7 more): still plays.
        device_time.advance(8 * DAY)
        with device.mount(bundle_id) as mounted:
            assert mounted.read(package_id, "index.html")
        # Past expiry + grace: refused, and setting the clock back does not help.
        device_time.advance(7 * DAY)
        with pytest.raises(LicenceExpired):
            device.mount(bundle_id)
        device_time.wall -= 10 * DAY
        with pytest.raises(LicenceExpired):
            device.mount(bundle_id)
        # Back online: each statement reaches the LRS exactly once, however often we flush.
        device.session = requests.Session()
        sink = HttpStatementSink(receiver.url)
        assert device.flush(sink)["statement"].sent == ids
        assert device.flush(sink)["statement"].sent == []
        assert receiver.puts == ids and set(receiver.stored) == set(ids)
    finally:
        receiver.stop()


def _flip_container(agent: DeviceAgent, bundle: dict[str, Any]) -> None:
    package_id = bundle["packages"][0]["package_id"]
    path = agent.store.bundle(bundle["bundle_id"]).container(package_id, 1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _flip_token(path: Path) -> None:
    header, payload, signature = path.read_text().split(".")
    at = len(payload) // 2
    payload = payload[:at] + ("A" if payload[at] != "A" else "B") + payload[at + 1 :]
    path.write_text(f"{header}.{payload}.{signature}")


@pytest.mark.parametrize(
    ("kind", "tamper"),
    [
        ("container", _flip_container),
        ("manifest", lambda agent, bundle: _flip_token(agent.store.bundle(bundle["bundle_id"]).manifest)),
        ("license", lambda agent, bundle: _flip_token(agent.store.bundle(bundle["bundle_id"]).licence)),
    ],
)
def test_tampering_is_refused_and_reported_to_the_api(
    stack: LocalStack, device: DeviceAgent, bundle: dict[str, Any], kind: str, tamper: Any
) -> None:
    tamper(device, bundle)
    with pytest.raises(TamperDetected) as caught:
        device.verify(bundle["bundle_id"])
    assert caught.value.kind == kind
    with pytest.raises(TamperDetected):
        device.mount(bundle["bundle_id"])
    reports = tamper_reports(stack, device.device_id)
    assert {(r["bundle_id"], r["kind"]) for r in reports} == {(bundle["bundle_id"], kind)}
    assert len(reports) == 2 and device.outbox.pending("tamper") == []


def test_another_devices_key_cannot_open_the_bundle(
    tmp_path: Path, device: DeviceAgent, device_time: DeviceTime, learner: ApiClient, bundle: dict[str, Any]
) -> None:
    bundle_id = bundle["bundle_id"]
    other = enrolled(tmp_path / "other", device_time, learner)
    other.download(bundle_id)
    # The first device's licence copied to the second device: refused as another device's licence...
    stolen = device.store.bundle(bundle_id).licence.read_text()
    other.store.bundle(bundle_id).licence.write_text(stolen)
    with pytest.raises(LicenceWrongDevice):
        other.mount(bundle_id)
    # ...and its wrapped content key does not open with the second device's key either.
    claims = json.loads(_b64(stolen.split(".")[1]))
    with pytest.raises(LicenceKeyError):
        unwrap_content_key(
            claims["keys"][0]["jwe"],
            other.store.private_key(),
            bundle_id=bundle_id,
            device_id=device.device_id,
        )


def test_another_tenants_token_gets_no_licence_and_no_download(
    stack: LocalStack, tmp_path: Path, device_time: DeviceTime, bundle: dict[str, Any]
) -> None:
    stranger = ApiClient(stack.api_url, stack.mint_token("tenant-b", "learner-b"))
    agent = enrolled(tmp_path / "stranger", device_time, stranger)
    with pytest.raises(LicenceRevoked):
        agent.fetch_licence(bundle["bundle_id"])
    with pytest.raises(ApiError) as refused:
        agent.download(bundle["bundle_id"])
    assert refused.value.status == 404


def test_a_revoked_device_is_refused_online(
    device: DeviceAgent, learner: ApiClient, bundle: dict[str, Any], device_time: DeviceTime
) -> None:
    bundle_id = bundle["bundle_id"]
    learner.revoke_device(device.device_id, "lost phone")
    with pytest.raises(LicenceRevoked):
        device.fetch_licence(bundle_id)
    # Once its last status is stale, the device asks the service before opening, and is refused.
    device_time.advance(DAY)
    with pytest.raises(LicenceRevoked):
        device.mount(bundle_id)


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
