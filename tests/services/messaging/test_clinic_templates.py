"""The clinic's own message templates: validation naming the placeholder, versions, revert, a
preview for a sample patient, and the worker sending with the clinic's wording."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.messages import MessageKind
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.scheduling import example_clinic
from needleplan.services.messaging.clinic_templates import (
    check_template,
    customised,
    editable_kind,
    revert_template,
    save_template,
    shipped_preview,
    versions,
)
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.worker import run_once
from tests.messaging_support import MailSink
from tests.services.messaging.test_recall_outreach import DUE, DUE_MORNING

CLINIC = example_clinic()
RECALL = {
    "subject": "{{ patient.given_name }}, time for a top-up at {{ clinic.name }}",
    "text": "Hello {{ patient.given_name }}! Due {{ due }}. Book: {{ book_url }}\n"
    "Stop: {{ unsubscribe_url }}",
    "html": "<p>Hello {{ patient.given_name }}</p><p><a href='{{ book_url }}'>Book</a></p>",
    "sms": "",
}


def test_a_good_template_previews_for_the_sample_patient() -> None:
    preview = check_template(MessageKind.RECALL, RECALL, CLINIC, "en")
    assert preview.subject == f"Anna, time for a top-up at {CLINIC.name}"
    assert "Due 2 March 2031" in preview.text
    assert "[[book-link]]" in preview.text
    assert preview.html.startswith("<p>Hello Anna</p>")
    assert preview.sms  # the shipped SMS text when she leaves it empty


@pytest.mark.parametrize(
    ("parts", "field", "named"),
    [
        ({"subject": "Hi {{ patient.surname_typo }}", "text": "x"}, "subject", "surname_typo"),
        ({"subject": "Hi", "text": "{{ due }}"}, "text", "due"),  # a reminder has no due date
        ({"subject": "Hi", "text": "{{ coupon_code }}"}, "text", "coupon_code"),
        ({"subject": "Hi", "text": "{% if %}"}, "text", "line 1"),
        ({"subject": "Hi", "text": "x", "html": "{{ visits[5].when }}"}, "html", ""),
        ({"subject": "", "text": "x"}, "subject", ""),
    ],
)
def test_a_template_that_does_not_render_is_refused_naming_the_placeholder(
    parts: dict[str, str], field: str, named: str
) -> None:
    with pytest.raises(InputError) as err:
        check_template(MessageKind.REMINDER, parts, CLINIC, "en")
    problem = err.value.problems[0]
    assert problem.field == field
    assert named in str(problem.value)


def test_outreach_must_keep_its_unsubscribe_link_and_the_sandbox_holds() -> None:
    no_stop = dict(RECALL, text="Book: {{ book_url }}")
    with pytest.raises(InputError, match="unsubscribe_url"):
        check_template(MessageKind.RECALL, no_stop, CLINIC, "en")
    sneaky = dict(RECALL, subject="{{ clinic.__class__.__mro__ }}")
    with pytest.raises(InputError):
        check_template(MessageKind.RECALL, sneaky, CLINIC, "en")
    with pytest.raises(InputError, match="kind"):
        editable_kind("webhook")


def test_versions_revert_and_only_admins(clinic: Any) -> None:
    desk = services.create_user(clinic.db, "desk", "correct horse battery", "front_desk")
    with pytest.raises(PermissionDeniedError):
        save_template(clinic.db, desk, MessageKind.RECALL, "en", RECALL, CLINIC)
    admin = services.create_user(clinic.db, "owner", "correct horse battery", "admin")
    first = save_template(clinic.db, admin, MessageKind.RECALL, "en", RECALL, CLINIC)
    second = save_template(
        clinic.db, admin, MessageKind.RECALL, "en", dict(RECALL, subject="Top-up time"), CLINIC
    )
    assert (first.version, second.version) == (1, 2)
    assert customised(clinic.db) == {("recall", "en")}
    back = revert_template(clinic.db, admin, MessageKind.RECALL, "en", CLINIC)
    assert back.is_default
    assert back.version == 3
    assert customised(clinic.db) == set()
    assert [v.version for v in versions(clinic.db, admin, MessageKind.RECALL, "en")] == [3, 2, 1]
    with pytest.raises(InputError, match="language"):
        save_template(clinic.db, admin, MessageKind.RECALL, "fr", RECALL, CLINIC)
    actions = [e.action for e in services.audit_log(clinic.db, limit=20)]
    assert actions.count("message.template.save") == 2
    assert "message.template.revert" in actions


def test_the_worker_sends_with_the_clinics_template_then_the_shipped_one_after_revert(
    clinic: Any, smtp_server: MailSink
) -> None:
    cfg = MessagingConfig(smtp_url=smtp_server.url, public_url="https://clinic.example")
    save_template(clinic.db, None, MessageKind.RECALL, "en", RECALL, CLINIC)
    services.add_recall(clinic.db, clinic.patient.id, DUE)
    run_once(clinic.db, CLINIC, now=DUE_MORNING, config=cfg)
    (mail,) = smtp_server.messages
    assert mail["Subject"] == f"Jane, time for a top-up at {CLINIC.name}"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert text.startswith("Hello Jane! Due ")
    assert "https://clinic.example/p/" in text  # the booking link is filled in when sent
    assert mail["List-Unsubscribe"].startswith("<https://clinic.example/unsubscribe/")
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "<p>Hello Jane</p>" in html
    revert_template(clinic.db, None, MessageKind.RECALL, "en", CLINIC)
    services.add_recall(clinic.db, clinic.patient.id, DUE + timedelta(days=1))
    run_once(clinic.db, CLINIC, now=DUE_MORNING + timedelta(days=1), config=cfg)
    assert smtp_server.messages[-1]["Subject"].startswith("Time for your maintenance")


def test_a_german_template_is_used_for_her_only_when_she_reads_german(
    clinic: Any, smtp_server: MailSink
) -> None:
    cfg = MessagingConfig(smtp_url=smtp_server.url)
    german = dict(RECALL, subject="Zeit für die Auffrischung, {{ patient.given_name }}")
    save_template(clinic.db, None, MessageKind.RECALL, "de", german, CLINIC)
    services.update_patient(clinic.db, clinic.patient.id, {"language": "de"})
    services.add_recall(clinic.db, clinic.patient.id, date(2030, 3, 4))
    run_once(clinic.db, CLINIC, now=DUE_MORNING, config=cfg)
    assert [m["Subject"] for m in smtp_server.messages] == ["Zeit für die Auffrischung, Jane"]


def test_every_editable_kind_previews_its_shipped_template() -> None:
    from needleplan.services.messaging.clinic_templates import EDITABLE_KINDS

    for kind in EDITABLE_KINDS:
        for lang in ("en", "de"):
            assert shipped_preview(kind, CLINIC, lang).subject
