"""Before and after photos (table ``photos``). Rows are appended, never changed; the image
files are in the media folder (:mod:`needleplan.storage.media`). Checking input, consent and
roles is the services' job (:mod:`needleplan.services.photos`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from needleplan.domain.photos import Photo, PhotoView
from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import PhotoRow


def to_photo(row: PhotoRow) -> Photo:
    return Photo(
        id=row.id,
        patient_id=row.patient_id,
        appointment_id=row.appointment_id,
        view=PhotoView(row.view),
        taken_at=row.taken_at,
        sha256=row.sha256,
        byte_size=row.byte_size,
        width=row.width,
        height=row.height,
        thumb_sha256=row.thumb_sha256,
        thumb_width=row.thumb_width,
        thumb_height=row.thumb_height,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
    )


class PhotoRepository:
    """Reads and appends photo rows inside one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        patient_id: int,
        appointment_id: int,
        view: PhotoView,
        taken_at: datetime,
        sha256: str,
        byte_size: int,
        size: tuple[int, int],
        thumb_sha256: str,
        thumb_size: tuple[int, int],
        uploaded_by: str,
        uploaded_at: datetime,
    ) -> Photo:
        row = PhotoRow(
            patient_id=patient_id,
            appointment_id=appointment_id,
            view=view.value,
            taken_at=taken_at,
            sha256=sha256,
            byte_size=byte_size,
            width=size[0],
            height=size[1],
            thumb_sha256=thumb_sha256,
            thumb_width=thumb_size[0],
            thumb_height=thumb_size[1],
            uploaded_by=uploaded_by,
            uploaded_at=uploaded_at,
        )
        self.session.add(row)
        self.session.flush()
        return to_photo(row)

    def get(self, patient_id: int, photo_id: int) -> Photo:
        """Her photo ``photo_id``; NotFoundError when there is none (or it is another's)."""
        row = self.session.get(PhotoRow, photo_id)
        if row is None or row.patient_id != patient_id:
            raise NotFoundError(f"patient {patient_id} has no photo {photo_id}")
        return to_photo(row)

    def patient_of(self, photo_id: int) -> int:
        """Whose photo ``photo_id`` is; NotFoundError when there is none."""
        row = self.session.get(PhotoRow, photo_id)
        if row is None:
            raise NotFoundError(f"photo {photo_id} does not exist")
        return row.patient_id

    def of_patient(self, patient_id: int) -> list[Photo]:
        """Her photos, oldest first (by when they were taken, then id)."""
        rows = self.session.scalars(
            select(PhotoRow)
            .where(PhotoRow.patient_id == patient_id)
            .order_by(PhotoRow.taken_at, PhotoRow.id)
        )
        return [to_photo(r) for r in rows]

    def hashes(self) -> set[str]:
        """Every image and thumbnail hash the rows refer to (what a backup must carry)."""
        found: set[str] = set()
        for image, thumb in self.session.execute(select(PhotoRow.sha256, PhotoRow.thumb_sha256)):
            found.update((image, thumb))
        return found
