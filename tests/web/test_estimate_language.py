"""The public estimator as the clinic's page, in her language (issues 12 and 14), over HTTP."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from needleplan.scheduling import ClinicConfig, example_clinic

from .conftest import Env, TestClient, csrf_from, make_env


def _clinic(**changes: Any) -> ClinicConfig:
    data = example_clinic().model_dump(mode="json")
    data.update(changes)
    return ClinicConfig.model_validate(data)


@pytest.fixture
def german_env(user_store: Any) -> Env:
    env = make_env(user_store)
    env.app.state.clinic = _clinic(logo_url="/static/favicon.svg")
    return env


@pytest.fixture
def web(german_env: Env) -> Iterator[TestClient]:
    with TestClient(german_env.app, base_url="http://testserver") as c:
        yield c


def _strings(page: str) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="np-strings">(.*?)</script>', page)
    assert match, "the page hands its script texts over as JSON"
    strings: dict[str, str] = json.loads(match.group(1))
    return strings


GERMAN = (
    "Wie alt sind Sie?",
    "Wo möchten Sie behandelt werden?",
    "Ganzes Gesicht",
    "Rauchen Sie?",
    "Meine Einschätzung anzeigen",
    "Beratungstermin vereinbaren",
    "needleplan ist eine Entscheidungshilfe",
)


def test_lang_de_gives_the_estimator_in_german_and_keeps_the_language(web: TestClient) -> None:
    response = web.get("/estimate?lang=de")
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert '<html lang="de">' in page
    for words in GERMAN:
        assert words in page, words
    assert "Where would you like treatment?" not in page
    # ?lang= is kept in the page's own links and its form
    assert 'action="/estimate/contact?lang=de"' in page
    assert 'href="/estimate?lang=de"' in page
    # and a switch back to English is offered
    assert 'href="?lang=en"' in page
    strings = _strings(page)
    assert strings["lang"] == "de"
    assert strings["error_areas"] == "Bitte kreuzen Sie mindestens einen Bereich an."
    assert strings["sessions_other"] == "{n} Sitzungen"
    # the weak-evidence note of a factor her forecast carries, in her language
    assert strings["weak:conditions=diabetes"].startswith("Wie Diabetes das Ergebnis")


def test_her_browser_language_is_honoured_among_the_clinics(web: TestClient) -> None:
    page = html.unescape(
        web.get("/estimate", headers={"Accept-Language": "fr-FR, de;q=0.8, en;q=0.5"}).text
    )
    assert '<html lang="de">' in page
    for words in GERMAN:
        assert words in page, words
    # a language chosen by the browser is not written into the links
    assert 'action="/estimate/contact"' in page
    english = web.get("/estimate", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert '<html lang="en">' in english
    assert "Where would you like treatment?" in english


def test_a_language_the_clinic_does_not_offer_falls_back_to_its_default(
    german_env: Env, web: TestClient
) -> None:
    german_env.app.state.clinic = _clinic(languages=["de"], default_language="de")
    assert '<html lang="de">' in web.get("/estimate?lang=en").text
    assert '<html lang="de">' in web.get("/estimate", headers={"Accept-Language": "en"}).text
    german_env.app.state.clinic = _clinic(languages=["en"], default_language="en")
    page = web.get("/estimate?lang=de", headers={"Accept-Language": "de"}).text
    assert '<html lang="en">' in page
    assert "?lang=" not in page  # nothing to switch to


def test_a_hostile_lang_value_is_ignored_not_reflected(web: TestClient) -> None:
    response = web.get("/estimate", params={"lang": '"><script>alert(1)</script>'})
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert '<html lang="en">' in response.text


def test_the_estimator_is_the_clinics_page(web: TestClient) -> None:
    page = html.unescape(web.get("/estimate").text)
    identity = page[page.index('id="clinic-identity"') : page.index('class="intro"')]
    assert "Example Skin Clinic" in identity
    assert "Friedrichstraße 1, 10117 Berlin" in identity
    assert 'href="tel:+49301234567"' in identity
    assert "+49 30 1234567" in identity
    assert 'src="/static/favicon.svg"' in identity  # its logo
    assert "Example Skin Clinic" in page[page.index("<title>") : page.index("</title>")]
    # the next step: book a consultation through the contact form
    assert 'href="#contact" id="book-consultation"' in page
    assert "Example Skin Clinic will contact you to arrange a consultation" in page


def test_without_a_logo_or_phone_the_page_shows_neither(german_env: Env, web: TestClient) -> None:
    german_env.app.state.clinic = _clinic(phone="", logo_url="")
    page = web.get("/estimate").text
    assert "clinic-logo" not in page
    assert "tel:" not in page


def test_the_page_tells_the_truth_about_her_answers_in_both_languages(web: TestClient) -> None:
    english = html.unescape(web.get("/estimate").text)
    assert (
        "Your answers are sent to the clinic's server to work out the estimate and are not "
        "stored unless you ask to be contacted." in english
    )
    german = html.unescape(web.get("/estimate?lang=de").text)
    assert "an den Server der Praxis gesendet" in german
    for claim in ("stay in this browser", "worked out in your browser", "bleiben im Browser"):
        assert claim not in english + german


def test_a_german_contact_request_stores_the_german_consent_and_answers_in_german(
    german_env: Env, web: TestClient
) -> None:
    token = csrf_from(web.get("/estimate?lang=de").text)
    refused = web.post(
        "/estimate/contact?lang=de", data={"csrf_token": token, "name": "Maria", "email": "x"}
    )
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert "Wir haben nichts gespeichert" in text
    assert "kreuzen Sie das Einverständnisfeld an" in text
    assert 'action="/estimate/contact?lang=de"' in text
    saved = web.post(
        "/estimate/contact?lang=de",
        data={
            "csrf_token": token,
            "name": "Maria",
            "email": "maria@example.org",
            "consent": "yes",
        },
    )
    assert saved.status_code == 200
    assert "Vielen Dank, Maria" in html.unescape(saved.text)
    (lead,) = german_env.leads.list_leads()
    assert lead.language == "de"
    assert lead.consent_text.startswith("Ich bin einverstanden, dass die Praxis")
