"""The device key file: created 0600 on first start, refused when corrupt or too open."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from camaudit.errors import CamauditError, JournalError
from camaudit.store.keys import DeviceKeyError, load_or_create_key


def test_created_with_mode_0600_in_new_parent_dirs(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "device.key"
    old = os.umask(0)  # even with a permissive umask the key is never group/other-readable
    try:
        key = load_or_create_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key.public_bytes) == 32
    assert key.public_hex == key.public_bytes.hex()
    assert [p.name for p in path.parent.iterdir()] == ["device.key"]  # no temp file left


def test_signs_verifiably_and_reloads_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    key = load_or_create_key(path)
    sig = key.sign(b"abc")
    Ed25519PublicKey.from_public_bytes(key.public_bytes).verify(sig, b"abc")
    again = load_or_create_key(path)
    assert again.public_bytes == key.public_bytes


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_loose_permissions_refused_with_chmod_hint(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "device.key"
    load_or_create_key(path)
    path.chmod(mode)
    with pytest.raises(DeviceKeyError, match=f"chmod 600 {path}"):
        load_or_create_key(path)


def test_corrupt_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    path.chmod(0o600)
    with pytest.raises(DeviceKeyError, match="corrupt"):
        load_or_create_key(path)
    # it is a JournalError, hence a CamauditError the CLI turns into one line
    assert issubclass(DeviceKeyError, JournalError)
    assert issubclass(DeviceKeyError, CamauditError)


def test_non_ed25519_key_refused(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    with pytest.raises(DeviceKeyError, match="not an Ed25519 key"):
        load_or_create_key(path)
