"""The device's private state directory: its key, its enrolment, and the bundles it holds.

Layout (the directory is 0700, every file 0600)::

    device.key              X25519 private key, PKCS#8 PEM (content_service.crypto.licence)
    device.json             sealed: device id, user, tenant, API URL, name, pinned keys (device.state)
    state.json              sealed state root: clock floor, last signed status, sync cursor,
                            revocation tombstones, licence index (content_service.device.state)
    state.lock              serialises writers of state.json across processes
    credentials.json        the bearer token given at enrolment (optional)
    outbox.sqlite3          queued xAPI statements, tamper reports, signals (content_service.device.outbox)
    bundles/{bundle_id}/
        manifest.jws        the signed bundle manifest, byte for byte as served
        licence.jws         the signed licence (it carries the content keys, wrapped to this device)
        {package_id}-v{version}.cspc        a downloaded container, still encrypted
        {package_id}-v{version}.cspc.part   a download in progress (resumed with HTTP Range)

Nothing here is ever plaintext content: containers stay sealed and are decrypted on read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from content_service.crypto.licence import load_private_key, save_private_key
from content_service.device.errors import AlreadyEnrolled, BundleNotFound, InsecureStateDir, NotEnrolled
from content_service.domain import identifiers

DIR_MODE = 0o700
FILE_MODE = 0o600
#: Bundle ids come from the service and become directory names, so they are held to the API's shape.
BUNDLE_ID = re.compile(identifiers.BUNDLE_ID)
#: Package ids become file names; anything outside this alphabet could escape the bundle folder.
PACKAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class DeviceRecord:
    """What enrolment established: who this device is, where its API is, which keys it trusts."""

    device_id: str
    user_id: str
    api_url: str
    name: str
    jwks: dict[str, Any]
    enrolled_at: str
    #: The tenant and issuer the first signed status named; every token must name the same.
    tenant_id: str = ""
    issuer: str = "content-service"
    #: Kids the service retired: never trusted again, whatever an older key set says.
    retired_kids: list[str] = field(default_factory=list)
    #: The signed ``server_time`` of the newest key set taken; an older one is refused.
    jwks_time: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceRecord:
        return cls(
            device_id=str(data["device_id"]),
            user_id=str(data["user_id"]),
            api_url=str(data["api_url"]),
            name=str(data.get("name", "")),
            jwks=dict(data["jwks"]),
            enrolled_at=str(data.get("enrolled_at", "")),
            tenant_id=str(data.get("tenant_id", "")),
            issuer=str(data.get("issuer", "content-service")),
            retired_kids=[str(k) for k in data.get("retired_kids", [])],
            jwks_time=int(data.get("jwks_time", 0)),
            extra=dict(data.get("extra", {})),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def require_bundle_id(bundle_id: str) -> str:
    """Return ``bundle_id`` if it has the service's shape; otherwise ``BundleNotFound``."""
    if not isinstance(bundle_id, str) or not BUNDLE_ID.fullmatch(bundle_id):
        raise BundleNotFound(f"not a bundle id: {bundle_id!r}", bundle_id=str(bundle_id))
    return bundle_id


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, in a 0600 file, flushed to disk.

    A temporary sibling is written and fsynced, then renamed over the target, so a crash
    leaves either the old or the new content, never a torn file; the directory is fsynced
    so the rename itself survives a power cut.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temporary, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry change (a create, rename or unlink) to disk where the OS allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        # Some file systems refuse fsync on a directory; the data files are flushed regardless.
        pass
    finally:
        os.close(fd)


def write_json(path: Path, value: Any) -> None:
    """``write_private`` of a JSON document."""
    write_private(path, json.dumps(value, indent=2, sort_keys=True).encode("utf-8"))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


@dataclass(frozen=True)
class BundleFiles:
    """Where one bundle's files live on the device."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.jws"

    @property
    def licence(self) -> Path:
        return self.root / "licence.jws"

    @property
    def signed_urls(self) -> Path:
        """The signed download URLs of a download in progress (kept to resume it without the API)."""
        return self.root / "download-urls.json"

    def container(self, package_id: str, version: int) -> Path:
        """The finished container of one package version (present only once its hash matched)."""
        if not PACKAGE_ID.fullmatch(package_id) or not isinstance(version, int) or version < 0:
            raise BundleNotFound(f"not a package id and version: {package_id!r} v{version!r}")
        return self.root / f"{package_id}-v{version}.cspc"

    def partial(self, package_id: str, version: int) -> Path:
        """A container download in progress."""
        final = self.container(package_id, version)
        return final.with_name(final.name + ".part")


class DeviceStore:
    """The private state directory of one device.

    Opening checks the directory is a real directory owned by this user and closed to
    everyone else (0700); ``create`` makes it so. Files are written 0600, atomically.
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home)

    # ------------------------------------------------------------ directory
    def ensure(self) -> DeviceStore:
        """Create the state directory (0700) if needed, then check it is private."""
        self.home.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self.check()
        (self.home / "bundles").mkdir(mode=DIR_MODE, exist_ok=True)
        return self

    def check(self) -> None:
        """Refuse a state directory that is a symlink, not ours, or open to group or others."""
        try:
            info = os.lstat(self.home)
        except FileNotFoundError:
            raise NotEnrolled(f"no device state directory at {self.home}") from None
        if not stat.S_ISDIR(info.st_mode):
            raise InsecureStateDir(f"{self.home} is not a directory", path=str(self.home))
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise InsecureStateDir(f"{self.home} belongs to another user", path=str(self.home))
        if info.st_mode & 0o077:
            raise InsecureStateDir(
                f"{self.home} is open to group or others (mode {oct(stat.S_IMODE(info.st_mode))}); it must be 0700",
                path=str(self.home),
            )

    # ------------------------------------------------------------ paths
    @property
    def key_path(self) -> Path:
        return self.home / "device.key"

    @property
    def device_path(self) -> Path:
        return self.home / "device.json"

    @property
    def credentials_path(self) -> Path:
        return self.home / "credentials.json"

    @property
    def state_path(self) -> Path:
        return self.home / "state.json"

    @property
    def lock_path(self) -> Path:
        return self.home / "state.lock"

    @property
    def outbox_path(self) -> Path:
        return self.home / "outbox.sqlite3"

    def bundle(self, bundle_id: str) -> BundleFiles:
        """The files of one bundle (the folder is not created)."""
        return BundleFiles(self.home / "bundles" / require_bundle_id(bundle_id))

    def bundle_dir(self, bundle_id: str) -> BundleFiles:
        """The files of one bundle, creating its 0700 folder."""
        files = self.bundle(bundle_id)
        self.ensure()
        files.root.mkdir(mode=DIR_MODE, exist_ok=True)
        return files

    def bundle_ids(self) -> list[str]:
        """The bundles with a folder on this device, sorted."""
        root = self.home / "bundles"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and BUNDLE_ID.fullmatch(p.name))

    def remove_bundle(self, bundle_id: str) -> bool:
        """Delete a bundle's folder: its licence (so its wrapped keys) and its ciphertext."""
        root = self.bundle(bundle_id).root
        if not root.exists():
            return False
        shutil.rmtree(root)
        fsync_dir(root.parent)
        return True

    # ------------------------------------------------------------ enrolment
    def is_enrolled(self) -> bool:
        return self.device_path.is_file()

    def has_key(self) -> bool:
        return self.key_path.is_file()

    def save_key(self, key: X25519PrivateKey) -> None:
        """Write the device key (0600), never over an existing one or an existing enrolment."""
        self.ensure()
        if self.is_enrolled() or self.key_path.exists():
            raise AlreadyEnrolled(f"{self.home} already holds a device", path=str(self.home))
        save_private_key(key, self.key_path)

    def private_key(self) -> X25519PrivateKey:
        """The device key, refused if its file is readable by anyone else (see ``load_private_key``)."""
        self.check()
        if not self.key_path.exists():
            raise NotEnrolled(f"no device key in {self.home}")
        return load_private_key(self.key_path)

    def save_token(self, token: str) -> None:
        write_json(self.credentials_path, {"token": token})

    def token(self) -> str | None:
        if not self.credentials_path.is_file():
            return None
        return str(read_json(self.credentials_path).get("token") or "") or None
