"""Raw deflate inflaters and CRC-32: ISA-L's (the ``isal`` package) when installed, else zlib.

ISA-L inflates the same deflate streams about twice as fast as zlib, and its CRC-32 is
faster too; the build spends most of its time there. ``isal.isal_zlib`` is a drop-in for
the calls the sandbox makes (``decompressobj(-15)``, ``decompress(data, max_length)``,
``unconsumed_tail``, ``unused_data``, ``eof``, ``crc32``), and the tests run the sandbox's
reader with both and require the same bytes and the same problems. zlib stays the fallback
so that the package works where the wheel is missing.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Inflater:
    """One implementation: how to make a raw-deflate decompressor, its CRC-32 and its errors."""

    name: str
    module: ModuleType
    errors: tuple[type[BaseException], ...]

    def decompressor(self) -> Any:
        return self.module.decompressobj(-zlib.MAX_WBITS)

    def crc32(self, data: bytes, value: int = 0) -> int:
        return int(self.module.crc32(data, value))


ZLIB = Inflater("zlib", zlib, (zlib.error,))


def _isal() -> Inflater | None:
    try:
        from isal import isal_zlib
    except ImportError:
        return None
    return Inflater("isal", isal_zlib, (isal_zlib.error, zlib.error))


ISAL = _isal()
FASTEST = ISAL or ZLIB
"""The inflater the sandbox uses: isal if installed, else zlib."""
