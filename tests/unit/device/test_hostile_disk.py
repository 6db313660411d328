"""The learner owns the disk: every file the device keeps can be edited, truncated, removed,
swapped for an older copy, a symlink or a folder, or grown huge. Each test plays one such attack
on the real agent and asserts a typed refusal (never a traceback), no write or removal outside
the state directory, and no queued item lost without a report (docs/threat-model.md, "a hostile
disk").
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
import requests

from content_service.device.agent import DeviceAgent
from content_service.device.errors import (
    ClockUntrusted,
    InsecureStateDir,
    LicenceUnknown,
    NotEnrolled,
)
from content_service.device.store import SMALL_FILE_LIMIT, bundle_lock
from tests.unit.device.conftest import Airplane, FakeTime, listing, make_agent
from tests.unit.device.fake_service import FakeService


# ---------------------------------------------------------------- folders and files in the wrong shape
def test_a_symlinked_bundles_folder_is_refused_and_nothing_is_written_through_it(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bundles = ready.store.home / "bundles"
    shutil.rmtree(bundles)
    bundles.symlink_to(elsewhere)
    with pytest.raises(InsecureStateDir):
        make_agent(ready.store.home, fake_time).download(bundle_id)
    assert list(elsewhere.iterdir()) == []


def test_a_symlinked_bundle_folder_is_not_read_written_or_removed_through(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime, tmp_path: Path
) -> None:
    folder = ready.store.bundle(bundle_id).root
    elsewhere = tmp_path / "elsewhere"
    shutil.move(folder, elsewhere)
    folder.symlink_to(elsewhere)
    before = listing(elsewhere)
    agent = make_agent(ready.store.home, fake_time)
    with pytest.raises(InsecureStateDir):
        agent.download(bundle_id)
    with pytest.raises(InsecureStateDir):
        agent.mount(bundle_id)
    assert agent.remove(bundle_id) is True
    assert not folder.is_symlink() and not folder.exists()
    assert listing(elsewhere) == before, "the link went, never what it pointed to"


def test_a_state_root_replaced_by_a_folder_is_a_typed_refusal(ready: DeviceAgent, fake_time: FakeTime) -> None:
    path = ready.store.state_path
    path.unlink()
    path.mkdir()
    with pytest.raises(InsecureStateDir):
        make_agent(ready.store.home, fake_time, session=Airplane())


def test_a_symlinked_state_lock_is_never_followed(ready: DeviceAgent, fake_time: FakeTime, tmp_path: Path) -> None:
    target = tmp_path / "created-outside"
    ready.store.lock_path.unlink()
    ready.store.lock_path.symlink_to(target)
    with pytest.raises(InsecureStateDir):
        make_agent(ready.store.home, fake_time, session=Airplane())
    assert not target.exists()


def test_a_huge_licence_file_is_refused_without_being_read_and_replaced_online(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    licence = ready.store.bundle(bundle_id).licence
    with licence.open("r+b") as handle:
        handle.truncate(SMALL_FILE_LIMIT * 64)  # sparse: 256 MiB that cost no disk
    with pytest.raises(LicenceUnknown, match="more than the device ever writes"):
        make_agent(ready.store.home, fake_time, session=Airplane()).mount(bundle_id)
    fake_time.advance(61)  # past the offline back-off
    online = make_agent(ready.store.home, fake_time)
    assert online.mount(bundle_id).read("pkg_welcome", "index.html").startswith(b"<!doctype html>")
    assert licence.stat().st_size < SMALL_FILE_LIMIT


def test_a_symlinked_state_root_is_lost_not_followed(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime, tmp_path: Path
) -> None:
    # A genuine sealed root, but reached through a symlink: not a file the device wrote there.
    real = tmp_path / "real-state.json"
    shutil.copy(ready.store.state_path, real)
    ready.store.state_path.unlink()
    ready.store.state_path.symlink_to(real)
    agent = make_agent(ready.store.home, fake_time, session=Airplane())
    with pytest.raises(ClockUntrusted):
        agent.mount(bundle_id)
    assert not ready.store.state_path.is_symlink()


def test_an_unreadable_saved_token_is_a_typed_refusal(agent: DeviceAgent) -> None:
    agent.store.credentials_path.write_bytes(b"\xff\xfe not json")
    agent._token = None
    with pytest.raises(NotEnrolled, match="--token"):
        agent.sync_once()


# ---------------------------------------------------------------- downloads
def test_a_partial_download_edited_on_disk_is_fetched_again_not_reported_as_cdn_tampering(
    agent: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    service.faults.cut_after = 700
    service.faults.cut_only = ".cspc"
    with pytest.raises(Exception, match="run the download again"):
        agent.download(bundle_id)
    (partial,) = agent.store.bundle(bundle_id).root.glob("*.part")
    partial.write_bytes(b"\0" * partial.stat().st_size)  # the learner's edit (or a torn write)
    service.faults.cut_after = None
    agent.download(bundle_id)
    agent.fetch_licence(bundle_id)
    assert agent.verify(bundle_id).packages == 2
    assert service.tamper_reports == [], "bytes from the device's own disk are no evidence against the CDN"


def test_a_second_download_of_a_bundle_waits_for_the_first(
    agent: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    files = agent.store.bundle_dir(bundle_id)
    done = threading.Event()
    with bundle_lock(files):  # another process downloading this bundle
        worker = threading.Thread(target=lambda: (agent.download(bundle_id), done.set()))
        worker.start()
        time.sleep(0.3)
        assert not done.is_set() and service.cdn_requests == []
    worker.join(10)
    assert done.is_set()


def test_a_download_through_a_session_still_works_after_all_of_this(
    agent: DeviceAgent, bundle_id: str
) -> None:
    agent.session = requests.Session()
    assert agent.download(bundle_id) == ["pkg_welcome", "pkg_second"]


def test_the_listing_survives_a_linked_folder_and_a_licence_that_is_not_one(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime, tmp_path: Path
) -> None:
    other = service.add_bundle({"pkg_other": {"a.txt": b"other"}})
    ready.download(other)
    ready.fetch_licence(other)
    folder = ready.store.bundle(bundle_id).root
    shutil.move(folder, tmp_path / "elsewhere")
    folder.symlink_to(tmp_path / "elsewhere")
    ready.store.bundle(other).licence.write_bytes(b"x.eyJleHAiOiAibm90IGEgbnVtYmVyIn0.y")  # exp: "not a number"
    listed = {info.bundle_id: info for info in make_agent(ready.store.home, fake_time).list_bundles()}
    assert listed[bundle_id].downloaded is False and listed[bundle_id].remote_state == "built"
    assert listed[other].licensed is False and listed[other].downloaded is True


def test_a_folder_in_place_of_a_container_is_a_typed_refusal(agent: DeviceAgent, bundle_id: str) -> None:
    files = agent.store.bundle_dir(bundle_id)
    files.container("pkg_welcome", 1).mkdir()
    with pytest.raises(InsecureStateDir, match="is a folder where the device keeps a file"):
        agent.download(bundle_id)
