"""Which consent form a ``consent`` portal link is for, and the form signed through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from needleplan.domain.consent_forms import ConsentKind
from needleplan.exceptions import NotFoundError
from needleplan.storage.tables import ConsentLinkRow


@dataclass(frozen=True)
class ConsentLink:
    """A consent link's form: its kind and, once she signed through it, the form and when."""

    link_id: int
    kind: ConsentKind
    form_id: int | None = None
    signed_at: datetime | None = None

    @property
    def used(self) -> bool:
        return self.form_id is not None


def _value(row: ConsentLinkRow) -> ConsentLink:
    return ConsentLink(row.link_id, ConsentKind(row.kind), row.form_id, row.signed_at)


class ConsentLinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, link_id: int, kind: ConsentKind) -> ConsentLink:
        row = ConsentLinkRow(link_id=link_id, kind=kind.value)
        self.session.add(row)
        self.session.flush()
        return _value(row)

    def get(self, link_id: int) -> ConsentLink:
        row = self.session.get(ConsentLinkRow, link_id)
        if row is None:
            raise NotFoundError(f"portal link {link_id} names no consent form")
        return _value(row)

    def claim(self, link_id: int, form_id: int, at: datetime) -> bool:
        """Record ``form_id`` as the signature made through the link, unless one was already
        (one conditional UPDATE, so two signatures racing through one link cannot both win)."""
        done = self.session.execute(
            update(ConsentLinkRow)
            .where(ConsentLinkRow.link_id == link_id, ConsentLinkRow.form_id.is_(None))
            .values(form_id=form_id, signed_at=at)
        )
        return bool(getattr(done, "rowcount", 0))
