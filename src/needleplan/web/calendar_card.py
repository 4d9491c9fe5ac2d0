"""One appointment as the calendar and the front desk's day list show it, built in Python.

The staff calendar's week of a clinic group holds about a thousand appointments (docs/scale.md);
as a Jinja macro each card cost some forty attribute lookups, twenty escapes and two macro calls,
most of the page's time. These functions write the same markup with one escape per value that
needs one. The templates call them (``_calendar_card.html``'s ``cal_card``, ``calendar.html``,
``_visit_actions.html``), so the markup lives here only.

Each value that comes from a person (names, contact details, notes, the page to come back to)
is escaped; ids are integers and the rest are the application's own words.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jinja2 import pass_context
from markupsafe import Markup, escape

from needleplan.domain.records import Appointment


def visit_actions_html(
    a: Appointment, here: str, clinical: bool, csrf_field: str, csrf_token: str
) -> Markup:
    """The buttons that run a booked or checked-in visit (check in, chart, no-show, cancel)."""
    status = a.status.value
    if status not in ("booked", "arrived"):
        return Markup("")
    hidden = (
        f'<input type="hidden" name="{escape(csrf_field)}" value="{escape(csrf_token)}">'
        f'<input type="hidden" name="next" value="{escape(here)}">'
    )
    parts = [f'<span class="visit-actions" data-visit="{a.id}">']
    if status == "booked":
        parts.append(
            f'<form method="post" action="/app/visits/{a.id}/check-in" class="inline">'
            f'{hidden}<button type="submit" class="link check-in">check in</button></form>'
        )
    if clinical and a.kind.value in ("treatment", "maintenance"):
        parts.append(f'<a href="/app/visits/{a.id}/chart" class="chart">chart</a>')
    if status == "booked":
        parts.append(
            f'<form method="post" action="/app/visits/{a.id}/no-show" class="inline" '
            'data-confirm="Record that the patient did not come?">'
            f'{hidden}<button type="submit" class="link no-show">no-show</button></form>'
        )
    parts.append(
        f'<a href="/app/visits/{a.id}/cancel?next={escape(quote(here, safe="/"))}" '
        'class="cancel">cancel…</a></span>'
    )
    return Markup("\n".join(parts))


def card_html(
    e: Any, here: str, clinical: bool, csrf_field: str, csrf_token: str, place: str = ""
) -> Markup:
    """One appointment card: ``e`` is a :class:`needleplan.web.routes.calendar_common.Entry`;
    ``place`` adds classes (the time grid's row and column)."""
    a: Appointment = e.appointment
    status = a.status
    kind = e.kind
    extra = f" {escape(place)}" if place else ""
    session = escape(e.session_text)
    if e.online:
        session += Markup(' · <span class="badge booked-online">booked online</span>')
    if status.value != "booked":
        session += Markup(' · <em class="cal-status">') + escape(status.label) + Markup("</em>")
    lines = [
        f'<article class="cal-appt cal-{status.value} kind-{kind}{extra}" '
        f'data-appointment="{a.id}" data-kind="{kind}">',
        f'<p class="cal-time">{e.start:%H:%M}–{e.end:%H:%M}</p>',
        f'<p class="cal-patient"><a href="/app/patients/{a.patient_id}" class="patient-link">'
        f"<strong>{escape(e.patient)}</strong></a></p>",
        f'<p class="cal-session">{session}</p>',
        f'<p class="small">{escape(e.practitioner)}</p>',
    ]
    phone, email = e.phone, e.email
    if phone or email:
        contact = []
        if phone:
            contact.append(f'<a href="tel:{escape(phone.replace(" ", ""))}">{escape(phone)}</a>')
        if email:
            contact.append(f'<a href="mailto:{escape(email)}">{escape(email)}</a>')
        lines.append(f'<p class="small cal-contact">{" · ".join(contact)}</p>')
    if clinical and e.note:
        lines.append(f'<p class="small cal-note">{escape(e.note)}</p>')
    if status.is_live:
        actions = ['<div class="cal-actions">']
        if status.value == "booked":
            actions.append(f'<a href="/app/appointments/{a.id}/move">move</a>')
        actions.append(visit_actions_html(a, here, clinical, csrf_field, csrf_token))
        if a.course_id:
            actions.append(f'<a href="/app/courses/{a.course_id}/course.ics">.ics</a>')
        actions.append("</div>")
        lines.append("\n".join(actions))
    elif e.rebook:
        lines.append(
            f'<div class="cal-actions"><a href="/app/appointments/{a.id}/rebook" '
            'class="rebook">rebook</a></div>'
        )
    elif e.rebooked_as:
        lines.append(f'<p class="small">rebooked (appointment {int(e.rebooked_as)})</p>')
    lines.append("</article>")
    return Markup("\n".join(lines))


@pass_context
def calendar_card(context: Any, e: Any, here: str, clinical: bool, place: str = "") -> Markup:
    """:func:`card_html` with the page's CSRF field (for templates)."""
    return card_html(e, here, clinical, context["csrf_field"], context["csrf_token"], place)


@pass_context
def visit_actions(context: Any, a: Appointment, here: str, clinical: bool) -> Markup:
    """:func:`visit_actions_html` with the page's CSRF field (for templates)."""
    return visit_actions_html(a, here, clinical, context["csrf_field"], context["csrf_token"])


def install(env: Any) -> None:
    env.globals["calendar_card"] = calendar_card
    env.globals["visit_actions_html"] = visit_actions
