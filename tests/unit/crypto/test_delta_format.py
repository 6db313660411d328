"""Container format version 2: deterministic file objects, the sealed index, tampering, version 1 still read."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path

import pytest

from content_service.crypto import (
    ContainerKeyMismatch,
    ContainerPathNotFound,
    ContainerReader,
    ContainerTampered,
    ContainerTruncated,
    InvalidContainerInput,
    UnsupportedVersion,
    delta,
)
from content_service.crypto.delta import (
    DeltaPackageReader,
    ObjectEntry,
    ObjectReader,
    derive_file_key,
    format_version,
    index_objects,
    object_entry,
    open_index,
    seal_index,
    seal_object,
)

LINEAGE = bytes(range(32))
OTHER_LINEAGE = bytes(range(1, 33))
CONTENT_KEY = bytes(range(100, 132))
SEGMENT = 64
VECTORS = Path(__file__).parent / "vectors"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sealed(data: bytes, lineage: bytes = LINEAGE, segment_size: int = SEGMENT) -> tuple[bytes, ObjectEntry]:
    out = io.BytesIO()
    result = seal_object(io.BytesIO(data), lineage, sha(data), out, segment_size=segment_size)
    return out.getvalue(), object_entry(lineage, "f.bin", result)


def package(files: dict[str, bytes], lineage: bytes = LINEAGE) -> tuple[bytes, dict[str, bytes]]:
    """An index under CONTENT_KEY and the objects it names, by object name."""
    objects: dict[str, bytes] = {}
    entries = []
    for path, data in files.items():
        blob, entry = sealed(data, lineage)
        entry = ObjectEntry(
            path, entry.length, entry.sha256, entry.file_key, entry.object_size, entry.object_sha256
        )
        objects[entry.object_name] = blob
        entries.append(entry)
    return seal_index(entries, CONTENT_KEY, segment_size=SEGMENT), objects


def reader(index: bytes, objects: dict[str, bytes]) -> DeltaPackageReader:
    return DeltaPackageReader(open_index(index, CONTENT_KEY), lambda e: io.BytesIO(objects[e.object_name]))


def test_an_unchanged_file_seals_to_the_same_object_in_every_version_of_a_lineage() -> None:
    data = b"same lesson video " * 50
    first, entry = sealed(data)
    again, _ = sealed(data)
    assert first == again
    assert entry.object_sha256 == sha(first)


def test_another_lineage_or_segment_size_gives_an_unrelated_object() -> None:
    data = b"shared stock photo" * 20
    ours, _ = sealed(data)
    theirs, _ = sealed(data, OTHER_LINEAGE)
    resized, _ = sealed(data, segment_size=128)
    assert ours != theirs and ours != resized
    # The segment key differs too, not only the header: no segment ciphertext is shared.
    assert ours[42:106] != theirs[42:106] and ours[42:106] != resized[42:106]


def test_file_keys_depend_on_the_lineage_and_the_file_hash_only() -> None:
    assert derive_file_key(LINEAGE, sha(b"a")) == derive_file_key(LINEAGE, sha(b"a"))
    assert derive_file_key(LINEAGE, sha(b"a")) != derive_file_key(LINEAGE, sha(b"b"))
    assert derive_file_key(LINEAGE, sha(b"a")) != derive_file_key(OTHER_LINEAGE, sha(b"a"))


def test_a_package_round_trips_through_its_index_and_objects() -> None:
    files = {"index.html": b"<h1>hi</h1>" * 30, "empty.txt": b"", "media/clip.bin": bytes(range(256)) * 9}
    index, objects = package(files)
    opened = reader(index, objects)
    assert [e.path for e in opened.files()] == list(files)
    for path, data in files.items():
        assert opened.read_file(path) == data
        with opened.open(path) as handle:
            assert handle.read() == data
    assert opened.read_range("media/clip.bin", 250, 20) == files["media/clip.bin"][250:270]
    opened.verify()
    with pytest.raises(ContainerPathNotFound):
        opened.read_file("missing")
    opened.close()


def test_the_index_lists_lengths_hashes_and_object_names() -> None:
    files = {"a.txt": b"alpha", "b.txt": b"beta" * 40}
    index, objects = package(files)
    entries = open_index(index, CONTENT_KEY).entries
    assert [(e.path, e.length, e.sha256) for e in entries] == [(p, len(d), sha(d)) for p, d in files.items()]
    assert {e.object_name for e in entries} == set(objects)


def test_a_new_version_shares_every_unchanged_object_with_the_last() -> None:
    v1 = {f"f{i}.bin": bytes([i]) * 300 for i in range(5)}
    v2 = dict(v1, **{"f3.bin": b"changed" * 40})
    _, objects1 = package(v1)
    _, objects2 = package(v2)
    assert len(set(objects2) - set(objects1)) == 1


def test_a_bit_flip_anywhere_in_the_index_is_refused() -> None:
    index, _ = package({"a.txt": b"alpha" * 20})
    for position in range(0, len(index), 7):
        altered = bytearray(index)
        altered[position] ^= 0x01
        with pytest.raises((ContainerTampered, ContainerKeyMismatch, UnsupportedVersion)):
            open_index(bytes(altered), CONTENT_KEY)


def test_a_cut_index_or_a_wrong_key_is_refused() -> None:
    index, _ = package({"a.txt": b"alpha"})
    with pytest.raises((ContainerTampered, ContainerTruncated)):
        open_index(index[:-1], CONTENT_KEY)
    with pytest.raises(ContainerTruncated):
        open_index(index[:3], CONTENT_KEY)
    with pytest.raises(ContainerKeyMismatch):
        open_index(index, bytes(32))


def test_a_bit_flip_anywhere_in_a_file_object_is_refused() -> None:
    data = bytes(range(200))
    blob, entry = sealed(data)
    for position in range(len(blob)):
        altered = bytearray(blob)
        altered[position] ^= 0x80
        with pytest.raises((ContainerTampered, ContainerKeyMismatch, ContainerTruncated, UnsupportedVersion)):
            ObjectReader(io.BytesIO(bytes(altered)), entry.file_key, size=len(blob), length=len(data)).verify(
                entry.sha256
            )


def test_an_object_cut_at_a_segment_boundary_is_truncated_not_readable() -> None:
    data = bytes(200)
    blob, entry = sealed(data)
    cut = 42 + (SEGMENT + 16) * 2
    with pytest.raises(ContainerTruncated):
        ObjectReader(io.BytesIO(blob[:cut]), entry.file_key, size=cut, length=len(data))


def test_an_object_swapped_for_another_file_of_the_lineage_is_refused() -> None:
    """The index gives each file its own key, so another object of the lineage does not open."""
    index, objects = package({"a.txt": b"alpha" * 10, "b.txt": b"bravo" * 10})
    entries = open_index(index, CONTENT_KEY).entries
    swapped = {
        entries[0].object_name: objects[entries[1].object_name],
        entries[1].object_name: objects[entries[1].object_name],
    }
    with pytest.raises((ContainerKeyMismatch, ContainerTampered)):
        reader(index, swapped).read_file("a.txt")


def test_an_index_that_lies_about_a_length_or_hash_is_caught_when_reading() -> None:
    blob, entry = sealed(b"genuine bytes" * 10)
    lying_length = ObjectEntry(
        "f", entry.length + 1, entry.sha256, entry.file_key, entry.object_size, entry.object_sha256
    )
    with pytest.raises(ContainerTampered):
        DeltaPackageReader(
            open_index(seal_index([lying_length], CONTENT_KEY), CONTENT_KEY), lambda _e: io.BytesIO(blob)
        ).read_file("f")
    lying_hash = ObjectEntry(
        "f", entry.length, sha(b"other"), entry.file_key, entry.object_size, entry.object_sha256
    )
    with pytest.raises(ContainerTampered):
        DeltaPackageReader(
            open_index(seal_index([lying_hash], CONTENT_KEY), CONTENT_KEY), lambda _e: io.BytesIO(blob)
        ).verify()


def test_sealing_refuses_a_file_whose_bytes_are_not_the_given_hash() -> None:
    with pytest.raises(InvalidContainerInput):
        seal_object(io.BytesIO(b"abc"), LINEAGE, sha(b"abd"), io.BytesIO())


def test_an_index_refuses_bad_or_duplicate_paths() -> None:
    _, entry = sealed(b"x")
    for paths in (["../x"], ["a", "a"], ["/abs"]):
        entries = [
            ObjectEntry(p, 1, entry.sha256, entry.file_key, entry.object_size, entry.object_sha256)
            for p in paths
        ]
        with pytest.raises(InvalidContainerInput):
            seal_index(entries, CONTENT_KEY)


def test_the_version_marker_comes_first_and_version_1_containers_are_still_read() -> None:
    index, _ = package({"a.txt": b"alpha"})
    assert index[:5] == b"CSCT\x02" and format_version(index) == 2
    vectors = json.loads((VECTORS / "container_v1.json").read_text())
    for case in vectors["cases"]:
        container = bytes.fromhex(case["container"])
        assert format_version(container) == 1
        ContainerReader(io.BytesIO(container), bytes.fromhex(case["key"])).verify()
    # A version 1 reader refuses a version 2 index by its version byte, not as tampering.
    with pytest.raises(UnsupportedVersion):
        ContainerReader(io.BytesIO(index), CONTENT_KEY)


def test_the_object_list_is_readable_without_a_key_and_names_each_distinct_object_once() -> None:
    files = {"a.txt": b"same", "copy/a.txt": b"same", "b.txt": b"other"}
    index, objects = package(files)
    listed = index_objects(index)
    assert {o.name for o in listed} == set(objects) and len(listed) == 2
    assert {o.size for o in listed} == {len(objects[o.name]) for o in listed}


# --- Each refusal of the version 2 parsers, one malformed input at a time -------------------------


def test_a_file_key_needs_a_real_sha256() -> None:
    for bad in ("", "zz" * 32, "ab" * 31, None):
        with pytest.raises(ValueError, match="64 hex digits"):
            derive_file_key(LINEAGE, bad)  # type: ignore[arg-type]


def test_an_object_shorter_than_its_header_or_its_length_trailer_is_refused() -> None:
    blob, entry = sealed(b"x" * 10)
    with pytest.raises(ContainerTruncated, match="shorter than its header"):
        ObjectReader(io.BytesIO(blob[:20]), entry.file_key, size=20, length=10)
    with pytest.raises(ContainerTampered, match="length is not the one its index gives"):
        ObjectReader(io.BytesIO(blob), entry.file_key, size=len(blob), length=11)
    # An index object handed over as a file object is refused by its kind byte.
    index, _ = package({"a.txt": b"alpha"})
    with pytest.raises(ContainerTampered, match="not a file object header"):
        ObjectReader(io.BytesIO(index), entry.file_key, size=len(index), length=5)


def test_seal_index_refuses_a_random_source_that_gives_the_wrong_size() -> None:
    _, entry = sealed(b"x")
    with pytest.raises(ValueError, match="wrong number of bytes"):
        seal_index([entry], CONTENT_KEY, _random=lambda n: bytes(n - 1))


def test_the_index_parsers_refuse_other_versions_kinds_and_sizes() -> None:
    index, _ = package({"a.txt": b"alpha"})
    version_1 = index[:4] + b"\x01" + index[5:]
    for parse in (index_objects, lambda data: open_index(data, CONTENT_KEY)):
        with pytest.raises(UnsupportedVersion):
            parse(version_1)
    with pytest.raises(ContainerTruncated, match="shorter than its header"):
        index_objects(index[:40])
    with pytest.raises(ContainerTruncated, match="shorter than its header"):
        open_index(index[:40], CONTENT_KEY)
    as_object = index[:5] + b"O" + index[6:]
    with pytest.raises(ContainerTampered, match="not a version 2 index"):
        open_index(as_object, CONTENT_KEY)
    with pytest.raises(ContainerTampered, match="larger than the format allows"):
        open_index(index + bytes(2 * delta.MAX_INDEX_BYTES), CONTENT_KEY)
    header_and_list = delta.INDEX_HEADER_SIZE + 4 + 48
    with pytest.raises(ContainerTruncated, match="ends before its sealed entries"):
        open_index(index[: header_and_list + 10], CONTENT_KEY)


def test_an_object_list_longer_than_the_index_is_refused() -> None:
    index, _ = package({"a.txt": b"alpha"})
    at = delta.INDEX_HEADER_SIZE
    inflated = index[:at] + (1000).to_bytes(4, "big") + index[at + 4 :]
    with pytest.raises(ContainerTampered, match="object list runs past its end"):
        index_objects(inflated)


def _seal_crafted(
    monkeypatch: pytest.MonkeyPatch, plaintext: bytes | None = None, objects: bytes | None = None
) -> bytes:
    """An index under CONTENT_KEY whose sealed plaintext (or clear object list) is the given bytes."""
    _, entry = sealed(b"alpha")
    if plaintext is not None:
        monkeypatch.setattr(delta, "_encode_index", lambda entries, segment_size: plaintext)
    if objects is not None:
        monkeypatch.setattr(delta, "_encode_objects", lambda entries: objects)
    return seal_index([entry], CONTENT_KEY, segment_size=SEGMENT)


def _entry_bytes(path: bytes, length: int = 5) -> bytes:
    return (
        struct.pack(">H", len(path))
        + path
        + struct.pack(">Q32s32sQ32s", length, bytes(32), bytes(32), 90, bytes(32))
    )


@pytest.mark.parametrize(
    ("plaintext", "message"),
    [
        (struct.pack(">II", SEGMENT, 1) + struct.pack(">H", 50) + b"short", "malformed"),
        (struct.pack(">II", SEGMENT, 1) + _entry_bytes(b"a.txt") + b"extra", "malformed"),
        (
            struct.pack(">II", SEGMENT, 2) + _entry_bytes(b"a.txt") + _entry_bytes(b"a.txt"),
            "invalid or duplicate",
        ),
        (struct.pack(">II", SEGMENT, 1) + _entry_bytes(b"../a.txt"), "invalid or duplicate"),
        (struct.pack(">II", SEGMENT, 1) + _entry_bytes(b"\xff\xfe"), "malformed"),
        (struct.pack(">II", 3, 0), "segment size is out of range"),
    ],
)
def test_a_sealed_index_with_malformed_entries_is_refused(
    monkeypatch: pytest.MonkeyPatch, plaintext: bytes, message: str
) -> None:
    """Authenticated is not well-formed: a key holder's bad index is still refused, never half-read."""
    index = _seal_crafted(monkeypatch, plaintext=plaintext)
    with pytest.raises(ContainerTampered, match=message):
        open_index(index, CONTENT_KEY)


def test_an_object_list_that_disagrees_with_the_entries_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    index = _seal_crafted(monkeypatch, objects=struct.pack(">I", 1) + struct.pack(">Q32s", 1, bytes(32)))
    with pytest.raises(ContainerTampered, match="does not match its entries"):
        open_index(index, CONTENT_KEY)


def test_the_package_reader_answers_like_a_version_1_reader() -> None:
    files = {"a.txt": b"alpha" * 30, "b/c.txt": b"gamma"}
    index, objects = package(files)
    opened = reader(index, objects)
    assert opened.format_version == 2
    assert [e.path for e in opened.index.entries] == list(files)
    assert opened.entry("b/c.txt").length == 5 and opened.entry("b/c.txt").offset == 0
    assert opened.index.entry("a.txt").length == 150
    with pytest.raises(ContainerPathNotFound):
        opened.index.entry("missing")
    with opened.open("a.txt") as handle:
        handle.seek(145)
        assert handle.read() == b"alpha"
    assert opened.read_range("a.txt", 5, 10) == b"alphaalpha"
    with pytest.raises(ValueError, match="outside"):
        opened.read_range("a.txt", 151, 1)
    opened.close()
