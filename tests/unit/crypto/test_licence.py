"""Licence key wrapping: a content key opens only for its device and its bundle; device key files."""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
from joserfc import jwe
from joserfc.jwk import OKPKey

from content_service.crypto.jwk import InvalidKey
from content_service.crypto.licence import (
    InsecureKeyFile,
    LicenceKeyNotForThisDevice,
    LicenceKeyTampered,
    LicenceKeyUnsupported,
    device_public_jwk,
    generate_device_key,
    load_private_key,
    save_private_key,
    unwrap_content_key,
    wrap_content_key,
)

VECTOR = json.loads((Path(__file__).parent / "vectors" / "licence_key_jwe_v1.json").read_text())
CONTENT_KEY = bytes(range(100, 132))
BUNDLE, OTHER_BUNDLE = "bnd_01JA", "bnd_01JB"
DEVICE, OTHER_DEVICE = "dev_01JA", "dev_01JB"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def header_of(token: str) -> dict[str, Any]:
    return json.loads(unb64(token.split(".")[0]))


def with_header(token: str, **changes: Any) -> str:
    """The same JWE with its protected header rewritten (every other segment kept)."""
    parts = token.split(".")
    parts[0] = b64(json.dumps({**header_of(token), **changes}).encode())
    return ".".join(parts)


def flip(token: str, segment: int, position: int = 0) -> str:
    parts = token.split(".")
    raw = bytearray(unb64(parts[segment]))
    raw[position] ^= 0x01
    parts[segment] = b64(bytes(raw))
    return ".".join(parts)


@pytest.fixture(scope="module")
def device() -> X25519PrivateKey:
    return generate_device_key()


@pytest.fixture(scope="module")
def other_device() -> X25519PrivateKey:
    return generate_device_key()


@pytest.fixture(scope="module")
def wrapped(device) -> str:
    return wrap_content_key(CONTENT_KEY, device_public_jwk(device), bundle_id=BUNDLE, device_id=DEVICE)


# Round trip and format


def test_the_device_unwraps_the_content_key_for_its_bundle(device, wrapped):
    assert unwrap_content_key(wrapped, device, bundle_id=BUNDLE, device_id=DEVICE) == CONTENT_KEY


def test_the_header_binds_bundle_and_device_as_the_contract_says(wrapped):
    header = header_of(wrapped)

    assert header["alg"] == "ECDH-ES+A256KW"
    assert header["enc"] == "A256GCM"
    assert unb64(header["apu"]) == BUNDLE.encode()
    assert unb64(header["apv"]) == DEVICE.encode()
    assert set(header["epk"]) == {"kty", "crv", "x"}
    assert (header["epk"]["kty"], header["epk"]["crv"]) == ("OKP", "X25519")
    assert set(header) == {"alg", "enc", "apu", "apv", "epk"}
    assert len(wrapped.split(".")) == 5


def test_each_wrap_is_fresh(device):
    jwk = device_public_jwk(device)
    first = wrap_content_key(CONTENT_KEY, jwk, bundle_id=BUNDLE, device_id=DEVICE)
    second = wrap_content_key(CONTENT_KEY, jwk, bundle_id=BUNDLE, device_id=DEVICE)

    assert first != second
    assert header_of(first)["epk"] != header_of(second)["epk"]


def test_the_device_public_jwk_is_public_x25519_only(device):
    jwk = device_public_jwk(device)

    assert set(jwk) == {"kty", "crv", "x"}
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "X25519")
    assert unb64(jwk["x"]) == device.public_key().public_bytes_raw()


def test_the_committed_vector_still_unwraps():
    device = X25519PrivateKey.from_private_bytes(bytes.fromhex(VECTOR["device_private_key"]))

    assert device_public_jwk(device) == VECTOR["device_public_jwk"]
    assert unwrap_content_key(
        VECTOR["jwe"], device, bundle_id=VECTOR["bundle_id"], device_id=VECTOR["device_id"]
    ) == bytes.fromhex(VECTOR["content_key"])
    with pytest.raises(LicenceKeyNotForThisDevice):
        unwrap_content_key(VECTOR["jwe"], device, bundle_id=BUNDLE, device_id=VECTOR["device_id"])


# Another device, another bundle


def test_another_device_with_its_own_id_is_refused_before_decrypting(other_device, wrapped):
    with pytest.raises(LicenceKeyNotForThisDevice):
        unwrap_content_key(wrapped, other_device, bundle_id=BUNDLE, device_id=OTHER_DEVICE)


def test_another_device_claiming_the_right_ids_cannot_decrypt(other_device, wrapped):
    with pytest.raises(LicenceKeyTampered):
        unwrap_content_key(wrapped, other_device, bundle_id=BUNDLE, device_id=DEVICE)


def test_the_same_device_for_another_bundle_is_refused(device, wrapped):
    with pytest.raises(LicenceKeyNotForThisDevice):
        unwrap_content_key(wrapped, device, bundle_id=OTHER_BUNDLE, device_id=DEVICE)


def test_rewriting_apu_to_another_bundle_breaks_the_key_derivation(device, wrapped):
    forged = with_header(wrapped, apu=b64(OTHER_BUNDLE.encode()))

    with pytest.raises(LicenceKeyTampered):
        unwrap_content_key(forged, device, bundle_id=OTHER_BUNDLE, device_id=DEVICE)


def test_rewriting_apv_to_another_device_breaks_the_key_derivation(other_device, device):
    # A key wrapped for the other device; the header is edited to name this device's id.
    for_other = wrap_content_key(
        CONTENT_KEY, device_public_jwk(other_device), bundle_id=BUNDLE, device_id=OTHER_DEVICE
    )
    forged = with_header(for_other, apv=b64(DEVICE.encode()))

    with pytest.raises(LicenceKeyTampered):
        unwrap_content_key(forged, device, bundle_id=BUNDLE, device_id=DEVICE)
    with pytest.raises(LicenceKeyTampered):
        unwrap_content_key(forged, other_device, bundle_id=BUNDLE, device_id=DEVICE)


def concat_kdf_kek(device: X25519PrivateKey, header: dict[str, Any]) -> bytes:
    """RFC 7518 section 4.6.2, computed independently of joserfc: the A256KW key-wrapping key."""
    epk = X25519PublicKey.from_public_bytes(unb64(header["epk"]["x"]))
    shared = device.exchange(epk)

    def field(value: bytes) -> bytes:
        return struct.pack(">I", len(value)) + value

    other_info = (
        field(header["alg"].encode())
        + field(unb64(header["apu"]))
        + field(unb64(header["apv"]))
        + struct.pack(">I", 256)
    )
    return ConcatKDFHash(hashes.SHA256(), 32, other_info).derive(shared)


def test_the_party_info_is_in_the_key_derivation_not_only_in_the_tag(device, wrapped):
    encrypted_key = unb64(wrapped.split(".")[1])
    genuine = header_of(wrapped)
    forged = {**genuine, "apu": b64(OTHER_BUNDLE.encode())}

    # The genuine header derives the key that unwraps the content-encryption key ...
    assert len(aes_key_unwrap(concat_kdf_kek(device, genuine), encrypted_key)) == 32
    # ... and naming another bundle derives another key, under which the unwrap itself fails,
    # before the AES-GCM tag over the header is even reached.
    with pytest.raises(InvalidUnwrap):
        aes_key_unwrap(concat_kdf_kek(device, forged), encrypted_key)
    with pytest.raises(InvalidUnwrap):
        aes_key_unwrap(concat_kdf_kek(device, {**genuine, "apv": b64(OTHER_DEVICE.encode())}), encrypted_key)


# Header checks


@pytest.mark.parametrize(
    ("alg", "enc"),
    [("ECDH-ES", "A256GCM"), ("ECDH-ES+A128KW", "A256GCM"), ("ECDH-ES+A256KW", "A128GCM")],
)
def test_another_alg_or_enc_is_refused(device, alg, enc):
    header = {"alg": alg, "enc": enc, "apu": b64(BUNDLE.encode()), "apv": b64(DEVICE.encode())}
    other = jwe.encrypt_compact(
        header, CONTENT_KEY, OKPKey.import_key(device.public_key()), algorithms=[alg, enc]
    )

    with pytest.raises(LicenceKeyUnsupported):
        unwrap_content_key(other, device, bundle_id=BUNDLE, device_id=DEVICE)


@pytest.mark.parametrize("extra", [{"zip": "DEF"}, {"kid": "k"}, {"cty": "x"}])
def test_extra_header_members_are_refused(device, wrapped, extra):
    with pytest.raises(LicenceKeyUnsupported):
        unwrap_content_key(with_header(wrapped, **extra), device, bundle_id=BUNDLE, device_id=DEVICE)


def test_a_missing_party_info_is_refused(device):
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}
    bare = jwe.encrypt_compact(header, CONTENT_KEY, OKPKey.import_key(device.public_key()))

    with pytest.raises(LicenceKeyUnsupported):
        unwrap_content_key(bare, device, bundle_id=BUNDLE, device_id=DEVICE)


def test_an_ephemeral_key_on_another_curve_is_refused(device, wrapped):
    epk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64(Ed25519PrivateKey.generate().public_key().public_bytes_raw()),
    }

    with pytest.raises(LicenceKeyUnsupported):
        unwrap_content_key(with_header(wrapped, epk=epk), device, bundle_id=BUNDLE, device_id=DEVICE)


# Tampering


@pytest.mark.parametrize(
    ("segment", "name"), [(1, "encrypted key"), (2, "iv"), (3, "ciphertext"), (4, "tag")]
)
def test_a_flipped_bit_in_any_segment_is_refused(device, wrapped, segment, name):
    with pytest.raises(LicenceKeyTampered):
        unwrap_content_key(flip(wrapped, segment), device, bundle_id=BUNDLE, device_id=DEVICE)


def test_a_changed_ephemeral_key_is_refused(device, wrapped):
    epk = {"kty": "OKP", "crv": "X25519", "x": b64(generate_device_key().public_key().public_bytes_raw())}

    with pytest.raises(LicenceKeyTampered):
        unwrap_content_key(with_header(wrapped, epk=epk), device, bundle_id=BUNDLE, device_id=DEVICE)


@pytest.mark.parametrize("token", ["", "a.b.c.d.e", "not-a-jwe", "a.b.c"])
def test_garbage_is_refused(device, token):
    with pytest.raises((LicenceKeyTampered, LicenceKeyUnsupported)):
        unwrap_content_key(token, device, bundle_id=BUNDLE, device_id=DEVICE)


def test_a_non_string_is_refused(device, wrapped):
    with pytest.raises(LicenceKeyTampered):
        unwrap_content_key(wrapped.encode(), device, bundle_id=BUNDLE, device_id=DEVICE)  # type: ignore[arg-type]


# Wrapping input checks


@pytest.mark.parametrize(
    "jwk",
    [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(Ed25519PrivateKey.generate().public_key().public_bytes_raw()),
        },
        {"kty": "OKP", "crv": "X25519", "x": b64(bytes(31))},
        {"kty": "OKP", "crv": "X25519", "x": b64(bytes(32))},
        {"kty": "OKP", "crv": "X25519"},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "oct", "k": "AAAA"},
        "not a jwk",
    ],
    ids=["ed25519", "short-x", "zero-x", "no-x", "ec", "oct", "string"],
)
def test_wrapping_refuses_a_key_that_is_not_public_x25519(jwk):
    with pytest.raises(InvalidKey):
        wrap_content_key(CONTENT_KEY, jwk, bundle_id=BUNDLE, device_id=DEVICE)  # type: ignore[arg-type]


def test_wrapping_refuses_a_jwk_with_a_private_part(device):
    private_jwk = OKPKey.import_key(device).as_dict(private=True)

    with pytest.raises(InvalidKey):
        wrap_content_key(CONTENT_KEY, private_jwk, bundle_id=BUNDLE, device_id=DEVICE)


@pytest.mark.parametrize("change", [{"use": "sig"}, {"alg": "ECDH-ES"}, {"x5c": ["AA"]}])
def test_wrapping_refuses_a_jwk_meant_for_something_else(device, change):
    with pytest.raises(InvalidKey):
        wrap_content_key(
            CONTENT_KEY, {**device_public_jwk(device), **change}, bundle_id=BUNDLE, device_id=DEVICE
        )


@pytest.mark.parametrize("key", [b"", bytes(16), bytes(33), "k" * 32])
def test_wrapping_refuses_a_content_key_that_is_not_32_bytes(device, key):
    with pytest.raises(ValueError):
        wrap_content_key(key, device_public_jwk(device), bundle_id=BUNDLE, device_id=DEVICE)


@pytest.mark.parametrize(("bundle_id", "device_id"), [("", DEVICE), (BUNDLE, ""), (None, DEVICE)])
def test_wrapping_needs_both_ids(device, bundle_id, device_id):
    with pytest.raises(ValueError):
        wrap_content_key(CONTENT_KEY, device_public_jwk(device), bundle_id=bundle_id, device_id=device_id)


# Device key files


def test_a_saved_key_is_0600_and_loads_back(tmp_path, device):
    old_umask = os.umask(0)
    try:
        path = save_private_key(device, tmp_path / "device.pem")
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key(path)
    assert device_public_jwk(loaded) == device_public_jwk(device)


def test_the_key_file_is_created_0600_in_one_call(tmp_path, device, monkeypatch):
    opened: list[tuple[int, int]] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):
        opened.append((flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    save_private_key(device, tmp_path / "device.pem")

    flags, mode = opened[0]
    assert mode == 0o600
    assert flags & os.O_CREAT and flags & os.O_EXCL


def test_saving_never_overwrites_an_existing_key(tmp_path, device):
    path = save_private_key(device, tmp_path / "device.pem")
    before = path.read_bytes()

    with pytest.raises(FileExistsError):
        save_private_key(generate_device_key(), path)
    assert path.read_bytes() == before


def test_saving_does_not_follow_a_planted_symlink(tmp_path, device):
    target = tmp_path / "elsewhere"
    (tmp_path / "device.pem").symlink_to(target)

    with pytest.raises(FileExistsError):
        save_private_key(device, tmp_path / "device.pem")
    assert not target.exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o602])
def test_loading_refuses_a_key_file_others_can_access(tmp_path, device, mode):
    path = save_private_key(device, tmp_path / "device.pem")
    path.chmod(mode)

    with pytest.raises(InsecureKeyFile):
        load_private_key(path)


def test_loading_refuses_a_symlink(tmp_path, device):
    real = save_private_key(device, tmp_path / "real.pem")
    link = tmp_path / "link.pem"
    link.symlink_to(real)

    with pytest.raises(OSError):
        load_private_key(link)


def test_loading_refuses_a_key_of_another_type(tmp_path):
    path = tmp_path / "ec.pem"
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, pem)
    os.close(fd)

    with pytest.raises(InvalidKey):
        load_private_key(path)


def test_loading_refuses_a_file_that_is_not_a_key(tmp_path):
    path = tmp_path / "junk.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"not a key")
    os.close(fd)

    with pytest.raises(InvalidKey):
        load_private_key(path)
