"""The public estimator page and its consented contact form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from needleplan import DISCLAIMER
from needleplan.exceptions import InputError
from needleplan.web.leads import CONSENT_TEXT, make_lead

from .conftest import Env, TestClient, csrf_from, make_env


def test_estimator_is_public_and_in_plain_words(client: TestClient) -> None:
    response = client.get("/estimate")
    assert response.status_code == 200
    page = response.text
    for words in (
        "How old are you?",
        "Where would you like treatment?",
        "Do you smoke?",
        "How much sun does your skin get?",
        "I have diabetes",
        "I have an autoimmune disease",
        "aftercare",
        "Whole face",
        "Very loose skin",
    ):
        assert words in page, words
    assert DISCLAIMER in page
    # the truth about her answers: they go to the clinic's server and are not kept
    assert "server to work out the estimate and are not stored unless you ask to be" in page
    assert "stay in this browser" not in page
    assert "worked out in your browser" not in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page


def test_estimator_page_is_light(client: TestClient) -> None:
    total = len(client.get("/estimate").content)
    for asset in ("/static/style.css", "/static/np.js", "/static/estimate.js"):
        response = client.get(asset)
        assert response.status_code == 200
        total += len(response.content)
    assert total < 60_000, f"estimator page weighs {total} bytes"


def test_root_sends_visitors_to_the_estimator(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.headers["location"] == "/estimate"


def contact(client: TestClient, **fields: str) -> object:
    token = csrf_from(client.get("/estimate").text)
    return client.post("/estimate/contact", data={"csrf_token": token, **fields})


def test_contact_without_consent_stores_nothing(env: Env, client: TestClient) -> None:
    response = contact(client, name="Maria", email="maria@example.org")
    assert response.status_code == 422  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert "We have not stored anything" in text
    assert "tick the consent box" in text
    assert env.leads.list_leads() == []


def test_contact_with_consent_stores_one_lead(env: Env, client: TestClient) -> None:
    response = contact(
        client,
        name="Maria",
        email="maria@example.org",
        consent="yes",
        estimate_summary="Estimate: 5 sessions",
    )
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "Thank you, Maria" in response.text  # type: ignore[attr-defined]
    [lead] = env.leads.list_leads()
    assert (lead.name, lead.email, lead.estimate_summary) == (
        "Maria",
        "maria@example.org",
        "Estimate: 5 sessions",
    )
    assert lead.consent_text == CONSENT_TEXT


def test_contact_with_bad_details_names_each_problem_and_keeps_the_answers(
    env: Env, client: TestClient
) -> None:
    response = contact(client, name="", email="not-an-email", consent="yes", message="hi")
    assert response.status_code == 422  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert 'data-field="name"' in text
    assert 'data-field="email"' in text
    assert 'value="not-an-email"' in text
    assert env.leads.list_leads() == []


def test_contact_needs_the_csrf_token(env: Env, client: TestClient) -> None:
    client.get("/estimate")
    response = client.post(
        "/estimate/contact", data={"name": "M", "email": "m@example.org", "consent": "yes"}
    )
    assert response.status_code == 403
    assert env.leads.list_leads() == []


def test_contact_form_is_rate_limited(user_store: object) -> None:
    env = make_env(user_store, api_burst=2)  # type: ignore[arg-type]
    with TestClient(env.app) as client:
        statuses = [
            contact(client, name="M", phone="+44 20 7946 0000", consent="yes").status_code  # type: ignore[attr-defined]
            for _ in range(3)
        ]
    assert statuses == [200, 200, 429]
    assert len(env.leads.list_leads()) == 2


def test_a_contact_form_with_html_is_escaped(env: Env, client: TestClient) -> None:
    response = contact(client, name="<script>alert(1)</script>", consent="yes", email="a@b.org")
    assert "<script>alert(1)</script>" not in response.text  # type: ignore[attr-defined]
    assert "&lt;script&gt;" in response.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": "A", "email": "", "phone": ""}, {"email"}),
        ({"name": "A", "email": "a@b", "phone": ""}, {"email"}),
        ({"name": "A", "email": "", "phone": "call me"}, {"phone"}),
        ({"name": "x" * 101, "email": "a@b.org", "phone": ""}, {"name"}),
    ],
)
def test_make_lead_rules(fields: dict[str, str], bad: set[str]) -> None:
    with pytest.raises(InputError) as info:
        make_lead(message="", estimate_summary="", consent=True, **fields)
    assert {p.field for p in info.value.problems} == bad


def test_make_lead_keeps_the_consent_time() -> None:
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    lead = make_lead(
        name=" A ",
        email="a@b.org",
        phone="",
        message="",
        estimate_summary="",
        consent=True,
        now=when,
    )
    assert (lead.name, lead.consented_at) == ("A", when)


def test_staff_see_consented_contact_requests(env: Env, client: TestClient) -> None:
    from .conftest import login

    contact(client, name="Maria <b>", email="maria@example.org", consent="yes", message="call")
    contact(client, name="Nobody", email="n@example.org")  # no consent: not stored
    login(client, "desk")
    page = client.get("/app/leads").text
    assert "Maria &lt;b&gt;" in page
    assert "mailto:maria@example.org" in page
    assert "Nobody" not in page
