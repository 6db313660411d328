"""The streaming AEAD: AES-256-GCM over fixed-size plaintext segments.

This is the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, "Online
Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance" (CRYPTO 2015), as Tink's
AES-GCM-HKDF streaming AEAD uses it: segment ``i`` is sealed with the nonce
``nonce_prefix (8 bytes) || i (4 bytes, big-endian)``, so a segment moved to another position
fails; and its associated data is ``header || last flag (1 byte)``, so a segment moved to another
container fails, and a stream cut at a segment boundary fails because the segment that is now
last was not sealed as last. (Tink puts the last flag in the nonce; the design of this service
puts it in the associated data, which is equivalent for authentication.)

Every segment holds ``segment_size`` plaintext bytes except the last, which holds 1 to
``segment_size`` bytes; each ciphertext segment is its plaintext plus a 16-byte tag.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from content_service.crypto.errors import ContainerTampered, ContainerTruncated, InvalidContainerInput

TAG_SIZE = 16
MAX_SEGMENTS = 1 << 32
_NOT_LAST = b"\x00"
_LAST = b"\x01"


class SegmentCipher:
    """Seals and opens single segments of one container."""

    def __init__(self, segment_key: bytes, header: bytes, nonce_prefix: bytes) -> None:
        self._aead = AESGCM(segment_key)
        self._prefix = nonce_prefix
        # Both possible associated data values are built once: they are the same for every segment.
        self._aad = {False: header + _NOT_LAST, True: header + _LAST}

    def _nonce(self, index: int) -> bytes:
        if not 0 <= index < MAX_SEGMENTS:
            raise InvalidContainerInput("a container holds at most 2**32 segments")
        return self._prefix + index.to_bytes(4, "big")

    def seal(self, index: int, plaintext: memoryview, last: bool) -> bytes:
        """Encrypt ``plaintext`` as segment ``index``; the result is the ciphertext and its tag."""
        return self._aead.encrypt(self._nonce(index), plaintext, self._aad[last])

    def open(self, index: int, ciphertext: bytes | memoryview, last: bool) -> bytes:
        """Authenticate and decrypt segment ``index``; raise rather than return unauthenticated bytes.

        When the segment that the container's length makes last fails as a last segment but
        opens as an inner one, the container was cut at a segment boundary: that is reported as
        ``ContainerTruncated`` so an incomplete download is not mistaken for an attack.
        """
        nonce = self._nonce(index)
        try:
            return self._aead.decrypt(nonce, ciphertext, self._aad[last])
        except InvalidTag:
            pass
        if last:
            try:
                self._aead.decrypt(nonce, ciphertext, self._aad[False])
            except InvalidTag:
                pass
            else:
                raise ContainerTruncated(f"the container ends after segment {index}, which is not its last")
        raise ContainerTampered(f"segment {index} failed authentication")


@dataclass(frozen=True)
class SegmentLayout:
    """Where each segment lies in a container of a given size; derived, never stored."""

    header_size: int
    segment_size: int
    count: int
    last_ciphertext_size: int

    @classmethod
    def for_container(cls, container_size: int, header_size: int, segment_size: int) -> SegmentLayout:
        """Work out the segments from the container's total size.

        Raises ``ContainerTruncated`` if no segment follows the header and ``ContainerTampered``
        if the container ends inside a tag, which no writer produces.
        """
        body = container_size - header_size
        if body <= 0:
            raise ContainerTruncated("the container holds no segment")
        full = segment_size + TAG_SIZE
        count = -(-body // full)
        last = body - (count - 1) * full
        if last <= TAG_SIZE:
            raise ContainerTampered("the container ends inside a segment tag")
        if count > MAX_SEGMENTS:
            raise ContainerTampered("the container holds more segments than the format allows")
        return cls(header_size, segment_size, count, last)

    @property
    def plaintext_size(self) -> int:
        """The number of plaintext bytes in all segments together."""
        return (self.count - 1) * self.segment_size + self.last_ciphertext_size - TAG_SIZE

    def ciphertext_span(self, first: int, last: int) -> tuple[int, int]:
        """The container offset and length of segments ``first`` to ``last`` inclusive."""
        start = self.header_size + first * (self.segment_size + TAG_SIZE)
        end = self.header_size + last * (self.segment_size + TAG_SIZE)
        end += self.last_ciphertext_size if last == self.count - 1 else self.segment_size + TAG_SIZE
        return start, end - start

    def segments_for(self, offset: int, length: int) -> range:
        """The segments holding plaintext bytes ``[offset, offset + length)`` (``length`` > 0)."""
        return range(offset // self.segment_size, (offset + length - 1) // self.segment_size + 1)


RangeRead = Callable[[int, int], bytes]
"""``read(offset, length) -> bytes``: exactly ``length`` bytes of the container from ``offset``,
for example one HTTP ``Range`` request."""

# plaintext_batches() reads this much ciphertext per source read, so a remote source gets few,
# large requests.
_BATCH_BYTES = 1 << 20


def read_exactly(read_at: RangeRead, offset: int, length: int) -> bytes:
    """``read_at(offset, length)``, or ``ContainerTruncated`` when the source gives fewer bytes."""
    data = read_at(offset, length)
    if len(data) != length:
        raise ContainerTruncated(f"the source gave {len(data)} bytes at {offset}, not {length}")
    return data


class SegmentReader:
    """Random access to the plaintext of one sealed segment stream.

    The one reading path of both container formats (a version 1 container, a version 2 file
    object): every segment is authenticated before any of its bytes are returned, a read opens
    only the segments covering it, with one source read, and the last opened segment is kept so
    small sequential reads do not decrypt a segment each time.
    """

    def __init__(self, read_at: RangeRead, cipher: SegmentCipher, layout: SegmentLayout) -> None:
        self._read_at = read_at
        self._cipher = cipher
        self.layout = layout
        self._cache: tuple[int, bytes] | None = None

    def open_segments(self, first: int, last: int) -> list[bytes]:
        """Read segments ``first`` to ``last`` with one source read and authenticate each one."""
        if first == last and self._cache is not None and self._cache[0] == first:
            return [self._cache[1]]
        layout = self.layout
        start, length = layout.ciphertext_span(first, last)
        view = memoryview(read_exactly(self._read_at, start, length))
        step = layout.segment_size + TAG_SIZE
        final = layout.count - 1
        opened = [
            self._cipher.open(
                index, view[(index - first) * step : (index - first + 1) * step], index == final
            )
            for index in range(first, last + 1)
        ]
        self._cache = (last, opened[-1])
        return opened

    def read_plain(self, offset: int, length: int) -> bytes:
        """Plaintext bytes ``[offset, offset + length)``, from the covering segments only."""
        if length <= 0:
            return b""
        covering = self.layout.segments_for(offset, length)
        segments = self.open_segments(covering.start, covering.stop - 1)
        skip = offset - covering.start * self.layout.segment_size
        if len(segments) == 1:
            return segments[0][skip : skip + length]
        return b"".join(segments)[skip : skip + length]

    def plaintext_batches(self) -> Iterator[bytes]:
        """Every segment's plaintext in order, authenticated, read about 1 MiB at a time."""
        batch = max(1, _BATCH_BYTES // (self.layout.segment_size + TAG_SIZE))
        for first in range(0, self.layout.count, batch):
            yield from self.open_segments(first, min(first + batch, self.layout.count) - 1)


class SegmentWriter:
    """Cuts a plaintext stream into segments and writes them sealed, holding one segment at most.

    A full segment is only sealed once more data arrives, because only then is it known not to
    be the last one; ``finish`` seals whatever is held as the last segment.
    """

    def __init__(self, cipher: SegmentCipher, out: BinaryIO, segment_size: int) -> None:
        self._cipher = cipher
        self._out = out
        self._size = segment_size
        self._plain = bytearray(segment_size)
        self._fill = 0
        self.segments = 0
        self.bytes_written = 0

    def write(self, data: bytes | memoryview) -> None:
        """Add plaintext to the stream."""
        view = memoryview(data)
        while view:
            if self._fill == self._size:
                self._emit(last=False)
            if self._fill == 0 and len(view) > self._size:
                # A whole segment with more data after it: seal it straight from the caller's
                # bytes, not copied into the held segment first. The output is the same.
                self._seal(view[: self._size], last=False)
                view = view[self._size :]
                continue
            take = min(self._size - self._fill, len(view))
            self._plain[self._fill : self._fill + take] = view[:take]
            self._fill += take
            view = view[take:]

    def finish(self) -> None:
        """Seal the held bytes as the last segment. The stream must not be empty."""
        if self._fill == 0:
            raise ValueError("a segment stream cannot be empty")
        self._emit(last=True)

    def _emit(self, last: bool) -> None:
        self._seal(memoryview(self._plain)[: self._fill], last)
        self._fill = 0

    def _seal(self, plaintext: memoryview, last: bool) -> None:
        # A fresh bytes object per segment (not a reused buffer) is handed to the output, so a
        # writer that keeps a reference to what it was given never sees it change.
        sealed = self._cipher.seal(self.segments, plaintext, last)
        write_all(self._out, sealed)
        self.segments += 1
        self.bytes_written += len(plaintext) + TAG_SIZE


def write_all(out: BinaryIO, data: bytes) -> None:
    """Write every byte: a raw (unbuffered) stream may accept only part of a write."""
    view = memoryview(data)
    while view:
        written = out.write(view)
        if written is None:
            # A raw stream returns None when it is non-blocking and not ready; any other writer
            # that returns nothing is taken to have written everything, as most hand-made ones do.
            if isinstance(out, io.RawIOBase):
                raise OSError("the output is non-blocking and not ready; sealing needs a blocking output")
            return
        view = view[written:]
