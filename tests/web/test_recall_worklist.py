"""The recall worklist keeps its place: search, sort, paging, forms that return to the same
page and row; closing with a reason; booking the maintenance visit from the row."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentKind, RecallStatus
from needleplan.services.recall import recall_worklist

from . import booking_support
from .booking_support import ZONE, Clinic, signed_in
from .conftest import TestClient, csrf_from

backend = booking_support.backend
site = booking_support.site
web = booking_support.web


def _today() -> date:
    return datetime.now(ZONE).date()


def _many(site: Clinic, n: int = 30) -> list[int]:
    """``n`` open entries, all overdue (due 1..n days before the 1st of this month), patients
    named Recall00 .. Recall29; entry i is due i+1 days before the month starts."""
    first = _today().replace(day=1)
    ids = []
    for i in range(n):
        p = site.patient(f"Pat{i:02d}", f"Recall{i:02d}", consent_contact=True)
        ids.append(services.add_recall(site.db, p.id, first - timedelta(days=i + 1)).id)
    return ids


def _names(html: str) -> list[str]:
    return re.findall(r"Pat\d\d Recall(\d\d)", html)


def test_paging_sorting_and_search(web: TestClient, site: Clinic) -> None:
    _many(site)
    signed_in(web, "desk")
    first = web.get("/app/recall?show=overdue").text
    assert _names(first) == [f"{i:02d}" for i in range(29, 4, -1)]  # earliest due first
    assert "30 entries · page 1 of 2" in first
    assert 'href="/app/recall?show=overdue&amp;page=2"' in first
    second = web.get("/app/recall?show=overdue&page=2").text
    assert _names(second) == ["04", "03", "02", "01", "00"]
    by_name = web.get("/app/recall?show=overdue&sort=name").text
    assert _names(by_name)[:3] == ["00", "01", "02"]
    found = web.get("/app/recall?show=overdue&q=recall07").text
    assert _names(found) == ["07"]
    assert "1 entry · page 1 of 1" in found
    nobody = web.get("/app/recall?show=open&q=nobody").text
    assert "matching “nobody”" in nobody
    # a page past the end shows the last one
    assert _names(web.get("/app/recall?show=overdue&page=9").text) == _names(second)
    assert web.get("/app/recall?sort=loudest").status_code == 422
    assert web.get("/app/recall?page=0").status_code == 422


def test_a_logged_attempt_returns_to_the_same_page_and_row(web: TestClient, site: Clinic) -> None:
    ids = _many(site)
    signed_in(web, "desk")
    page = web.get("/app/recall?show=overdue&sort=name&page=2").text
    token = csrf_from(page)
    target = ids[27]  # Recall27: on page 2 when sorted by name
    assert f'id="recall-{target}"' in page
    back = re.search(r'name="back" value="([^"]+)"', page)
    assert back is not None
    response = web.post(
        f"/app/recall/{target}/contact",
        data={
            "channel": "phone",
            "outcome": "no_answer",
            "back": back.group(1).replace("&amp;", "&"),
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    parts = urlsplit(location)
    assert parts.fragment == f"recall-{target}"
    assert "show=overdue" in parts.query
    assert "sort=name" in parts.query
    assert "page=2" in parts.query
    after = web.get(location).text
    assert f'id="recall-{target}"' in after
    assert "Contact attempt logged." in after


def test_the_back_field_only_carries_the_worklist_place(web: TestClient, site: Clinic) -> None:
    ids = _many(site, 1)
    signed_in(web, "desk")
    token = csrf_from(web.get("/app/recall").text)
    response = web.post(
        f"/app/recall/{ids[0]}/contact",
        data={
            "channel": "sms",
            "outcome": "no_answer",
            "back": "show=nowhere&sort=evil&next=https://evil.example&page=-3&q=x",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    location = response.headers["location"]
    assert location.startswith("/app/recall?")
    assert "evil" not in location
    assert "show=month" in location  # the form's own tab, the bad one dropped
    assert "q=x" in location


def test_closing_with_a_reason_lands_on_the_next_row_and_keeps_the_reason(
    web: TestClient, site: Clinic
) -> None:
    ids = _many(site, 3)
    signed_in(web, "prac")
    token = csrf_from(web.get("/app/recall?show=overdue").text)
    response = web.post(
        f"/app/recall/{ids[1]}/close",
        data={
            "reason": "moved away",
            "back": "show=overdue",
            "next_row": str(ids[0]),
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.headers["location"].endswith(f"#recall-{ids[0]}")
    entry = services.recall_entry(site.db, ids[1])
    assert entry.status is RecallStatus.CLOSED
    assert entry.close_reason == "moved away"
    assert (
        'closed by staff: <span class="close-reason">moved away</span>'
        in web.get("/app/recall?show=closed").text
    )
    too_long = web.post(
        f"/app/recall/{ids[2]}/close",
        data={"reason": "other", "other": "x" * 250, "csrf_token": token},
    )
    assert too_long.status_code == 422
    assert "reason" in too_long.text
    events, _ = services.search_audit(site.db, action="recall.close")
    assert len(events) == 1


def test_book_the_maintenance_visit_from_the_row(web: TestClient, site: Clinic) -> None:
    ids = _many(site, 2)
    signed_in(web, "desk")
    page = web.get("/app/recall?show=overdue").text
    token = csrf_from(page)
    offered = re.findall(r'<option value="(\d+@[^"]+)"', page)
    assert offered, "the row offers the next free slots"
    response = web.post(
        f"/app/recall/{ids[0]}/book",
        data={"slot": offered[0], "back": "show=overdue", "next_row": "", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "done=booked" in response.headers["location"]
    entry = services.recall_entry(site.db, ids[0])
    assert entry.status is RecallStatus.BOOKED  # the booking closed it
    with site.db.transaction() as uow:
        (appt,) = uow.appointments.for_patient(entry.patient_id)
    assert appt.kind is AppointmentKind.MAINTENANCE
    assert appt.start == datetime.fromisoformat(offered[0].split("@", 1)[1])
    again = web.post(
        f"/app/recall/{ids[1]}/book",
        data={"slot": offered[0], "back": "show=overdue", "csrf_token": token},
        follow_redirects=False,
    )
    # Alice's slot is taken now: nothing booked, back at the row with a notice
    assert again.status_code == 303
    assert "done=taken" in again.headers["location"]
    assert services.recall_entry(site.db, ids[1]).status is RecallStatus.OPEN
    bad = web.post(f"/app/recall/{ids[1]}/book", data={"slot": "yesterday", "csrf_token": token})
    assert bad.status_code == 422
    assert "slot" in bad.text


@pytest.mark.parametrize("action", ["book", "close"])
def test_worklist_posts_need_the_csrf_token(web: TestClient, site: Clinic, action: str) -> None:
    ids = _many(site, 1)
    signed_in(web, "desk")
    response = web.post(f"/app/recall/{ids[0]}/{action}", data={"reason": "moved away"})
    assert response.status_code == 403
    assert services.recall_entry(site.db, ids[0]).status is RecallStatus.OPEN


def test_the_service_tabs_mean_what_they_say(site: Clinic) -> None:
    today = _today()
    first = today.replace(day=1)
    for given, due in (
        ("Last", first - timedelta(days=1)),
        ("First", first),
        ("Next", first + timedelta(days=40)),
    ):
        p = site.patient(given, "Tab")
        services.add_recall(site.db, p.id, due)

    def names(tab: str) -> list[str]:
        page = recall_worklist(site.db, today=today, tab=tab)
        return [page.patients[e.patient_id].given_name for e in page.entries]

    assert names("month") == ["First"]
    assert names("overdue") == (["Last", "First"] if today > first else ["Last"])
    assert names("open") == ["Last", "First", "Next"]
    assert names("closed") == []


@pytest.mark.parametrize("username", ["admin", "prac", "desk"])
def test_every_role_closes_and_books_from_the_worklist(
    web: TestClient, site: Clinic, username: str
) -> None:
    ids = _many(site, 2)
    signed_in(web, username)
    page = web.get("/app/recall?show=overdue").text
    token = csrf_from(page)
    slot = re.findall(r'<option value="(\d+@[^"]+)"', page)[0]
    closed = web.post(
        f"/app/recall/{ids[0]}/close", data={"reason": "moved away", "csrf_token": token}
    )
    assert closed.status_code == 200
    booked = web.post(f"/app/recall/{ids[1]}/book", data={"slot": slot, "csrf_token": token})
    assert booked.status_code == 200
    assert services.recall_entry(site.db, ids[0]).status is RecallStatus.CLOSED
    assert services.recall_entry(site.db, ids[1]).status is RecallStatus.BOOKED
