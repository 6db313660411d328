"""Delta updates on the local stack: version N+1 of a package costs the device only what changed.

The stack builds in container format version 2 (``CONTENT_FORMAT_VERSION=2``). A learner's
device downloads a bundle of version 1 of a 20-file package, then a bundle of version 2 in which
one file changed. Every byte the device receives from the CDN edge is counted from the edge's own
responses: for version 2 it is the signed manifest, the index and the one changed file's object.
Everything still verifies (every object under its file key, every file's SHA-256) and reads back.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from content_service.device.agent import DeviceAgent
from content_service.device.delta import objects_dir
from content_service.device.store import DeviceStore
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.roles import LearnerWithCatalog, author_client
from tests.e2e.uploads import upload_and_build

TENANT = "tenant-delta"
FILES = 20
FILE_BYTES = 64 * 1024


def media(index: int, generation: int = 0) -> bytes:
    seed = f"media {index} generation {generation}".encode()
    return b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(FILE_BYTES // 32))


def package_zip(changed: int | None = None) -> bytes:
    """The welcome sample plus FILES media files; ``changed`` names the one file version 2 alters."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(sample_zip_bytes("welcome"))) as base, zipfile.ZipFile(buffer, "w") as out:
        for info in base.infolist():
            out.writestr(info, base.read(info))
        for i in range(FILES):
            out.writestr(f"media/clip-{i:03d}.bin", media(i, 1 if i == changed else 0))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    previous = os.environ.get("CONTENT_FORMAT_VERSION")
    os.environ["CONTENT_FORMAT_VERSION"] = "2"
    try:
        with LocalStack(
            home=tmp_path_factory.mktemp("home"),
            runner_settings=RunnerSettings(schedules_enabled=False, stream_poll_interval=0.05),
            write_state_file=False,
        ) as running:
            yield running
    finally:
        if previous is None:
            os.environ.pop("CONTENT_FORMAT_VERSION", None)
        else:
            os.environ["CONTENT_FORMAT_VERSION"] = previous


class EdgeBytes:
    """Counts the body bytes of every response from the CDN edge (object paths under tenants/)."""

    def __init__(self, session: requests.Session) -> None:
        self.by_url: list[tuple[str, int]] = []
        session.hooks["response"].append(self._count)

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/tenants/" in response.url and response.status_code in (200, 206):
            self.by_url.append((response.url.split("?")[0], int(response.headers.get("Content-Length", 0))))

    def take(self) -> list[tuple[str, int]]:
        taken, self.by_url = self.by_url, []
        return taken


def test_a_new_version_downloads_only_the_changed_file_and_the_index(stack: LocalStack, tmp_path: Path) -> None:
    author = author_client(stack, TENANT)
    learner = LearnerWithCatalog(stack, TENANT)
    first = upload_and_build(author, package_zip())
    package_id = str(first["package_id"])
    second = upload_and_build(author, package_zip(changed=7), package_id)
    assert int(second["version"]) == 2

    session = requests.Session()
    edge = EdgeBytes(session)
    agent = DeviceAgent(DeviceStore(tmp_path / "device").ensure(), session=session)
    agent.enroll(learner, "delta-device")

    v1 = learner.create_bundle([{"package_id": package_id, "version": 1}], uuid.uuid4().hex)["bundle_id"]
    agent.fetch_licence(v1)
    agent.download(v1)
    full = edge.take()
    full_report = agent.parts.downloads.delta_reports[(package_id, 1)]
    assert full_report.reused == 0 and full_report.downloaded >= FILES

    v2 = learner.create_bundle([{"package_id": package_id, "version": 2}], uuid.uuid4().hex)["bundle_id"]
    agent.fetch_licence(v2)
    agent.download(v2)
    delta = edge.take()
    report = agent.parts.downloads.delta_reports[(package_id, 2)]

    # The edge served the manifest, the index and exactly one file object, nothing else.
    kinds = sorted(url.rsplit(".", 1)[-1] for url, _ in delta)
    assert kinds == ["csix", "csob", "jws"], delta
    assert report.downloaded == 1 and report.reused == full_report.downloaded - 1
    changed_object = next(size for url, size in delta if url.endswith(".csob"))
    assert changed_object == report.downloaded_bytes
    assert FILE_BYTES < changed_object < FILE_BYTES + 4096
    delta_bytes = sum(size for _, size in delta)
    full_bytes = sum(size for _, size in full)
    assert delta_bytes < full_bytes / 10, (delta_bytes, full_bytes)

    # Everything verifies and reads back: the reused objects as well as the new one.
    verified = agent.verify(v2)
    assert verified.files == FILES + 5
    with agent.mount(v2) as mounted:
        assert mounted.read(package_id, "media/clip-007.bin") == media(7, 1)
        assert mounted.read(package_id, "media/clip-008.bin") == media(8)
        assert mounted.read_range(package_id, "media/clip-003.bin", 100, 50) == media(3)[100:150]
    with agent.mount(v1) as mounted:
        assert mounted.read(package_id, "media/clip-007.bin") == media(7)

    # Removing version 1 leaves version 2 whole: its reused objects are its own links.
    agent.remove(v1)
    assert agent.verify(v2).files == FILES + 5
    assert len(list(objects_dir(agent.store.bundle(v2)).iterdir())) == FILES + 5


def test_an_altered_object_on_the_device_is_tamper_not_content(stack: LocalStack, tmp_path: Path) -> None:
    from content_service.device.errors import TamperDetected

    author = author_client(stack, TENANT)
    learner = LearnerWithCatalog(stack, TENANT)
    package_id = str(upload_and_build(author, package_zip())["package_id"])
    agent = DeviceAgent(DeviceStore(tmp_path / "device").ensure(), session=requests.Session())
    agent.enroll(learner, "tamper-device")
    bundle = learner.create_bundle([{"package_id": package_id}], uuid.uuid4().hex)["bundle_id"]
    agent.fetch_licence(bundle)
    agent.download(bundle)
    victim = sorted(objects_dir(agent.store.bundle(bundle)).iterdir())[0]
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    victim.write_bytes(bytes(data))
    with pytest.raises(TamperDetected):
        agent.mount(bundle)
