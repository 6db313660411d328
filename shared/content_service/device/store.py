"""The device's private state directory: its key, its enrolment, and the bundles it holds.

Layout (the directory is 0700, every file 0600)::

    device.key              X25519 private key, PKCS#8 PEM (content_service.crypto.licence)
    device.json             sealed: device id, user, tenant, API URL, name, pinned keys (device.state)
    state.json              sealed state root: clock floor, last signed status, sync cursor,
                            revocation tombstones, licence index (content_service.device.state)
    state.lock              serialises writers of state.json across processes
    credentials.json        the bearer token given at enrolment (optional)
    outbox.sqlite3          queued xAPI statements, tamper reports, signals (content_service.device.outbox)
    outbox.damaged-*        a damaged outbox moved aside, kept (content_service.device.outbox)
    branding.jws, branding-logo   the tenant's branding overlay and logo (content_service.device.branding)
    bundles/{bundle_id}/
        manifest.jws        the signed bundle manifest, byte for byte as served
        licence.jws         the signed licence (it carries the content keys, wrapped to this device)
        {package_id}-v{version}.cspc        a downloaded container, still encrypted
        {package_id}-v{version}.cspc.part   a download in progress (resumed with HTTP Range)
        download-urls.json  the signed URLs of a download in progress
        assistant-{package_id}.json         an approved assistant overlay (content_service.device.assistant)
        objects/            container format 2 file objects (content_service.device.delta)
        .lock               one download of this bundle at a time (``bundle_lock``)

Nothing here is ever plaintext content: containers stay sealed and are decrypted on read.

The user owns this disk. The device reads only regular files it could have written
(``read_private``: never through a symlink, never more than ``SMALL_FILE_LIMIT``), writes by
atomic rename (a symlink in the way is replaced, not followed), and keeps its folders real
(``private_dir``): a symlink or a file where a folder belongs is ``InsecureStateDir``, and a
removal never follows one. docs/threat-model.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
from collections.abc import Iterator, Mapping
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


#: The most the device reads of one of its small documents (tokens, the state root, JSON):
#: the largest is a licence or manifest of a few kilobytes; a file past this is not the device's.
SMALL_FILE_LIMIT = 4 * 1024 * 1024


def read_private(path: Path, limit: int = SMALL_FILE_LIMIT) -> bytes:
    """The bytes of one of the device's own files: a regular file, never followed through a symlink.

    A missing file is ``FileNotFoundError`` (callers decide what absence means). A symlink, a
    directory or another kind of file in its place, or a file larger than ``limit``, is
    ``InsecureStateDir``: the device reads only what it wrote, and never all of a huge file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NONBLOCK", 0)  # a FIFO in a file's place must not hang the open
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as error:  # ELOOP: a symlink; EACCES; EISDIR cannot happen read-only
        raise InsecureStateDir(
            f"{path.name} cannot be read as the device's own file ({error.strerror}); remove it",
            path=str(path),
        ) from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InsecureStateDir(f"{path.name} is not a regular file; remove it", path=str(path))
        if info.st_size > limit:
            raise InsecureStateDir(
                f"{path.name} is {info.st_size} bytes, more than the device ever writes ({limit}); remove it",
                path=str(path),
            )
        chunks = []
        remaining = limit + 1
        while remaining > 0 and (chunk := os.read(fd, min(65536, remaining))):
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise InsecureStateDir(f"{path.name} grew past {limit} bytes while read; remove it", path=str(path))
    return data


def private_dir(path: Path) -> Path:
    """Make ``path`` a 0700 directory if needed, then check it is a real directory of this user.

    A symlink (or a file) where one of the device's folders belongs would send its writes, and
    a removal's ``rmtree``, outside the state directory: ``InsecureStateDir``.
    """
    try:
        path.mkdir(mode=DIR_MODE, exist_ok=True)
    except FileExistsError:
        pass  # A symlink or a file: refused below.
    except OSError as error:
        raise InsecureStateDir(f"{path} cannot be made a folder ({error.strerror})", path=str(path)) from error
    _require_real_dir(path)
    return path


def _require_real_dir(path: Path) -> None:
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise InsecureStateDir(
            f"{path} is not a folder of the device (a symlink or a file is in its place); remove it",
            path=str(path),
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise InsecureStateDir(f"{path} belongs to another user", path=str(path))


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, in a 0600 file, flushed to disk.

    A temporary sibling is written and fsynced, then renamed over the target, so a crash
    leaves either the old or the new content, never a torn file; the directory is fsynced
    so the rename itself survives a power cut. A symlink at ``path`` is replaced, never
    followed; a directory there is ``InsecureStateDir``.
    """
    if path.is_dir() and not path.is_symlink():
        raise InsecureStateDir(f"{path.name} is a folder where the device keeps a file; remove it", path=str(path))
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


def move_into_place(source: Path, target: Path) -> None:
    """Rename a finished file over ``target`` (a symlink there is replaced, never followed).

    A folder where the file belongs is ``InsecureStateDir``, not a bare ``IsADirectoryError``.
    """
    if target.is_dir() and not target.is_symlink():
        raise InsecureStateDir(f"{target.name} is a folder where the device keeps a file; remove it", path=str(target))
    os.replace(source, target)
    fsync_dir(target.parent)


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
    """A JSON document the device wrote (``read_private``); ``ValueError`` if it is not JSON."""
    return json.loads(read_private(path).decode("utf-8"))


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


@contextlib.contextmanager
def bundle_lock(files: BundleFiles) -> Iterator[None]:
    """Hold the bundle's download lock (``flock`` on ``.lock`` in its folder) across processes."""
    path = files.root / ".lock"
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as error:
        raise InsecureStateDir(
            f"{path.name} cannot be opened as the bundle's lock file ({error.strerror}); remove it", path=str(path)
        ) from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # Closing releases the lock.


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
        private_dir(self.home / "bundles")
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
        """The files of one bundle (the folder is not created).

        ``InsecureStateDir`` if ``bundles`` or the bundle's folder is a symlink or a file: what
        is read through it is not the device's, and what is written would land elsewhere.
        """
        root = self.home / "bundles" / require_bundle_id(bundle_id)
        for folder in (root.parent, root):
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                _require_real_dir(folder)
        return BundleFiles(root)

    def bundle_dir(self, bundle_id: str) -> BundleFiles:
        """The files of one bundle, creating its 0700 folder."""
        self.ensure()
        files = self.bundle(bundle_id)
        private_dir(files.root)
        return files

    def bundle_ids(self) -> list[str]:
        """The bundles with a real folder on this device, sorted (a symlink is no bundle's folder)."""
        root = self.home / "bundles"
        if root.is_symlink() or not root.is_dir():
            return []
        return sorted(
            p.name for p in root.iterdir() if not p.is_symlink() and p.is_dir() and BUNDLE_ID.fullmatch(p.name)
        )

    def remove_bundle(self, bundle_id: str) -> bool:
        """Delete a bundle's folder: its licence (so its wrapped keys) and its ciphertext.

        Whatever stands in the folder's place goes, never what it points to: a symlink (or a
        file) is unlinked, and ``bundles`` itself must be a real folder.
        """
        parent = self.home / "bundles"
        if not parent.exists() and not parent.is_symlink():
            return False
        _require_real_dir(parent)
        root = parent / require_bundle_id(bundle_id)
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            root.unlink()
        elif root.exists():
            shutil.rmtree(root)
        else:
            return False
        fsync_dir(parent)
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
        if not self.key_path.exists() and not self.key_path.is_symlink():
            raise NotEnrolled(f"no device key in {self.home}")
        try:
            return load_private_key(self.key_path)
        except OSError as error:
            raise InsecureStateDir(
                f"the device key cannot be read as a regular file of the device ({error.strerror})",
                path=str(self.key_path),
            ) from error

    def save_token(self, token: str) -> None:
        write_json(self.credentials_path, {"token": token})

    def token(self) -> str | None:
        """The token saved at enrolment, or None; an unreadable or altered file is ``NotEnrolled``."""
        try:
            saved = read_json(self.credentials_path)
        except FileNotFoundError:
            return None
        except (InsecureStateDir, ValueError) as error:
            raise NotEnrolled(
                f"the saved API token ({self.credentials_path.name}) cannot be read ({error}); "
                "pass one with --token or enroll again"
            ) from error
        token = saved.get("token") if isinstance(saved, dict) else None
        return token if isinstance(token, str) and token else None
