"""Records added in issue 14's second round: which consent form a portal link is for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from needleplan.storage.tables._base import Base


class ConsentLinkRow(Base):
    """The consent form a ``consent`` portal link lets her sign (services/consent_links.py).

    One row per link, written with the link: ``kind`` is the form's kind (treatment or photo).
    ``form_id`` is set, once, by the signature made through the link (one signature per link;
    the unique constraint keeps a form from being claimed by two links).
    """

    __tablename__ = "consent_links"

    link_id: Mapped[int] = mapped_column(ForeignKey("portal_links.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    form_id: Mapped[int | None] = mapped_column(ForeignKey("consent_forms.id"), unique=True)
    signed_at: Mapped[datetime | None]
