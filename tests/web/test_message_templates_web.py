"""The admin pages for the clinic's own message templates: preview, refusal naming the
placeholder, save as a version, revert."""

from __future__ import annotations

from needleplan import services

from . import booking_support
from .booking_support import Clinic, signed_in
from .conftest import TestClient

backend = booking_support.backend
site = booking_support.site
web = booking_support.web

PATH = "/app/admin/message-templates/reminder/en"
FORM = {
    "subject": "See you {{ visits[0].day }}, {{ patient.given_name }}",
    "text": "Hi {{ patient.given_name }}, {{ visits[0].when }}. Manage: {{ portal_url }}",
}


def test_preview_save_and_revert(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "admin")
    assert 'href="/app/admin/message-templates"' in web.get("/app/").text
    listing = web.get("/app/admin/message-templates")
    assert listing.status_code == 200
    assert 'data-kind="survey" data-lang="de"' in listing.text
    editor = web.get(PATH)
    assert editor.status_code == 200
    assert "The shipped template is in force." in editor.text
    assert "<code>{{ visits }}</code>" in editor.text
    preview = web.post(PATH, data={"csrf_token": token, "action": "preview", **FORM})
    assert preview.status_code == 200
    assert "See you Monday 2 September, Anna" in preview.text
    saved = web.post(
        PATH, data={"csrf_token": token, "action": "save", **FORM}, follow_redirects=False
    )
    assert saved.status_code == 303
    page = web.get(saved.headers["location"])
    assert 'id="template-saved"' in page.text
    assert "version 1, is in force" in page.text
    listing = web.get("/app/admin/message-templates").text
    assert "the clinic&#39;s own" in listing or "the clinic's own" in listing
    reverted = web.post(f"{PATH}/revert", data={"csrf_token": token}, follow_redirects=False)
    assert reverted.status_code == 303
    assert "The shipped template is in force again" in web.get(reverted.headers["location"]).text
    actions = [e.action for e in services.audit_log(site.db, limit=30)]
    assert "message.template.save" in actions
    assert "message.template.revert" in actions


def test_an_unknown_placeholder_is_refused_naming_it(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "admin")
    bad = dict(FORM, text="Your code: {{ discount_code }}")
    page = web.post(PATH, data={"csrf_token": token, "action": "save", **bad})
    assert page.status_code == 422
    assert "<strong>text</strong> (discount_code)" in page.text
    assert "is not a placeholder of this message" in page.text
    assert "The shipped template is in force." in page.text


def test_admins_only_with_a_form_token_and_known_kinds(web: TestClient, site: Clinic) -> None:
    signed_in(web, "desk")
    assert web.get(PATH).status_code == 403
    signed_in(web, "admin")
    assert web.post(PATH, data={"action": "save", **FORM}).status_code == 403
    assert web.get("/app/admin/message-templates/webhook/en").status_code == 422
    assert web.get("/app/admin/message-templates/reminder/fr").status_code == 422
