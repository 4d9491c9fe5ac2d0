"""Secrets handed to a person or a program once and stored only as a digest (tokens, sessions)."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(nbytes: int = 32) -> str:
    """A fresh random URL-safe secret of ``nbytes`` random bytes (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def secret_digest(secret: str) -> str:
    """The SHA-256 hex digest stored in place of ``secret`` (tokens are random, so no salt)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
