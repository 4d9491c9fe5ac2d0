"""The clinic's own message templates: per kind and language, validated, versioned, previewed.

An admin may replace the shipped template of a message kind (docs/messages.md, "The clinic's
own templates") with her own subject, text, optional HTML and optional SMS text, in one of the
clinic's languages. Each is a Jinja template with placeholders such as
``{{ patient.given_name }}`` or ``{% for v in visits %}{{ v.when }}{% endfor %}``, rendered in a
sandbox (no attribute of Python objects beyond the values given), so a template can do no harm.

Saving validates first: a template that does not parse, that uses a placeholder the kind does
not have (the placeholder is named), or that does not render for the sample patient is refused;
outreach (recall, survey) must keep its unsubscribe link. Every save is a new version; reverting
writes a version that puts the shipped template back. The worker renders a message with the
newest version for its kind and her language when it is the clinic's own
(:func:`custom_texts`), else with the shipped template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from needleplan.domain.accounts import User
from needleplan.domain.integrations import MessageTemplate
from needleplan.domain.messages import MessageKind
from needleplan.exceptions import FieldProblem, InputError
from needleplan.scheduling import ClinicConfig
from needleplan.services._clock import aware, utc_now
from needleplan.services.audit import audited
from needleplan.services.messaging.texts import render_texts, template_name
from needleplan.storage import Database, UnitOfWork

#: The kinds a clinic may word itself (a recall nudge uses the recall template).
EDITABLE_KINDS: tuple[MessageKind, ...] = (
    MessageKind.COURSE_BOOKED,
    MessageKind.VISIT_BOOKED,
    MessageKind.DATES_CHANGED,
    MessageKind.VISIT_CANCELLED,
    MessageKind.REMINDER,
    MessageKind.RECALL,
    MessageKind.SURVEY,
    MessageKind.CONTACT_ACK,
)

FIELD_MAX = {"subject": 400, "text": 20_000, "html": 50_000, "sms": 1_000}

_VISITS = [
    {"when": "Monday 2 September 2030, 10:00", "day": "Monday 2 September", "practitioner": "Dr A"},
    {"when": "Monday 7 October 2030, 10:00", "day": "Monday 7 October", "practitioner": ""},
]


def sample_context(kind: MessageKind, clinic: ClinicConfig, language: str) -> dict[str, Any]:
    """The values a template of ``kind`` gets, for a sample patient (the preview and the
    check); the keys are the placeholders the kind has."""
    context: dict[str, Any] = {
        "lang": language,
        "clinic": {"name": clinic.name, "location": clinic.location},
    }
    if kind is MessageKind.CONTACT_ACK:
        context["name"] = "Anna Beispiel"
        return context
    context["patient"] = {"given_name": "Anna"}
    if kind in (
        MessageKind.COURSE_BOOKED,
        MessageKind.VISIT_BOOKED,
        MessageKind.DATES_CHANGED,
        MessageKind.VISIT_CANCELLED,
        MessageKind.REMINDER,
    ):
        context["visits"] = _VISITS[:1] if kind is MessageKind.REMINDER else _VISITS
        context["portal_url"] = "[[portal-link]]"
        context["has_ics"] = kind in (MessageKind.COURSE_BOOKED, MessageKind.DATES_CHANGED)
    if kind.is_outreach:
        context["unsubscribe_url"] = f"[[unsubscribe-link]]?lang={language}"
    if kind.is_recall:
        context["due"] = "2 March 2031"
        context["book_url"] = "[[book-link]]"
        context["nudge"] = False
    if kind is MessageKind.SURVEY:
        context["session_day"] = "3 June 2030"
        context["survey_url"] = "[[survey-link]]"
    return context


def _shipped(context: dict[str, Any]) -> dict[str, Any]:
    """``context`` with the values every shipped template reads (links it has not: None)."""
    return {
        "unsubscribe_url": None,
        "portal_url": None,
        "book_url": None,
        "survey_url": None,
        "nudge": False,
        "has_ics": False,
        **context,
    }


@cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    plain = ImmutableSandboxedEnvironment(
        autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    html = ImmutableSandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)
    return plain, html


@dataclass(frozen=True)
class Texts:
    """One message as rendered: subject, text, HTML ("" for none) and SMS text."""

    subject: str
    text: str
    html: str
    sms: str


def _render_part(field: str, source: str, context: dict[str, Any], allowed: set[str]) -> str:
    env = _environments()[1 if field == "html" else 0]
    try:
        parsed = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError.one(
            field, f"line {exc.lineno}", f"does not parse: {exc.message}"
        ) from None
    unknown = sorted(meta.find_undeclared_variables(parsed) - allowed)
    if unknown:
        raise InputError.one(
            field,
            unknown[0],
            "is not a placeholder of this message; it has: " + ", ".join(sorted(allowed)),
        )
    try:
        return env.from_string(source).render(context)
    except jinja2.UndefinedError as exc:
        raise InputError.one(field, str(exc.message)[:120], "does not render") from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise InputError.one(field, str(exc)[:120], "does not render") from None


def render_custom(
    template: MessageTemplate | dict[str, str], kind: MessageKind, context: dict[str, Any]
) -> Texts:
    """``template`` filled with ``context`` (an InputError naming the field and placeholder
    when it does not render). Empty SMS text: the shipped SMS text."""
    parts = (
        {
            "subject": template.subject,
            "text": template.text,
            "html": template.html,
            "sms": template.sms,
        }
        if isinstance(template, MessageTemplate)
        else template
    )
    allowed = set(context)
    subject = _render_part("subject", parts.get("subject", ""), context, allowed).strip()
    text = _render_part("text", parts.get("text", ""), context, allowed).strip() + "\n"
    html = _render_part("html", parts.get("html", ""), context, allowed).strip()
    sms = _render_part("sms", parts.get("sms", ""), context, allowed).strip()
    if not sms:
        sms = render_texts(kind, _shipped(context))[2]
    return Texts(subject, text, html, sms)


def check_template(
    kind: MessageKind, parts: dict[str, str], clinic: ClinicConfig, language: str
) -> Texts:
    """Validate a template before it is saved; returns its preview for the sample patient."""
    problems: list[FieldProblem] = []
    for field, limit in FIELD_MAX.items():
        if len(parts.get(field, "")) > limit:
            problems.append(FieldProblem(field, len(parts[field]), f"at most {limit} characters"))
    for field in ("subject", "text"):
        if not parts.get(field, "").strip():
            problems.append(FieldProblem(field, "", "must not be empty"))
    if kind.is_outreach and "unsubscribe_url" not in parts.get("text", ""):
        problems.append(
            FieldProblem("text", "unsubscribe_url", "must include {{ unsubscribe_url }}")
        )
    if problems:
        raise InputError(problems)
    return render_custom(parts, kind, sample_context(kind, clinic, language))


def editable_kind(kind: str) -> MessageKind:
    try:
        parsed = MessageKind(kind)
    except ValueError:
        parsed = None
    if parsed not in EDITABLE_KINDS:
        raise InputError.one(
            "kind", kind[:40], "must be one of " + ", ".join(k.value for k in EDITABLE_KINDS)
        )
    assert parsed is not None
    return parsed


def _language(clinic: ClinicConfig, language: str) -> str:
    if language not in clinic.languages:
        raise InputError.one(
            "language", language[:16], "must be one of " + ", ".join(clinic.languages)
        )
    return language


def shipped_preview(kind: MessageKind, clinic: ClinicConfig, language: str) -> Texts:
    """The shipped template of ``kind`` for the sample patient."""
    subject, text, sms, html = render_texts(kind, _shipped(sample_context(kind, clinic, language)))
    return Texts(subject, text, html, sms)


def versions(
    db: Database, actor: User | None, kind: MessageKind, language: str
) -> list[MessageTemplate]:
    """Every saved version of ``kind`` in ``language``, newest first (admins)."""
    with (
        audited(db, actor, "message.template.read", detail=f"{kind.value} {language}"),
        db.transaction() as uow,
    ):
        return uow.message_templates.versions(template_name(kind), language)


def customised(db: Database) -> set[tuple[str, str]]:
    """The (kind, language) pairs the clinic words itself now."""
    with db.transaction() as uow:
        return uow.message_templates.customised()


def save_template(
    db: Database,
    actor: User | None,
    kind: MessageKind,
    language: str,
    parts: dict[str, str],
    clinic: ClinicConfig,
    *,
    now: datetime | None = None,
) -> MessageTemplate:
    """Validate and store ``parts`` as the next version (audited ``message.template.save``)."""
    lang = _language(clinic, language)
    check_template(kind, parts, clinic, lang)
    at = aware(now, "now") if now is not None else utc_now()
    by = actor.username if actor is not None else "system"
    with (
        audited(db, actor, "message.template.save") as note,
        db.transaction() as uow,
    ):
        saved = uow.message_templates.add(
            template_name(kind),
            lang,
            at,
            by[:40],
            subject=parts.get("subject", ""),
            text=parts.get("text", ""),
            html=parts.get("html", ""),
            sms=parts.get("sms", ""),
        )
        note.detail = f"{kind.value} {lang} version {saved.version}"
        return saved


def revert_template(
    db: Database,
    actor: User | None,
    kind: MessageKind,
    language: str,
    clinic: ClinicConfig,
    *,
    now: datetime | None = None,
) -> MessageTemplate:
    """Put the shipped template back in force (a new version; the old ones are kept)."""
    lang = _language(clinic, language)
    at = aware(now, "now") if now is not None else utc_now()
    by = actor.username if actor is not None else "system"
    with (
        audited(db, actor, "message.template.revert") as note,
        db.transaction() as uow,
    ):
        saved = uow.message_templates.add(template_name(kind), lang, at, by[:40], is_default=True)
        note.detail = f"{kind.value} {lang} version {saved.version} (shipped template)"
        return saved


def custom_texts(
    uow: UnitOfWork, kind: MessageKind, context: dict[str, Any]
) -> tuple[str, str, str, str] | None:
    """``(subject, text, sms, html)`` from the clinic's template in force for ``kind`` in the
    context's language, or None when the shipped template applies."""
    language = str(context.get("lang") or "en")
    template = uow.message_templates.current(template_name(kind), language)
    if template is None:
        return None
    texts = render_custom(template, kind, context)
    return texts.subject, texts.text, texts.sms, texts.html


__all__ = [
    "EDITABLE_KINDS",
    "Texts",
    "check_template",
    "custom_texts",
    "customised",
    "editable_kind",
    "render_custom",
    "revert_template",
    "sample_context",
    "save_template",
    "shipped_preview",
    "versions",
]
