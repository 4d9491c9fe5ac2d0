"""The server's secret key, and sealing short secrets with it (AES-256-GCM).

Stored secrets the server must read back in clear (the TOTP secret of a two-factor account, a
webhook endpoint's signing secret) are kept *sealed*: ``v1:`` followed by the URL-safe base64 of a 12-byte random nonce and the
AES-256-GCM ciphertext with its tag. The associated data names the place the value belongs to
(``account_security.totp_secret:7``), so a sealed value copied to another account or column does
not open.

Where the key comes from (:func:`server_key`), first match wins:

1. ``NEEDLEPLAN_SECRET_KEY_FILE``: a file holding the key material;
2. ``NEEDLEPLAN_SECRET_KEY``: the web app's secret (it also signs cookies, docs/deploy.md);
3. ``secret.key`` in the data folder: beside the SQLite database file, else (PostgreSQL, an
   in-memory database) in the user data folder the default database lives in. It is created
   with 32 new random bytes (base64; mode 0600, folders 0700) the first time a secret is sealed.

The material (16 characters or more) is stretched into the AES key with HKDF-SHA256, so any
strong secret will do. Changing it (a new ``NEEDLEPLAN_SECRET_KEY`` included) leaves the sealed
secrets unreadable: those accounts then need ``needleplan user 2fa-reset``, and those webhook
endpoints registering again with a new secret.

Keep the key out of the backups and beside them: a backup restored on a server with another key
still restores, but the two-factor secrets in it no longer open (those accounts then need
``needleplan user 2fa-reset``).
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from needleplan.exceptions import InputError, StateError
from needleplan.private_files import private_parent
from needleplan.storage.engine import default_database_path

ENV_KEY = "NEEDLEPLAN_SECRET_KEY"
ENV_KEY_FILE = "NEEDLEPLAN_SECRET_KEY_FILE"
KEY_FILENAME = "secret.key"
PREFIX = "v1:"
MIN_MATERIAL = 16
_NONCE = 12
_LOCK = threading.Lock()


def new_key() -> str:
    """New random key material (32 bytes as URL-safe base64), as a key file holds it."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def derive_key(material: str, where: str) -> bytes:
    """The 32-byte AES key from ``material`` (HKDF-SHA256), else an InputError naming
    ``where`` when the material is shorter than 16 characters."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    value = material.strip()
    if len(value) < MIN_MATERIAL:
        raise InputError.one(
            where,
            "<hidden>",
            f"must hold at least {MIN_MATERIAL} characters of random key material "
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')",
        )
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"needleplan sealing v1")
    return hkdf.derive(value.encode("utf-8"))


def key_file(engine: Engine | None = None) -> Path:
    """The key file: ``NEEDLEPLAN_SECRET_KEY_FILE`` or the data folder's (see the module)."""
    configured = os.environ.get(ENV_KEY_FILE, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    if engine is not None and engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            return Path(database).expanduser().resolve().parent / KEY_FILENAME
    return default_database_path().parent / KEY_FILENAME


def server_key(engine: Engine | None = None, *, create: bool = True) -> bytes:
    """The server's key (see the module); the key file is made on first use when ``create``."""
    inline = os.environ.get(ENV_KEY, "").strip()
    if inline and not os.environ.get(ENV_KEY_FILE, "").strip():
        return derive_key(inline, ENV_KEY)
    path = key_file(engine)
    with _LOCK:
        if not path.exists():
            if not create:
                raise StateError(f"no secret key: set {ENV_KEY} or create {path}")
            private_parent(path)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # made meanwhile by another process
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(new_key() + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError.one(ENV_KEY_FILE, str(path), f"cannot be read ({exc})") from None
    return derive_key(text, str(path))


class LazyKey:
    """The server's key for the database behind ``session``, read (or its file made) the first
    time a repository seals or opens a value, then kept for the repository's life."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._key: bytes | None = None

    def __call__(self) -> bytes:
        if self._key is None:
            self._key = server_key(self.session.get_bind().engine)
        return self._key


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def seal(key: bytes, plaintext: str, context: str) -> str:
    """``plaintext`` sealed with ``key`` for the place ``context`` (see the module)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


#: What to do about a sealed value the key cannot open, unless the caller names another remedy.
TOTP_REMEDY = "reset the account's two-factor sign-in (needleplan user 2fa-reset)"


def unseal(key: bytes, value: str, context: str, *, remedy: str = TOTP_REMEDY) -> str:
    """The plaintext of a sealed ``value`` (a value written before sealing existed is returned
    as it is). StateError when the key does not open it; its message ends with ``remedy``."""
    if not is_sealed(value):
        return value
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.urlsafe_b64decode(value[len(PREFIX) :].encode("ascii"))
        plain = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], context.encode("utf-8"))
    except (InvalidTag, ValueError, binascii.Error):
        raise StateError(
            f"the sealed {context.split(':')[0]} cannot be opened with this server's secret key "
            f"({ENV_KEY_FILE}, {ENV_KEY} or secret.key): was the key changed or lost? Restore "
            f"the key it was sealed with, or {remedy}"
        ) from None
    return plain.decode("utf-8")


__all__ = [
    "ENV_KEY",
    "ENV_KEY_FILE",
    "KEY_FILENAME",
    "TOTP_REMEDY",
    "LazyKey",
    "derive_key",
    "is_sealed",
    "key_file",
    "new_key",
    "seal",
    "server_key",
    "unseal",
]
