"""Encrypted backup files: AES-256-GCM with a key file or a passphrase (scrypt).

An encrypted backup is the gzip-compressed JSON snapshot (:mod:`needleplan.storage.backup`)
sealed whole, behind a small header::

    b"NPBACKUP-AEAD\\n"  1 byte format version (1)  1 byte kind (1 key file, 2 passphrase)
    kind 2 only: 16 bytes scrypt salt, 1 byte log2(N), 1 byte r, 1 byte p
    12 bytes nonce, then the AES-256-GCM ciphertext and its 16-byte tag

The header is authenticated too (the associated data), so a changed byte anywhere, a wrong key
file or a wrong passphrase all give the same one error: :class:`InputError` on the field ``key``
("does not open this backup"), which the CLI turns into exit code 2.

- **Key file** (:func:`write_key_file` makes one, 0600): 32 random bytes as base64; the AES key
  is derived with HKDF-SHA256. Any file of 16 characters or more works (a key kept elsewhere).
- **Passphrase**: scrypt (N = 2^15, r = 8, p = 1, a random salt per file) into the AES key; at
  least 12 characters.
"""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from needleplan.exceptions import InputError
from needleplan.private_files import private_parent

MAGIC = b"NPBACKUP-AEAD\n"
VERSION = 1
KIND_KEY_FILE, KIND_PASSPHRASE = 1, 2
SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P = 15, 8, 1
PASSPHRASE_MIN = 12
KEY_MIN = 16
_NONCE, _SALT = 12, 16


@dataclass(frozen=True)
class BackupKey:
    """What opens (and seals) backups: the material of a key file, or a passphrase."""

    material: str
    kind: int
    where: str  # the option it came from, named in errors

    @classmethod
    def from_key_file(cls, path: str | Path) -> BackupKey:
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not text"
            raise InputError.one("key_file", str(source), f"cannot be read ({reason})") from None
        if len(text) < KEY_MIN:
            raise InputError.one(
                "key_file", str(source), f"must hold at least {KEY_MIN} characters of key"
            )
        return cls(text, KIND_KEY_FILE, "key_file")

    @classmethod
    def from_passphrase(cls, passphrase: str, where: str = "passphrase") -> BackupKey:
        value = passphrase.rstrip("\r\n")
        if len(value) < PASSPHRASE_MIN:
            raise InputError.one(where, "<hidden>", f"must be at least {PASSPHRASE_MIN} characters")
        return cls(value, KIND_PASSPHRASE, where)

    @classmethod
    def from_passphrase_file(cls, path: str | Path) -> BackupKey:
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not text"
            raise InputError.one(
                "passphrase_file", str(source), f"cannot be read ({reason})"
            ) from None
        return cls.from_passphrase(text.splitlines()[0] if text else "", "passphrase_file")


def write_key_file(path: str | Path) -> Path:
    """A new key file (32 random bytes as base64), created 0600; never overwrites one."""
    target = private_parent(path)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError.one("key_file", str(target), "already exists; never overwritten") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(os.urandom(32)).decode("ascii") + "\n")
    return target


def is_encrypted(raw: bytes) -> bool:
    return raw.startswith(MAGIC)


def _aes_key(key: BackupKey, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if key.kind == KIND_PASSPHRASE:
        return Scrypt(salt=salt, length=32, n=2**log_n, r=r, p=p).derive(key.material.encode())
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"needleplan backup v1")
    return hkdf.derive(key.material.encode())


def encrypt(payload: bytes, key: BackupKey) -> bytes:
    """``payload`` sealed with ``key`` behind the header (see the module)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = MAGIC + bytes([VERSION, key.kind])
    salt = b""
    if key.kind == KIND_PASSPHRASE:
        salt = os.urandom(_SALT)
        header += salt + bytes([SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P])
    nonce = os.urandom(_NONCE)
    header += nonce
    aes = AESGCM(_aes_key(key, salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P))
    return header + aes.encrypt(nonce, payload, header)


def decrypt(raw: bytes, key: BackupKey | None, source: str) -> bytes:
    """The payload of an encrypted backup ``raw`` (read from ``source``); InputError when no
    key is given, the file is cut short, or the key does not open it."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if key is None:
        raise InputError.one(
            "file", source, "is an encrypted backup: give --key-file or --passphrase-file"
        )
    at = len(MAGIC)
    try:
        version, kind = raw[at], raw[at + 1]
        at += 2
        salt, log_n, r, p = b"", SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P
        if kind == KIND_PASSPHRASE:
            salt = raw[at : at + _SALT]
            log_n, r, p = struct.unpack("BBB", raw[at + _SALT : at + _SALT + 3])
            at += _SALT + 3
        nonce = raw[at : at + _NONCE]
        at += _NONCE
    except (IndexError, struct.error):
        raise InputError.one("file", source, "is an encrypted backup cut short") from None
    if version != VERSION or kind not in (KIND_KEY_FILE, KIND_PASSPHRASE) or len(nonce) < _NONCE:
        raise InputError.one(
            "file", source, f"is an encrypted backup of an unknown format {version}"
        )
    if kind != key.kind:
        needs = "--passphrase-file" if kind == KIND_PASSPHRASE else "--key-file"
        raise InputError.one(key.where, "<hidden>", f"does not open this backup: it needs {needs}")
    if not (10 <= log_n <= 22 and 1 <= r <= 32 and 1 <= p <= 16):
        raise InputError.one("file", source, "names scrypt costs outside the accepted range")
    try:
        return AESGCM(_aes_key(key, salt, log_n, r, p)).decrypt(nonce, raw[at:], raw[:at])
    except (InvalidTag, ValueError):
        raise InputError.one(
            key.where,
            "<hidden>",
            "does not open this backup (a wrong key or passphrase, or the file was altered)",
        ) from None


__all__ = [
    "MAGIC",
    "BackupKey",
    "decrypt",
    "encrypt",
    "is_encrypted",
    "write_key_file",
]
