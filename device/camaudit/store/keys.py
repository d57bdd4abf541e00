"""The device's Ed25519 signing key: created on first start, kept in a 0600 PEM file."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from camaudit.errors import JournalError

log = logging.getLogger(__name__)


class DeviceKeyError(JournalError):
    """The device key file is unreadable, corrupt, not Ed25519, or not private enough."""


class DeviceKey:
    """An Ed25519 private key that signs event hashes."""

    def __init__(self, private_key: object, path: Path | None = None) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("DeviceKey needs an Ed25519PrivateKey")
        self._key = private_key
        self.path = path
        self.public_bytes: bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_hex: str = self.public_bytes.hex()

    @classmethod
    def generate(cls) -> DeviceKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate())

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    @property
    def private_key(self) -> object:
        """The cryptography Ed25519PrivateKey (trust.pdf_sign derives the report
        certificates from it)."""
        return self._key

    def pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"DeviceKey(public={self.public_hex[:16]}..., path={self.path})"


def load_or_create_key(path: Path) -> DeviceKey:
    """Load the device key at `path`, or create it (mode 0600, parent dirs too) if absent."""
    path = Path(path)
    if not path.exists():
        _create(path)
    return _load(path)


def load_key(path: Path) -> DeviceKey:
    """Load the existing device key at `path` (DeviceKeyError if absent: never creates)."""
    return _load(Path(path))


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = DeviceKey.generate()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # O_EXCL + mode 0600 at creation: the secret is never readable by others, not even
    # briefly; link() publishes it atomically and never overwrites a key made meanwhile.
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise DeviceKeyError(f"device key {path}: cannot create: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.pem())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another process created it first: use theirs
        except OSError as exc:
            raise DeviceKeyError(f"device key {path}: cannot create: {exc.strerror}") from None
        _fsync_dir(path.parent)
        log.info("created device key %s (public %s)", path, key.public_hex)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _load(path: Path) -> DeviceKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        st = path.stat()
    except OSError as exc:
        raise DeviceKeyError(f"device key {path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise DeviceKeyError(f"device key {path}: not a regular file")
    if st.st_mode & 0o077:
        raise DeviceKeyError(
            f"device key {path}: mode {stat.S_IMODE(st.st_mode):04o} lets group/others access "
            f"the private key; run `chmod 600 {path}`"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeviceKeyError(f"device key {path}: cannot read: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise DeviceKeyError(
            f"device key {path}: corrupt or not an unencrypted PEM private key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DeviceKeyError(f"device key {path}: not an Ed25519 key")
    return DeviceKey(key, path)
