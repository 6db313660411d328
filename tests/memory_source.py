"""An in-memory DescriptorSource for parser tests: a package is a dict of path -> bytes."""

from __future__ import annotations

import zipfile
from pathlib import Path


class MemorySource:
    """Behaves like the sandbox's source: ``names`` lists the files, ``read`` returns bytes."""

    def __init__(self, files: dict[str, bytes | str]) -> None:
        self.files = {name: data.encode() if isinstance(data, str) else data for name, data in files.items()}
        self.reads: list[str] = []

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.files)

    def read(self, path: str) -> bytes:
        self.reads.append(path)
        return self.files[path]

    def with_files(self, *paths: str) -> MemorySource:
        """A copy with empty placeholder files added (content the parser never reads)."""
        return MemorySource({**self.files, **{path: b"" for path in paths}})

    @classmethod
    def from_zip(cls, path: Path, *, folder: str = "") -> MemorySource:
        """The files of a zip (optionally only those under ``folder``, re-rooted)."""
        with zipfile.ZipFile(path) as archive:
            return cls(
                {
                    info.filename[len(folder) :]: archive.read(info)
                    for info in archive.infolist()
                    if not info.is_dir() and info.filename.startswith(folder)
                }
            )
