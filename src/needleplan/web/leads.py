"""Contact requests ("leads") from the public estimator, stored only with explicit consent.

The estimator itself stores nothing. When a visitor asks to be contacted, :func:`make_lead`
validates the form; without the consent box ticked it raises :class:`InputError` and nothing is
stored. The web app talks to a :class:`LeadStore`; the storage layer provides the database one,
:class:`InMemoryLeadStore` serves tests and a database-less development server.
"""

from __future__ import annotations

import re
import secrets
import threading
from datetime import UTC, datetime
from typing import Protocol

from needleplan import i18n
from needleplan.domain.language import N_
from needleplan.domain.records import Lead
from needleplan.exceptions import FieldProblem, InputError

CONSENT_TEXT = N_(
    "I agree that the clinic stores my name, contact details and these answers to contact me "
    "about treatment. I can ask for them to be deleted at any time."
)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,63}$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,24}$")
NAME_MAX = 100  # the rules below say these numbers
MESSAGE_MAX = 1000


class LeadStore(Protocol):
    def add_lead(self, lead: Lead) -> None:
        """Store one lead (a consented contact request)."""
        ...

    def list_leads(self) -> list[Lead]:
        """Every stored lead, oldest first."""
        ...


class InMemoryLeadStore:
    def __init__(self) -> None:
        self._leads: list[Lead] = []
        self._lock = threading.Lock()

    def add_lead(self, lead: Lead) -> None:
        with self._lock:
            self._leads.append(lead)

    def list_leads(self) -> list[Lead]:
        with self._lock:
            return list(self._leads)


def make_lead(
    *,
    name: str,
    email: str,
    phone: str,
    message: str,
    estimate_summary: str,
    consent: bool,
    now: datetime | None = None,
    language: str = "en",
) -> Lead:
    """Validate a contact request; raise :class:`InputError` naming every bad field.

    The rules are English and marked for translation (the page shows them in her language);
    the consent text stored is the one she read, in ``language``.
    """
    problems: list[FieldProblem] = []
    name, email, phone = name.strip(), email.strip(), phone.strip()
    message, estimate_summary = message.strip(), estimate_summary.strip()
    if not consent:
        problems.append(
            FieldProblem(
                "consent",
                False,
                N_("tick the consent box so we may store your details; without it nothing is kept"),
            )
        )
    if not name or len(name) > NAME_MAX:
        problems.append(FieldProblem("name", name, N_("your name, 1-100 characters")))
    if not email and not phone:
        problems.append(
            FieldProblem("email", email, N_("give an e-mail address or a phone number"))
        )
    if email and not _EMAIL.match(email):
        problems.append(FieldProblem("email", email, N_("an e-mail address like name@example.org")))
    if phone and not _PHONE.match(phone):
        problems.append(
            FieldProblem("phone", phone, N_("digits, spaces and + ( ) - only, 6-24 long"))
        )
    if len(message) > MESSAGE_MAX:
        problems.append(FieldProblem("message", "…", N_("at most 1000 characters")))
    if len(estimate_summary) > 2000:
        estimate_summary = estimate_summary[:2000]
    if problems:
        raise InputError(problems, source="contact request")
    return Lead(
        public_id=secrets.token_hex(8),
        name=name,
        email=email,
        phone=phone,
        message=message,
        estimate_summary=estimate_summary,
        consent_text=i18n.gettext(language, CONSENT_TEXT),
        consented_at=now or datetime.now(UTC),
        language=language,
    )
