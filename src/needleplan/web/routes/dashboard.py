"""The owner's dashboard (admins: the ``reports`` permission).

* ``GET /app/dashboard?month=YYYY-MM&horizon=N`` — the month's figures and their trend over the
  12 months up to it, as charts (server-rendered SVG) with the numbers beside them, and the
  cohort projection of the clinic's own patients for the next N months (12-60).
* ``GET /app/dashboard/{figure}.csv?month=YYYY-MM[&horizon=N]`` — each chart's numbers as CSV
  (cells a spreadsheet would run as a formula are neutralised, as every export is).

Figures come from :mod:`needleplan.services.dashboard` (defined there and in
``docs/dashboard.md``); the projection from :mod:`needleplan.cohort.projection`. Each view and
each download is audited as ``dashboard.read`` (month, figure; no patient data).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from needleplan import services
from needleplan.cohort.projection import HORIZONS, Projection, clinic_projection
from needleplan.exceptions import InputError
from needleplan.interop.csv_io import neutralise
from needleplan.reports.dashboard_svg import Series, bar_chart, percent
from needleplan.scheduling import ClinicConfig
from needleplan.services.dashboard import (
    Dashboard,
    month_choices,
    month_figures,
    parse_month,
)
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.pages import render
from needleplan.web.security import require_permission

router = APIRouter(include_in_schema=False)

ReportsDep = Annotated[StaffUser, Depends(require_permission(Permission.REPORTS))]


def _short(m: date, first: bool) -> str:
    return m.strftime("%b %y") if first or m.month == 1 else m.strftime("%b")


def _money(currency: str | None) -> Any:
    def fmt(v: float) -> str:
        return f"{v:,.0f}" + (f" {currency}" if currency else "")

    return fmt


def _compact(v: float) -> str:
    """A bar label: 950, 12.4k."""
    return f"{v / 1000:.1f}k" if abs(v) >= 10_000 else f"{v:,.0f}"


@dataclass(frozen=True)
class Figure:
    """One chart of the dashboard: its CSV name, title, columns and the values per month."""

    key: str
    title: str
    header: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    svg: str


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.1f}"


def figures(board: Dashboard) -> list[Figure]:
    """Every trend chart of ``board`` with the table its CSV holds."""
    ms = board.months
    labels = [_short(m.month, i == 0) for i, m in enumerate(ms)]
    hi = len(ms) - 1

    def rows(*cols: Any) -> list[tuple[Any, ...]]:
        return [(m.label, *(c(m) for c in cols)) for m in ms]

    def rate_chart(title: str, get: Any, key: str) -> str:
        return bar_chart(
            title,
            labels,
            [Series(title, [get(m) for m in ms])],
            fmt=percent,
            highlight=hi,
            top=1.0,
            chart_id=f"chart-{key}",
        )

    out = [
        Figure(
            "sessions",
            "Sessions delivered",
            ("month", "initial", "maintenance", "total"),
            rows(
                lambda m: m.initial_sessions,
                lambda m: m.maintenance_sessions,
                lambda m: m.sessions,
            ),
            bar_chart(
                "Sessions delivered",
                labels,
                [
                    Series("initial series", [m.initial_sessions for m in ms]),
                    Series("maintenance", [m.maintenance_sessions for m in ms]),
                ],
                highlight=hi,
                chart_id="chart-sessions",
            ),
        ),
    ]
    if board.currency is not None:
        out.append(
            Figure(
                "revenue",
                f"Revenue ({board.currency})",
                ("month", f"revenue_{board.currency}"),
                rows(lambda m: f"{m.revenue:.2f}"),
                bar_chart(
                    f"Revenue from sessions ({board.currency})",
                    labels,
                    [Series("revenue", [m.revenue for m in ms])],
                    fmt=_compact,
                    highlight=hi,
                    chart_id="chart-revenue",
                ),
            )
        )
    out += [
        Figure(
            "new-patients",
            "New patients",
            ("month", "new_patients"),
            rows(lambda m: m.new_patients),
            bar_chart(
                "New patients",
                labels,
                [Series("new patients", [m.new_patients for m in ms])],
                highlight=hi,
                chart_id="chart-new-patients",
            ),
        ),
        Figure(
            "courses",
            "Course completion",
            ("month", "courses_ended", "completed", "completion_percent"),
            rows(
                lambda m: m.courses_ended,
                lambda m: m.courses_completed,
                lambda m: _pct(m.completion_rate),
            ),
            rate_chart(
                "Courses completed (of those that ended)", lambda m: m.completion_rate, "courses"
            ),
        ),
        Figure(
            "no-shows",
            "No-show rate",
            ("month", "visits_kept", "no_shows", "no_show_percent"),
            rows(lambda m: m.visits_kept, lambda m: m.no_shows, lambda m: _pct(m.no_show_rate)),
            rate_chart("No-show rate", lambda m: m.no_show_rate, "no-shows"),
        ),
        Figure(
            "recalls",
            "Recall conversion",
            ("month", "recalls_due", "booked", "conversion_percent"),
            rows(
                lambda m: m.recalls_due,
                lambda m: m.recalls_booked,
                lambda m: _pct(m.recall_conversion),
            ),
            rate_chart("Recalls due that booked", lambda m: m.recall_conversion, "recalls"),
        ),
        Figure(
            "utilisation",
            "Utilisation per practitioner",
            ("month", "practitioner", "booked_hours", "open_hours", "utilisation_percent"),
            [
                (
                    m.label,
                    p.name,
                    f"{p.booked_minutes / 60:.2f}",
                    f"{p.open_minutes / 60:.2f}",
                    _pct(p.utilisation),
                )
                for m in ms
                for p in m.practitioners
            ],
            bar_chart(
                "Utilisation: booked hours / open hours",
                labels,
                [
                    Series(p.name, [m.practitioners[k].utilisation for m in ms])
                    for k, p in enumerate(ms[-1].practitioners)
                ],
                fmt=percent,
                highlight=hi,
                stacked=False,
                top=1.0,
                chart_id="chart-utilisation",
            ),
        ),
        Figure(
            "leads",
            "Contact requests -> patients",
            ("month", "contact_requests", "became_patients", "conversion_percent"),
            rows(lambda m: m.leads, lambda m: m.leads_converted, lambda m: _pct(m.lead_conversion)),
            bar_chart(
                "Contact requests and those that became patients",
                labels,
                [
                    Series("requests", [m.leads for m in ms]),
                    Series("became patients", [m.leads_converted for m in ms]),
                ],
                highlight=hi,
                stacked=False,
                chart_id="chart-leads",
            ),
        ),
    ]
    return out


def _projection(
    db: Database, user: StaffUser, clinic: ClinicConfig, horizon: int, today: date
) -> tuple[Projection | None, str | None]:
    if horizon not in HORIZONS:
        raise InputError.one(
            "horizon", horizon, "must be one of " + ", ".join(str(h) for h in HORIZONS)
        )
    with services.audited(db, user, "dashboard.read", None, f"projection months={horizon}"):
        assessments, invalid = services.latest_assessments(db)
    if not assessments:
        return None, "No patient has an assessment on record yet: there is nobody to project."
    if clinic.prices is None:
        return None, "The clinic settings have no prices: set them to see the projection."
    return clinic_projection(assessments, clinic, horizon, today=today, invalid=invalid), None


def projection_figure(p: Projection) -> Figure:
    r = p.result
    labels = [_short(date.fromisoformat(m.month + "-01"), i == 0) for i, m in enumerate(r.months)]
    return Figure(
        "projection",
        "Projection of the clinic's patients",
        (
            "month",
            "initial_sessions",
            "maintenance_sessions",
            f"revenue_{r.currency}",
            "recalls_due",
            "noticeably_firmer_percent",
        ),
        [
            (
                m.month,
                f"{m.initial_sessions:.1f}",
                f"{m.maintenance_sessions:.1f}",
                f"{m.revenue:.2f}",
                f"{m.recalls_due:.1f}",
                f"{m.noticeable_share * 100:.1f}",
            )
            for m in r.months
        ],
        bar_chart(
            "Projected sessions per month",
            labels,
            [
                Series("initial series", [m.initial_sessions for m in r.months]),
                Series("maintenance", [m.maintenance_sessions for m in r.months]),
            ],
            chart_id="chart-projection",
        ),
    )


def _month(value: str, clinic: ClinicConfig) -> tuple[date, date]:
    today = datetime.now(clinic.tz).date()
    month = parse_month(value) if value.strip() else today.replace(day=1)
    if month > today:
        raise InputError.one("month", value, "must not be in the future")
    return month, today


@router.get("/app/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    user: ReportsDep,
    db: DbDep,
    clinic: ClinicDep,
    month: Annotated[str, Query(max_length=20)] = "",
    horizon: Annotated[int, Query(ge=1, le=1000)] = 36,
) -> HTMLResponse:
    request.state.user = user
    chosen, today = _month(month, clinic)
    board = month_figures(db, clinic, chosen, actor=user, today=today)
    projection, why_not = _projection(db, user, clinic, horizon, today)
    return render(
        request,
        "app/dashboard.html",
        board=board,
        now=board.current,
        figures=figures(board),
        month=chosen.strftime("%Y-%m"),
        months=[m.strftime("%Y-%m") for m in month_choices(today)],
        horizon=horizon,
        horizons=HORIZONS,
        projection=projection,
        projection_chart=projection_figure(projection) if projection else None,
        why_not=why_not,
        money=_money(board.currency),
        clinic_prices=clinic.prices,
        pct=lambda v: "–" if v is None else f"{v * 100:.0f}%",
    )


def _csv(name: str, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[neutralise(cell) for cell in row] for row in rows])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/app/dashboard/{figure}.csv")
def dashboard_csv(
    request: Request,
    figure: str,
    user: ReportsDep,
    db: DbDep,
    clinic: ClinicDep,
    month: Annotated[str, Query(max_length=20)] = "",
    horizon: Annotated[int, Query(ge=1, le=1000)] = 36,
) -> Response:
    """One chart's numbers as CSV."""
    request.state.user = user
    chosen, today = _month(month, clinic)
    if figure == "projection":
        projection, why_not = _projection(db, user, clinic, horizon, today)
        if projection is None:
            raise InputError.one("projection", None, why_not or "not available")
        f = projection_figure(projection)
        return _csv(f"projection-{horizon}-months", f.header, f.rows)
    board = month_figures(db, clinic, chosen, actor=user, today=today)
    found = {f.key: f for f in figures(board)}
    if figure not in found:
        raise InputError.one(
            "figure", figure[:40], "must be one of " + ", ".join([*found, "projection"])
        )
    f = found[figure]
    return _csv(f"{f.key}-{chosen:%Y-%m}", f.header, f.rows)
