"""Her portal pages in her language (docs/languages.md): the language on her record, ``?lang=``
kept through links, forms and redirects, her browser's language for a refused link, and dates,
refusals and the forecast's words translated."""

from __future__ import annotations

from needleplan import services

from . import booking_support
from .booking_support import Clinic
from .conftest import TestClient, csrf_from
from .portal_support import book_nora, link, psite, pweb, soon_visit

backend = booking_support.backend
__all__ = ["psite", "pweb"]


def test_her_record_language_makes_her_pages_german(pweb: TestClient, psite: Clinic) -> None:
    nora = book_nora(pweb, psite)
    services.update_patient(psite.db, nora.patient_id, {"language": "de"})
    token, _ = link(psite, nora.patient_id)
    page = pweb.get(f"/p/{token}")
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    assert "Hallo Nora" in page.text
    assert "Ihre Behandlungsreihe: 5 Microneedling-Sitzungen" in page.text
    assert "Montag, 3. März 2031, 10:00 Uhr" in page.text
    assert "Ich komme" in page.text
    assert "Hello Nora" not in page.text
    # she can read it in English instead, and the choice is kept in the page's links
    english = pweb.get(f"/p/{token}?lang=en")
    assert "Hello Nora" in english.text
    assert "Monday 3 March 2031, 10:00" in english.text
    assert f'href="/p/{token}/forecast?lang=en"' in english.text


def test_a_form_keeps_the_language_she_chose_through_its_redirect(
    pweb: TestClient, psite: Clinic
) -> None:
    nora = book_nora(pweb, psite)
    token, _ = link(psite, nora.patient_id)
    page = pweb.get(f"/p/{token}?lang=de")
    assert "Bitte rufen Sie mich zurück" in page.text
    sent = pweb.post(
        f"/p/{token}/callback?lang=de",
        data={"note": "", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/p/{token}?done=callback&lang=de"
    done = pweb.get(sent.headers["location"])
    assert "Danke: Die Praxis ruft Sie zurück." in done.text


def test_a_refusal_is_in_her_language(pweb: TestClient, psite: Clinic) -> None:
    nora = book_nora(pweb, psite)
    services.update_patient(psite.db, nora.patient_id, {"language": "de"})
    token, _ = link(psite, nora.patient_id)
    visit = soon_visit(psite, nora.patient_id, hours=3)
    late = pweb.get(f"/p/{token}/visits/{visit.id}/cancel")
    assert late.status_code == 409
    assert "Bitte rufen Sie die Praxis an" in late.text
    assert "weniger als" in late.text
    # a service refusal the catalogue does not know is a plain German sentence, never English
    form = pweb.get(f"/p/{token}/visits/{visit.id}/move")
    assert form.status_code in (200, 409)
    moved = pweb.post(
        f"/p/{token}/visits/{visit.id}/move",
        data={"slot": "not-a-slot", "csrf_token": csrf_from(pweb.get(f"/p/{token}").text)},
    )
    assert moved.status_code in (409, 422)
    assert "Praxis" in moved.text or "Termin" in moved.text
    assert "less than" not in moved.text


def test_an_unknown_link_answers_in_the_browser_language(pweb: TestClient) -> None:
    page = pweb.get("/p/not-a-real-link", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert page.status_code == 404
    assert "Dieser Link ist nicht bekannt" in page.text or "Link funktioniert nicht" in page.text
    english = pweb.get("/p/not-a-real-link", headers={"Accept-Language": "en"})
    assert "This link is not known" in english.text
