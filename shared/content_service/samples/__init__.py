"""Sample packages the project writes and ships itself (the demo uploads ``welcome``).

``sample_zip_bytes`` zips a sample deterministically: entries sorted by path, every
timestamp fixed at 1980-01-01 and the same permissions, so the same sample always gives
the same bytes (and therefore the same content hash).
"""

from __future__ import annotations

import io
import zipfile
from importlib import resources
from importlib.resources.abc import Traversable

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16


def sample_names() -> list[str]:
    """The samples this package ships."""
    root = resources.files(__name__)
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("_"))


def _files(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in folder.iterdir():
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.extend(_files(entry, f"{path}/"))
        else:
            found.append((path, entry))
    return found


def sample_zip_bytes(name: str = "welcome") -> bytes:
    """The sample package ``name`` as zip bytes, identical on every call and machine."""
    folder = resources.files(__name__) / name
    if name not in sample_names():
        raise ValueError(f"no sample package named {name!r}; have {sample_names()}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, entry in sorted(_files(folder)):
            info = zipfile.ZipInfo(path, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = _FILE_MODE
            archive.writestr(info, entry.read_bytes())
    return buffer.getvalue()
