"""Online booking: her held requests and the digests of the confirmation links sent to her
(services/online_booking.py, docs/online-booking.md)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from needleplan.storage.tables._base import Base


class OnlineBookingRow(Base):
    """A consultation she booked on the public page: ``held`` (its slot claimed in
    ``slot_claims`` under ``hold_id`` until ``hold_until``), then ``confirmed`` (the patient and
    the appointment it made) or ``expired`` (the hold ran out; its claims were deleted)."""

    __tablename__ = "online_bookings"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        Index("ix_online_bookings_status_hold_until", "status", "hold_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    hold_until: Mapped[datetime]
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    email: Mapped[str] = mapped_column(String(200), index=True)
    phone: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8))
    consent_marketing: Mapped[bool] = mapped_column(Boolean)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), unique=True)
    confirmed_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]


class OnlineBookingLinkRow(Base):
    """The SHA-256 digest of one confirmation link (one per sending attempt; the token itself
    is only in the e-mail)."""

    __tablename__ = "online_booking_links"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("online_bookings.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime]
