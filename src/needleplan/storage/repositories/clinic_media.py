"""Images the clinic shows on its public pages (table ``clinic_media``), by content name.

A name is the SHA-256 hex digest of the bytes and an extension (``.png``, ``.jpg``); adding
bytes already stored is a no-op. Checking the image is the services' job
(:mod:`needleplan.services.clinic_identity`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from needleplan.storage.tables import ClinicMediaRow


@dataclass(frozen=True)
class MediaFile:
    """One stored image: its name, type and bytes."""

    name: str
    content_type: str
    data: bytes


class ClinicMediaRepository:
    """Adds and reads clinic images inside one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, name: str, content_type: str, data: bytes, at: datetime, username: str) -> None:
        if self.session.get(ClinicMediaRow, name) is not None:
            return
        self.session.add(
            ClinicMediaRow(
                name=name,
                content_type=content_type,
                data=base64.b64encode(data).decode("ascii"),
                size=len(data),
                created_at=at,
                username=username,
            )
        )
        self.session.flush()

    def get(self, name: str) -> MediaFile | None:
        row = self.session.get(ClinicMediaRow, name)
        if row is None:
            return None
        return MediaFile(row.name, row.content_type, base64.b64decode(row.data))


__all__ = ["ClinicMediaRepository", "MediaFile"]
