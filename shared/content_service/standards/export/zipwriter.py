"""Deterministic zips that strict readers (java.util.zip, Windows, LMS importers) accept.

Entries are sorted by name; every timestamp is 1980-01-01 00:00; permissions are 0644;
entries carry no extra fields and no data descriptors (sizes and CRCs are in the local
headers, which needs a seekable output); compression is stored for formats that are
already compressed and deflate for the rest. The same input gives the same bytes.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_STORED_SUFFIXES = frozenset(
    {
        ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif",
        ".mp3", ".mp4", ".m4a", ".m4v", ".webm", ".ogg", ".ogv", ".mov", ".woff", ".woff2", ".pdf",
    }
)  # fmt: skip

Opener = Callable[[], AbstractContextManager[BinaryIO]]


def _info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    info.compress_type = (
        zipfile.ZIP_STORED if PurePosixPath(name).suffix.lower() in _STORED_SUFFIXES else zipfile.ZIP_DEFLATED
    )
    info.file_size = size
    return info


def write_zip(out: Path, entries: Iterable[tuple[str, int, Opener]]) -> None:
    """Write ``(name, size, open)`` entries to ``out``, sorted by name, streaming each one."""
    ordered = sorted(entries, key=lambda entry: entry[0])
    names = [name for name, _, _ in ordered]
    if len(set(names)) != len(names):
        raise ValueError("duplicate entry names")
    with out.open("wb") as raw, zipfile.ZipFile(raw, "w", allowZip64=True) as archive:
        for name, size, opener in ordered:
            # force_zip64 only when the size needs it: a zip64 extra field is what strict
            # readers choke on, and below 4 GiB nothing needs one.
            with (
                opener() as source,
                archive.open(_info(name, size), "w", force_zip64=size >= 0xFFFFFFFF) as sink,
            ):
                shutil.copyfileobj(source, sink, 1024 * 1024)
