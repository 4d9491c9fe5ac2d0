"""``needleplan photo``: before and after photos from the command line: add one from a file
(a camera's or a phone's export), list hers, export one image.

The same use-cases as the web app's photo pages (:mod:`needleplan.services.photos`): the same
cleaning (type, size and pixel checks, orientation, every piece of metadata removed, a
thumbnail), the same photo-consent gate, the same roles (the clinical permission:
practitioners; the front desk and admins are refused, exit 7) and the same audit events
(``photo.upload``, ``photo.list``, ``photo.download``). The account acting is the CLI's
(``--as USER``); an unnamed development run acts with a practitioner's rights on photos.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from needleplan.cli.records import DatabaseOpt, console, open_records, print_json, resolve_patient

if TYPE_CHECKING:
    from needleplan.domain.accounts import User
    from needleplan.storage import Database

app = typer.Typer(
    rich_markup_mode=None,
    name="photo",
    help="Before and after photos: add, list, export.",
    no_args_is_help=True,
)


def _acting(db: Database) -> User:
    from datetime import UTC

    from needleplan.cli.actor import resolve_actor
    from needleplan.domain.accounts import Role, User

    actor = resolve_actor(db)
    if actor.user is not None:
        return actor.user
    return User(id=0, username=actor.username, role=Role.PRACTITIONER, created_at=datetime.now(UTC))


def _now() -> datetime:
    from needleplan.services._clock import utc_now

    return utc_now()


@app.command("add")
def photo_add(
    key: str = typer.Argument(..., help="Patient record number or id."),
    file: Path = typer.Argument(..., help="The photo (JPEG, PNG or WebP)."),
    view: str = typer.Option(
        ..., "--view", help="front, left_45, right_45, left_profile or right_profile."
    ),
    appointment: int = typer.Option(..., "--appointment", help="Her session (appointment id)."),
    taken_at: str = typer.Option(
        "", "--taken-at", help="When it was taken (ISO 8601 with offset; default: now)."
    ),
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
) -> None:
    """Clean and store a photo of her session APPOINTMENT in VIEW (needs her photo consent)."""
    from needleplan.exceptions import InputError
    from needleplan.services.photos import upload_photo

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError.one("FILE", str(file), f"cannot be read ({exc.strerror})") from None
    with open_records(database) as db:
        patient = resolve_patient(db, key)
        photo = upload_photo(
            db,
            _acting(db),
            patient.id,
            appointment,
            view,
            data,
            taken_at=taken_at or None,
            filename=file.name,
            now=_now(),
        )
    if as_json:
        print_json(photo)
        return
    console.print(
        f"photo {photo.id} stored: {photo.view.value}, session {photo.appointment_id}, "
        f"{photo.width}x{photo.height}, sha256 {photo.sha256}",
        markup=False,
    )


@app.command("list")
def photo_list(
    key: str = typer.Argument(..., help="Patient record number or id."),
    as_json: bool = typer.Option(False, "--json"),
    database: str | None = DatabaseOpt,
) -> None:
    """Her photos, oldest first: id, view, session, when taken, size."""
    from needleplan.services.photos import photos_of

    with open_records(database) as db:
        patient = resolve_patient(db, key)
        photos = photos_of(db, _acting(db), patient.id)
    if as_json:
        print_json(photos)
        return
    if not photos:
        console.print("no photos")
    for p in photos:
        console.print(
            f"{p.id}: {p.view.value}, session {p.appointment_id}, taken "
            f"{p.taken_at.isoformat(timespec='minutes')}, {p.width}x{p.height}",
            markup=False,
        )


@app.command("export")
def photo_export(
    photo_id: int = typer.Argument(..., help="The photo's id (see photo list)."),
    out: Path = typer.Option(..., "--out", help="Where to write the JPEG (mode 0600)."),
    database: str | None = DatabaseOpt,
) -> None:
    """Write one stored photo (the cleaned JPEG, no metadata) to a private file."""
    from needleplan.exceptions import InputError
    from needleplan.private_files import write_private_bytes
    from needleplan.services.photos import photo_file, photo_owner

    if not 1 <= photo_id <= 2**31 - 1:
        raise InputError.one("PHOTO_ID", photo_id, "must be a photo id from 1 to 2147483647")
    with open_records(database) as db:
        actor = _acting(db)
        photo, data = photo_file(db, actor, photo_owner(db, actor, photo_id), photo_id, "download")
    write_private_bytes(out, data)
    console.print(f"wrote {out} (photo {photo.id}, sha256 {photo.sha256})", markup=False)
