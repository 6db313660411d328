"""The device's private state directory: 0700, 0600 files, no overwriting a key, no traversal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from content_service.crypto import InsecureKeyFile, generate_device_key
from content_service.device.agent import DeviceAgent
from content_service.device.errors import AlreadyEnrolled, BundleNotFound, InsecureStateDir, NotEnrolled
from content_service.device.store import DeviceStore


def test_the_state_directory_is_0700_and_every_file_0600(ready: DeviceAgent, bundle_id: str) -> None:
    home = ready.store.home
    assert home.stat().st_mode & 0o777 == 0o700
    for path in home.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert path.stat().st_mode & 0o777 == expected, path


def test_a_state_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "device"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    with pytest.raises(InsecureStateDir):
        DeviceStore(home).ensure()


def test_a_symlinked_state_directory_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(InsecureStateDir):
        DeviceStore(tmp_path / "link").check()


def test_enrolling_twice_never_overwrites_the_key(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path / "device").ensure()
    store.save_key(generate_device_key())
    key = store.key_path.read_bytes()
    with pytest.raises(AlreadyEnrolled):
        store.save_key(generate_device_key())
    assert store.key_path.read_bytes() == key


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path / "device").ensure()
    store.save_key(generate_device_key())
    os.chmod(store.key_path, 0o644)
    with pytest.raises(InsecureKeyFile):
        store.private_key()


def test_a_store_without_enrolment_says_so(tmp_path: Path) -> None:
    with pytest.raises(NotEnrolled):
        DeviceStore(tmp_path / "nothing").check()
    with pytest.raises(NotEnrolled):
        DeviceAgent(DeviceStore(tmp_path / "empty")).record  # noqa: B018


@pytest.mark.parametrize("bad", ["../etc", "bnd_../../x", "bnd_" + "0" * 31, "bnd_" + "A" * 32, ""])
def test_bundle_ids_that_are_not_the_service_shape_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(BundleNotFound):
        DeviceStore(tmp_path).bundle(bad)


def test_package_ids_cannot_leave_the_bundle_folder(tmp_path: Path) -> None:
    files = DeviceStore(tmp_path).bundle("bnd_" + "0" * 32)
    with pytest.raises(BundleNotFound):
        files.container("../../x", 1)


def test_removing_a_bundle_deletes_its_licence_and_ciphertext(ready: DeviceAgent, bundle_id: str) -> None:
    root = ready.store.bundle(bundle_id).root
    assert any(root.glob("*.cspc")) and (root / "licence.jws").exists()
    assert ready.remove(bundle_id) is True
    assert not root.exists()
    assert ready.remove(bundle_id) is False
