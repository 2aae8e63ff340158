"""Signing keys: Ed25519 (EdDSA) key files in one folder, one per `kid`.

The newest key signs; every key in the folder verifies, so rotating (adding a newer key)
logs nobody out: tokens signed by the previous key stay valid until they expire, and the
previous key is retired (its file deleted) only after that (`smartcourse keys retire`).
The folder is re-read when it changes, so every process picks up a rotation by itself.

In development (`SMARTCOURSE_ENV=dev`) a key is generated into the data folder on first use
and named `dev-…`; outside development such a key, or an empty folder, stops the server
from starting (identity.errors.UnsafeConfiguration). No key is ever committed.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from identity.errors import UnsafeConfiguration

DEV_PREFIX = "dev-"
SUFFIX = ".pem"
RECHECK_SECONDS = 1.0


def new_kid(dev: bool = False) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{DEV_PREFIX if dev else ''}{stamp}-{secrets.token_hex(3)}"


def _stamp(kid: str) -> str:
    return kid.removeprefix(DEV_PREFIX)


def write_key(folder: Path, kid: str) -> Path:
    """A new private key file, readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    path = folder / f"{kid}{SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return path


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    public: Ed25519PublicKey

    def jwk(self) -> dict[str, Any]:
        raw = self.public.public_bytes(serialization.Encoding.Raw,
                                       serialization.PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA",
                "use": "sig"}


class Keyring:
    """The keys of one folder, re-read when the folder changes."""

    def __init__(self, folder: Path, dev: bool) -> None:
        self.folder = folder
        self.dev = dev
        self._keys: dict[str, SigningKey] = {}
        self._seen: float | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        with self._lock:
            keys = {}
            for path in sorted(self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []:
                private = serialization.load_pem_private_key(path.read_bytes(), password=None)
                if not isinstance(private, Ed25519PrivateKey):
                    raise UnsafeConfiguration(f"{path} is not an Ed25519 private key")
                kid = path.name.removesuffix(SUFFIX)
                keys[kid] = SigningKey(kid, private, private.public_key())
            if not keys:
                raise UnsafeConfiguration(f"no signing key in {self.folder}")
            if not self.dev and any(kid.startswith(DEV_PREFIX) for kid in keys):
                raise UnsafeConfiguration(
                    f"development signing keys in {self.folder}: outside SMARTCOURSE_ENV=dev "
                    "give real keys (smartcourse keys rotate --folder …)")
            self._keys = keys
            self._seen = self.folder.stat().st_mtime
            self._checked = time.monotonic()

    def _fresh(self) -> dict[str, SigningKey]:
        now = time.monotonic()
        if now - self._checked > RECHECK_SECONDS:
            self._checked = now
            try:
                changed = self.folder.stat().st_mtime != self._seen
            except OSError:
                changed = False
            if changed:
                self.reload()
        return self._keys

    @property
    def signing(self) -> SigningKey:
        """The newest key (kids sort by their UTC time stamp)."""
        keys = self._fresh()
        return keys[max(keys, key=_stamp)]

    def verifying(self, kid: str) -> SigningKey | None:
        key = self._fresh().get(kid)
        if key is None and time.monotonic() - self._checked > 0.1:
            self._checked = 0.0  # an unknown kid may be a rotation not seen yet
            key = self._fresh().get(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self._fresh().values()]}


def open_keyring(folder: Path | None, dev: bool, dev_folder: Path) -> Keyring:
    """The keyring a server uses. Outside development the folder must be configured and hold
    real keys; in development a key is generated on first start if none is there."""
    if not dev:
        if folder is None:
            raise UnsafeConfiguration(
                "no signing keys configured: set SMARTCOURSE_JWT_KEYS_DIR to a folder of "
                "Ed25519 keys (or SMARTCOURSE_ENV=dev for local development)")
        return Keyring(folder, dev=False)
    folder = folder or dev_folder
    if not folder.is_dir() or not any(folder.glob(f"*{SUFFIX}")):
        write_key(folder, new_kid(dev=True))
    return Keyring(folder, dev=True)
