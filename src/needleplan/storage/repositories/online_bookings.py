"""Online bookings: held requests, their slot claims and their confirmation-link digests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from needleplan.domain.online_booking import (
    OnlineBooking,
    OnlineBookingForm,
    OnlineBookingStatus,
)
from needleplan.domain.records import SlotRequest
from needleplan.exceptions import ConflictError, NotFoundError
from needleplan.storage.repositories._common import slot_starts
from needleplan.storage.tables import (
    OnlineBookingLinkRow,
    OnlineBookingRow,
    OutboxRow,
    PatientRow,
    SlotClaimRow,
)


def _booking(row: OnlineBookingRow) -> OnlineBooking:
    return OnlineBooking(
        id=row.id,
        status=OnlineBookingStatus(row.status),
        created_at=row.created_at,
        hold_until=row.hold_until,
        practitioner_id=row.practitioner_id,
        start=row.start_at,
        end=row.end_at,
        given_name=row.given_name,
        family_name=row.family_name,
        birth_date=row.birth_date,
        email=row.email,
        phone=row.phone,
        language=row.language,
        consent_marketing=row.consent_marketing,
        patient_id=row.patient_id,
        appointment_id=row.appointment_id,
        confirmed_at=row.confirmed_at,
        released_at=row.released_at,
    )


class OnlineBookingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def hold(
        self,
        form: OnlineBookingForm,
        slot: SlotRequest,
        language: str,
        at: datetime,
        hold_until: datetime,
    ) -> OnlineBooking:
        """Store her request and claim its slot (``ConflictError`` when any of it is taken:
        by a visit, another hold, or a race the primary key of ``slot_claims`` decides)."""
        wanted = slot_starts(slot.start, slot.end)
        taken = self.session.execute(
            select(SlotClaimRow.slot_start)
            .where(
                SlotClaimRow.practitioner_id == slot.practitioner_id,
                SlotClaimRow.slot_start.in_(wanted),
            )
            .limit(1)
        ).scalar()
        if taken is not None:
            raise ConflictError("the time is no longer free")
        row = OnlineBookingRow(
            status=OnlineBookingStatus.HELD.value,
            created_at=at,
            hold_until=hold_until,
            practitioner_id=slot.practitioner_id,
            start_at=slot.start,
            end_at=slot.end,
            given_name=form.given_name,
            family_name=form.family_name,
            birth_date=form.birth_date,
            email=form.email,
            phone=form.phone,
            language=language,
            consent_marketing=form.consent_marketing,
        )
        self.session.add(row)
        self.session.flush()
        try:
            self.session.execute(
                insert(SlotClaimRow),
                [
                    {"practitioner_id": slot.practitioner_id, "slot_start": s, "hold_id": row.id}
                    for s in wanted
                ],
            )
        except IntegrityError as exc:
            if "slot_claims" in str(exc.orig):
                raise ConflictError("the time was taken by someone else a moment ago") from None
            raise
        return _booking(row)

    def get(self, booking_id: int, *, lock: bool = False) -> OnlineBooking:
        return _booking(self._row(booking_id, lock=lock))

    def _row(self, booking_id: int, *, lock: bool = False) -> OnlineBookingRow:
        stmt = select(OnlineBookingRow).where(OnlineBookingRow.id == booking_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).first()
        if row is None:
            raise NotFoundError(f"online booking {booking_id} not found")
        return row

    def add_link(self, digest: str, booking_id: int, at: datetime, message_id: int | None) -> None:
        self.session.add(
            OnlineBookingLinkRow(
                token_digest=digest, booking_id=booking_id, message_id=message_id, created_at=at
            )
        )
        self.session.flush()

    def by_digest(self, digest: str) -> OnlineBooking | None:
        booking_id = self.session.scalar(
            select(OnlineBookingLinkRow.booking_id).where(
                OnlineBookingLinkRow.token_digest == digest
            )
        )
        return None if booking_id is None else self.get(booking_id)

    def release_claims(self, booking_id: int) -> None:
        """Delete the slot claims the hold keeps (before its visit claims them, or on expiry)."""
        self.session.execute(delete(SlotClaimRow).where(SlotClaimRow.hold_id == booking_id))

    def confirm(
        self, booking_id: int, patient_id: int, appointment_id: int, at: datetime
    ) -> OnlineBooking:
        row = self._row(booking_id)
        row.status = OnlineBookingStatus.CONFIRMED.value
        row.patient_id, row.appointment_id, row.confirmed_at = patient_id, appointment_id, at
        self.session.flush()
        return _booking(row)

    def has_expired(self, now: datetime) -> bool:
        """Whether any hold ran out by ``now`` (a cheap check before the worker's release)."""
        return (
            self.session.scalar(
                select(OnlineBookingRow.id)
                .where(
                    OnlineBookingRow.status == OnlineBookingStatus.HELD.value,
                    OnlineBookingRow.hold_until <= now,
                )
                .limit(1)
            )
            is not None
        )

    def expire_due(self, now: datetime) -> list[OnlineBooking]:
        """Every hold that ran out by ``now``: marked expired, its claims deleted, and her name
        and contact details blanked, in the request and in the e-mail sent to her (she never
        confirmed; nothing that names her is kept)."""
        rows = list(
            self.session.scalars(
                select(OnlineBookingRow)
                .where(
                    OnlineBookingRow.status == OnlineBookingStatus.HELD.value,
                    OnlineBookingRow.hold_until <= now,
                )
                .order_by(OnlineBookingRow.id)
                .with_for_update(skip_locked=True)
            )
        )
        if not rows:
            return []
        ids = [r.id for r in rows]
        self.session.execute(delete(SlotClaimRow).where(SlotClaimRow.hold_id.in_(ids)))
        self.session.execute(
            update(OnlineBookingRow)
            .where(OnlineBookingRow.id.in_(ids))
            .values(
                status=OnlineBookingStatus.EXPIRED.value,
                released_at=now,
                given_name="",
                family_name="",
                email="",
                phone="",
            )
        )
        sent = select(OnlineBookingLinkRow.message_id).where(
            OnlineBookingLinkRow.booking_id.in_(ids), OnlineBookingLinkRow.message_id.is_not(None)
        )
        self.session.execute(  # the e-mail that went out keeps when and how, not to whom
            update(OutboxRow)
            .where(OutboxRow.id.in_(sent))
            .values(subject=None, body_text=None, body_html=None, recipient=None)
        )
        self.session.flush()
        return [self.get(i) for i in ids]

    def held_between(self, start: datetime, end: datetime) -> list[OnlineBooking]:
        """Held requests whose slot overlaps ``[start, end)`` (their time is taken)."""
        rows = self.session.scalars(
            select(OnlineBookingRow).where(
                OnlineBookingRow.status == OnlineBookingStatus.HELD.value,
                OnlineBookingRow.start_at < end,
                OnlineBookingRow.end_at > start,
            )
        )
        return [_booking(r) for r in rows]

    def booked_online(self, appointment_ids: Iterable[int]) -> set[int]:
        """Which of ``appointment_ids`` were booked on the public page."""
        ids = sorted(set(appointment_ids))
        if not ids:
            return set()
        found = self.session.scalars(
            select(OnlineBookingRow.appointment_id).where(OnlineBookingRow.appointment_id.in_(ids))
        )
        return {i for i in found if i is not None}

    def erase_contact(self, patient_id: int) -> int:
        """Blank the e-mail address and phone number she gave on the booking page (her erasure
        request, docs/record-of-processing.md)."""
        result: Any = self.session.execute(
            update(OnlineBookingRow)
            .where(OnlineBookingRow.patient_id == patient_id)
            .values(email="", phone="")
        )
        return int(result.rowcount or 0)

    def matching_patient(self, email: str, birth_date: date) -> int | None:
        """The one patient with this e-mail address and date of birth (None: none, or more
        than one, which staff must sort out)."""
        ids = list(
            self.session.scalars(
                select(PatientRow.id)
                .where(PatientRow.email == email, PatientRow.birth_date == birth_date)
                .limit(2)
            )
        )
        return ids[0] if len(ids) == 1 else None

    def holder_of(self, practitioner_id: int, starts: list[datetime]) -> OnlineBooking | None:
        """The held request claiming one of ``starts`` of the practitioner, if any."""
        hold_id = self.session.scalar(
            select(SlotClaimRow.hold_id)
            .where(
                SlotClaimRow.practitioner_id == practitioner_id,
                SlotClaimRow.slot_start.in_(starts),
                SlotClaimRow.hold_id.is_not(None),
            )
            .limit(1)
        )
        return None if hold_id is None else self.get(hold_id)


__all__ = ["OnlineBookingRepository"]
