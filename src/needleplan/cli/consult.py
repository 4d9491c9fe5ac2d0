"""``needleplan consult``: a whole consultation in the terminal (plan, then forecast)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.rule import Rule

from needleplan.cli import common as c
from needleplan.cli.plan import render_protocol
from needleplan.domain.assessment import reference_assessment
from needleplan.guideline import make_protocol


def register(app: typer.Typer) -> None:
    @app.command("consult")
    def consult(source: Path | None = c.FromOpt) -> None:
        """Run a consultation: the protocol and its reasons for an assessment.

        Without --from it uses the reference patient (50, moderate laxity, full face, no raising
        factor), which is what `make run` shows.
        """
        console = Console(highlight=False)
        assessment = (
            c.build_assessment(source, c.AssessmentFlags())
            if source is not None
            else reference_assessment()
        )
        who = "reference patient" if source is None else str(source)
        console.print(Rule(f"needleplan consultation: {who}"))
        protocol = make_protocol(assessment)
        render_protocol(protocol, console)
