"""The follow-up survey through her link (docs/messages.md, "The follow-up survey").

- ``GET /p/{token}/survey``: "how does your skin look now?" on the satisfaction scale (0-10), in
  her language, without staff chrome (the portal's resolver: rate-limited; a refused link gets
  the portal's plain page);
- ``POST /p/{token}/survey``: store her answer as a measurement (audited by ``patient-link``),
  then thank her; a second answer through the same link is refused kindly (409); a value off the
  scale comes back with the rule (422).

Included before the portal's router, whose catch-all answers every other ``/p/...`` address.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from needleplan import i18n
from needleplan.domain.portal import LinkPurpose
from needleplan.exceptions import ConflictError, InputError, StateError
from needleplan.services import survey
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.pages import render
from needleplan.web.routes.portal import Csrf, Token, portal_link
from needleplan.web.security import check_csrf

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    view: survey.SurveyView,
    token: str,
    clinic: ClinicDep,
    *,
    state: str,
    problem: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "portal/survey.html",
        status_code=status_code,
        clinic=clinic,
        lang=view.language,
        view=view,
        day=i18n.format_date(view.session_day, view.language) if view.session_day else None,
        action=f"/p/{token}/survey",
        state=state,
        problem=problem,
    )


@router.get("/p/{token}/survey", response_class=HTMLResponse)
def survey_page(request: Request, token: Token, db: DbDep, clinic: ClinicDep) -> HTMLResponse:
    actor = portal_link(request, db, token, LinkPurpose.SURVEY)
    view = survey.survey_view(db, actor, clinic)
    return _page(request, view, token, clinic, state="answered" if view.answered_at else "ask")


@router.post("/p/{token}/survey", response_class=HTMLResponse)
def survey_answer(
    request: Request,
    token: Token,
    db: DbDep,
    clinic: ClinicDep,
    answer: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> HTMLResponse:
    check_csrf(request, csrf_token)
    actor = portal_link(request, db, token, LinkPurpose.SURVEY)
    try:
        survey.answer_survey(db, actor, answer)
    except InputError as exc:
        view = survey.survey_view(db, actor, clinic)
        return _page(
            request, view, token, clinic, state="ask", problem=exc.message, status_code=422
        )
    except (StateError, ConflictError):
        view = survey.survey_view(db, actor, clinic)
        return _page(request, view, token, clinic, state="answered", status_code=409)
    view = survey.survey_view(db, actor, clinic)
    return _page(request, view, token, clinic, state="thanks")
