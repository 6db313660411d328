"""The committed test vectors pin the container format bit for bit.

Two independent checks: today's ``seal`` reproduces every committed container from the same
key, files and randomness; and a decoder written here from docs/container-format.md alone (raw
HKDF and AES-GCM, none of the package's code) recovers every file from the committed bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from content_service.crypto import ContainerReader, seal
from tests.unit.crypto.make_vectors import build
from tests.unit.crypto.support import replay

VECTORS = json.loads((Path(__file__).parent / "vectors" / "container_v1.json").read_text(encoding="utf-8"))
CASES = VECTORS["cases"]


def _files(case: dict) -> list[tuple[str, bytes]]:
    return [(f["path"], bytes.fromhex(f["content"])) for f in case["files"]]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_seal_reproduces_the_committed_container_bit_for_bit(case):
    out = io.BytesIO()
    seal(
        [(path, io.BytesIO(data)) for path, data in _files(case)],
        bytes.fromhex(case["key"]),
        out,
        segment_size=case["segment_size"],
        _random=replay(bytes.fromhex(case["random"])),
    )
    assert out.getvalue().hex() == case["container"]


def test_the_vector_generator_and_the_committed_file_agree():
    assert build() == VECTORS


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_reader_opens_every_committed_container(case):
    reader = ContainerReader(io.BytesIO(bytes.fromhex(case["container"])), bytes.fromhex(case["key"]))
    assert {e.path: reader.read_file(e.path) for e in reader.files()} == dict(_files(case))


def _decode_from_the_spec(container: bytes, key: bytes) -> dict[str, bytes]:
    """Decode a version 1 container following docs/container-format.md step by step."""
    magic, version, segment_size, salt, prefix = struct.unpack_from(">4sBI16s8s", container)
    assert (magic, version) == (b"CSCT", 1)
    header = container[:65]
    okm = HKDF(hashes.SHA256(), 64, salt, b"content-service/container/v1\x00" + header[:33]).derive(key)
    assert okm[32:] == header[33:65], "key commitment"
    aead = AESGCM(okm[:32])
    body = container[65:]
    step = segment_size + 16
    count = -(-len(body) // step)
    stream = b""
    for i in range(count):
        flag = b"\x01" if i == count - 1 else b"\x00"
        stream += aead.decrypt(prefix + i.to_bytes(4, "big"), body[i * step : (i + 1) * step], header + flag)
    index_offset, index_length = struct.unpack(">QQ", stream[-16:])
    index = stream[index_offset : index_offset + index_length]
    (count_files,) = struct.unpack_from(">I", index)
    at, files = 4, {}
    for _ in range(count_files):
        (n,) = struct.unpack_from(">H", index, at)
        path = index[at + 2 : at + 2 + n].decode()
        offset, length, digest = struct.unpack_from(">QQ32s", index, at + 2 + n)
        at += 2 + n + 48
        files[path] = stream[offset : offset + length]
        assert hashlib.sha256(files[path]).digest() == digest
    return files


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_an_independent_decoder_written_from_the_format_document_agrees(case):
    container = bytes.fromhex(case["container"])
    assert _decode_from_the_spec(container, bytes.fromhex(case["key"])) == dict(_files(case))
