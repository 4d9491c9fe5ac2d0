"""Contact details as stored: e-mail addresses and phone numbers, validated and normalised.

One validator each, used by every input path (the patient input models, and anything that
stores a way to reach a patient):

* :func:`normalise_email` checks the syntax with ``email-validator`` (no DNS lookup, so it works
  offline and in tests) and returns the normalised form (the domain lower-cased).
* :func:`normalise_phone` parses the number with ``phonenumbers`` (Google's libphonenumber) and
  returns it in E.164 (``+49301234567``). A number needs its country code (``+49 30 ...``):
  the clinic's front desk may serve patients from several countries, and SMS gateways expect
  E.164.

Both raise :class:`ValueError` with the rule, which the pydantic models turn into an
:class:`~needleplan.exceptions.InputError` naming the field and the value.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email


def normalise_email(value: str) -> str:
    """``value`` as a normalised e-mail address, or ValueError naming the rule it breaks."""
    text = value.strip()
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"must be an e-mail address like name@example.org ({exc})") from None
    return str(checked.normalized)


def normalise_phone(value: str) -> str:
    """``value`` as an E.164 phone number, or ValueError naming the rule it breaks."""
    text = value.strip()
    if not text.startswith("+"):
        raise ValueError("must start with + and the country code, e.g. +49 30 1234567")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError(
            "must be a phone number with its country code, e.g. +49 30 1234567"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


__all__ = ["normalise_email", "normalise_phone"]
