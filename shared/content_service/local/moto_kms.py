"""moto's KMS made to keep what AWS KMS keeps for multi-Region keys.

moto (5.2) writes the key id into a fixed 36-byte field of its ciphertext blob (``KEY_ID_LEN``
in ``moto/kms/utils.py``), and its multi-Region key ids (``mrk-`` and a dashed UUID) are 40
characters long: the id is cut short, so a data key generated or encrypted under a multi-Region
key never decrypts again, not even in its own region (``AccessDeniedException``). AWS decrypts
it, in the key's region and in every region holding a replica of it; the service relies on
that (the secondary unwraps content keys with the replica of ``ContentKey``).

The blob is moto's own format (not what KMS does), so the local stack widens it rather than
emulating anything of AWS's: a blob whose key id does not fit the 36-byte field starts with a
marker byte, then the id's length and the id, then moto's IV, tag and ciphertext. Ids that fit
keep moto's format byte for byte, so every other blob reads as before.
"""

from __future__ import annotations

import struct

_MARKER = b"\x01"  # moto's blobs start with a key id's first character, never with this byte


def keep_long_key_ids_in_ciphertext_blobs() -> None:
    """Patch moto's blob (de)serialisers, once per process (encrypt/decrypt look them up by name)."""
    from moto.kms import utils

    if getattr(utils._serialize_ciphertext_blob, "keeps_long_key_ids", False):
        return
    serialize, deserialize = utils._serialize_ciphertext_blob, utils._deserialize_ciphertext_blob

    def serialize_long(ciphertext: utils.Ciphertext) -> bytes:
        key_id = ciphertext.key_id.encode("utf-8")
        if len(key_id) <= utils.KEY_ID_LEN:
            return serialize(ciphertext=ciphertext)
        header = struct.pack(
            f">cB{len(key_id)}s{utils.IV_LEN}s{utils.TAG_LEN}s",
            _MARKER,
            len(key_id),
            key_id,
            ciphertext.iv,
            ciphertext.tag,
        )
        return header + ciphertext.ciphertext

    def deserialize_long(ciphertext_blob: bytes) -> utils.Ciphertext:
        blob = ciphertext_blob
        if not blob.startswith(_MARKER) or len(blob) < 2:
            return deserialize(ciphertext_blob=blob)
        length = blob[1]
        fields = f">{length}s{utils.IV_LEN}s{utils.TAG_LEN}s"
        end = 2 + struct.calcsize(fields)
        key_id, iv, tag = struct.unpack(fields, blob[2:end])
        return utils.Ciphertext(key_id=key_id.decode("utf-8"), iv=iv, ciphertext=blob[end:], tag=tag)

    serialize_long.keeps_long_key_ids = True  # type: ignore[attr-defined]
    utils._serialize_ciphertext_blob = serialize_long
    utils._deserialize_ciphertext_blob = deserialize_long
