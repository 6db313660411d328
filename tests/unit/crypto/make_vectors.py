"""Regenerate the committed container test vectors: ``python -m tests.unit.crypto.make_vectors``.

The vectors pin the format bit for bit. Regenerating them is only right when the format version
changes; ``test_container_vectors.py`` fails if today's code would write different bytes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from content_service.crypto import seal
from tests.unit.crypto.support import replay

VECTORS = Path(__file__).parent / "vectors" / "container_v1.json"

# Each case: a name, the key, the segment size, the 24 random bytes seal draws (16-byte salt,
# then 8-byte nonce prefix) and the files. Contents are written as text for readability.
CASES: list[dict[str, Any]] = [
    {"name": "no files", "segment_size": 64, "files": []},
    {"name": "one empty file", "segment_size": 64, "files": [["empty.txt", ""]]},
    {"name": "one short file", "segment_size": 64, "files": [["index.html", "<h1>Hello</h1>\n"]]},
    # 121 bytes of file + index (4 + 2 + 1 + 48 = 55) + footer (16) = 192: exactly three full segments,
    # the last of them full and final; one more byte makes a fourth, one-byte segment.
    {"name": "stream of exactly three segments", "segment_size": 64, "files": [["a", "x" * 121]]},
    {"name": "stream one byte over three segments", "segment_size": 64, "files": [["a", "x" * 122]]},
    {
        "name": "several files across segments, non-ASCII paths",
        "segment_size": 64,
        "files": [
            ["leçons/1/index.html", "<p>" + "Bonjour le monde. " * 9 + "</p>"],
            ["leçons/1/vide.txt", ""],
            ["日本語/テスト.txt", "こんにちは世界\n" * 5],
            ["z", "one byte over: " + "y" * 50],
        ],
    },
]


def build() -> dict[str, Any]:
    """Seal every case with its pinned randomness and return the vectors document."""
    cases = []
    for number, case in enumerate(CASES):
        key = bytes((number * 16 + i) % 256 for i in range(32))
        randomness = bytes((0xA0 + number + i * 7) % 256 for i in range(24))
        out = io.BytesIO()
        files = [(path, text.encode("utf-8")) for path, text in case["files"]]
        seal(
            [(path, io.BytesIO(data)) for path, data in files],
            key,
            out,
            segment_size=case["segment_size"],
            _random=replay(randomness),
        )
        cases.append(
            {
                "name": case["name"],
                "key": key.hex(),
                "segment_size": case["segment_size"],
                "random": randomness.hex(),
                "files": [{"path": path, "content": data.hex()} for path, data in files],
                "container": out.getvalue().hex(),
            }
        )
    return {
        "format": "content-service container",
        "version": 1,
        "note": "Regenerate only with a new format version: python -m tests.unit.crypto.make_vectors",
        "cases": cases,
    }


if __name__ == "__main__":
    VECTORS.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {VECTORS}")
