"""``needleplan consent``: signed consent forms from the command line: sign one from a PNG of
the signature (a signature pad's export), list hers, download a signed PDF, record a withdrawal.

The account acting is the CLI's (``--as USER``); an unnamed development run acts with a
practitioner's rights on consent forms. The same use-cases as the web app
(:mod:`needleplan.services.consent_forms`), audited the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from needleplan.cli.records import DatabaseOpt, console, open_records, print_json, resolve_patient

if TYPE_CHECKING:
    from needleplan.domain.accounts import User
    from needleplan.storage import Database

app = typer.Typer(
    rich_markup_mode=None,
    name="consent",
    help="Signed consent forms: sign, list, download, withdraw.",
    no_args_is_help=True,
)


def _acting(db: Database) -> User:
    from datetime import UTC, datetime

    from needleplan.cli.actor import resolve_actor
    from needleplan.domain.accounts import Role, User

    actor = resolve_actor(db)
    if actor.user is not None:
        return actor.user
    return User(id=0, username=actor.username, role=Role.PRACTITIONER, created_at=datetime.now(UTC))


@app.command("sign")
def consent_sign(
    key: str = typer.Argument(..., help="Patient record number or id."),
    signature: Path = typer.Option(..., "--signature", help="PNG of her drawn signature."),
    kind: str = typer.Option("treatment", "--kind", help="treatment or photo."),
    uses: list[str] = typer.Option([], "--use", help="Photo consent: teaching, marketing."),
    device: str = typer.Option("needleplan cli", "--device", help="The signing device."),
    database: str | None = DatabaseOpt,
) -> None:
    """Store the form she signed now on the newest template of KIND, as a PDF with its SHA-256."""
    from needleplan.exceptions import InputError
    from needleplan.services.consent_forms import sign_consent

    try:
        png = signature.read_bytes()
    except OSError as exc:
        raise InputError.one(
            "--signature", str(signature), f"cannot be read ({exc.strerror})"
        ) from None
    with open_records(database) as db:
        patient = resolve_patient(db, key)
        form = sign_consent(db, _acting(db), patient.id, kind, png, device, uses)
    console.print(
        f"consent form {form.id} signed: {form.kind.value} v{form.template_version}, "
        f"sha256 {form.sha256}"
    )


@app.command("list")
def consent_list(
    key: str = typer.Argument(..., help="Patient record number or id."),
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
) -> None:
    """Her signed forms, newest first: current, superseded or withdrawn."""
    from needleplan.services.consent_forms import consent_forms_of

    with open_records(database) as db:
        patient = resolve_patient(db, key)
        forms = consent_forms_of(db, _acting(db), patient.id)
    rows = [
        {
            "id": f.id,
            "kind": f.kind.value,
            "version": f.template_version,
            "standing": f.standing.value,
            "uses": sorted(u.value for u in f.uses),
            "signed_at": f.signed_at,
            "sha256": f.sha256,
            "withdrawn_at": f.withdrawn_at,
            "withdrawn_reason": f.withdrawn_reason,
        }
        for f in forms
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no signed consent forms")
    for f in forms:
        console.print(
            f"{f.id}: {f.kind.value} v{f.template_version} {f.standing.value}, signed "
            f"{f.signed_at.isoformat(timespec='minutes')}",
            markup=False,
        )


@app.command("download")
def consent_download(
    key: str = typer.Argument(..., help="Patient record number or id."),
    form_id: int = typer.Argument(..., help="The signed form's id."),
    out: Path = typer.Option(..., "--out", help="Where to write the PDF."),
    database: str | None = DatabaseOpt,
) -> None:
    """Write a signed form's PDF (practitioners and admins)."""
    from needleplan.private_files import write_private_bytes
    from needleplan.services.consent_forms import consent_pdf_of

    with open_records(database) as db:
        patient = resolve_patient(db, key)
        form, pdf = consent_pdf_of(db, _acting(db), patient.id, form_id)
    write_private_bytes(out, pdf)
    console.print(f"wrote {out} (sha256 {form.sha256})", markup=False)


@app.command("withdraw")
def consent_withdraw(
    key: str = typer.Argument(..., help="Patient record number or id."),
    form_id: int = typer.Argument(..., help="The signed form in force."),
    reason: str = typer.Option(..., "--reason", help="Why (she said so, by phone, ...)."),
    database: str | None = DatabaseOpt,
) -> None:
    """Record that she withdrew her consent (the form is kept)."""
    from needleplan.services.consent_forms import withdraw_consent

    with open_records(database) as db:
        patient = resolve_patient(db, key)
        form = withdraw_consent(db, _acting(db), patient.id, form_id, reason)
    console.print(f"consent form {form.id} withdrawn")
