"""Staff accounts as values: roles, what each role may do, and the rules for names and passwords.

This is the one account model of needleplan. The library, the CLI (``needleplan --as USER``) and
the web app (the signed-in user, a bearer token's owner) all act as a :class:`User`, and the
services check its role against :data:`ROLE_PERMISSIONS` (:func:`require_permission`). Hashing
and storing passwords is the services' job (:mod:`needleplan.services.accounts`); here are only
the rules a value must meet.

Roles and their permissions (SPEC capability 8):

============  ==================================================================
role          permissions
============  ==================================================================
admin         users (accounts, API tokens), config (clinic calendar), audit,
              reports (the owner's dashboard), calendar, recall, contacts
practitioner  clinical (assessments, plans, forecasts, notes, measurements),
              calendar, recall, contacts
front_desk    calendar, recall, contacts (no clinical notes or measurements)
============  ==================================================================

The clinic owner signs in with an admin account: the business figures (``reports``) are the
admins' alone, as are accounts and settings; there is no separate owner role.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from needleplan.exceptions import InputError, PermissionDeniedError


class Role(StrEnum):
    """What a staff account may do (see :data:`ROLE_PERMISSIONS`)."""

    ADMIN = "admin"
    PRACTITIONER = "practitioner"
    FRONT_DESK = "front_desk"


class Permission(StrEnum):
    """One kind of work a role may be allowed to do."""

    CLINICAL = "clinical"
    CALENDAR = "calendar"
    RECALL = "recall"
    CONTACTS = "contacts"
    USERS = "users"
    CONFIG = "config"
    AUDIT = "audit"
    REPORTS = "reports"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.USERS,
            Permission.CONFIG,
            Permission.AUDIT,
            Permission.REPORTS,
            Permission.CALENDAR,
            Permission.RECALL,
            Permission.CONTACTS,
        }
    ),
    Role.PRACTITIONER: frozenset(
        {Permission.CLINICAL, Permission.CALENDAR, Permission.RECALL, Permission.CONTACTS}
    ),
    Role.FRONT_DESK: frozenset({Permission.CALENDAR, Permission.RECALL, Permission.CONTACTS}),
}

#: The permission an audited action needs (``services.audited`` checks it before the block
#: runs). Actions not listed here (``account.password``, ``export``, ...) need no permission
#: beyond being a named account; the use-case itself may check more.
ACTION_PERMISSIONS: dict[str, Permission] = {
    # contact data: every role
    "patient.create": Permission.CONTACTS,
    "patient.list": Permission.CONTACTS,
    "patient.read": Permission.CONTACTS,
    "patient.update": Permission.CONTACTS,
    "patient.merge": Permission.CONTACTS,
    "message.read": Permission.CONTACTS,
    "message.resend": Permission.CONTACTS,
    # signed consent forms: every role signs, lists and withdraws; downloading a signed PDF is
    # for practitioners and admins (services.consent_forms checks the roles)
    "consent.sign": Permission.CONTACTS,
    "consent.read": Permission.CONTACTS,
    "consent.withdraw": Permission.CONTACTS,
    "portal.link.issue": Permission.CONTACTS,
    "portal.link.read": Permission.CONTACTS,
    "portal.link.revoke": Permission.CONTACTS,
    "portal.link.send": Permission.CONTACTS,
    "portal.callback.done": Permission.CONTACTS,
    # the calendar and bookings: every role
    "calendar.read": Permission.CALENDAR,
    "booking.read": Permission.CALENDAR,
    "booking.search": Permission.CALENDAR,
    "appointment.read": Permission.CALENDAR,
    "appointment.book": Permission.CALENDAR,
    "appointment.move": Permission.CALENDAR,
    "appointment.rebook": Permission.CALENDAR,
    "appointment.missed": Permission.CALENDAR,
    "appointment.cancel": Permission.CALENDAR,
    "course.book": Permission.CALENDAR,
    "course.read": Permission.CALENDAR,
    "course.export": Permission.CALENDAR,
    "course.status": Permission.CALENDAR,
    # the recall worklist: every role
    "recall.read": Permission.RECALL,
    "recall.contact": Permission.RECALL,
    "recall.opt-out": Permission.RECALL,
    "recall.close": Permission.RECALL,
    # clinical records: practitioners
    "assessment.create": Permission.CLINICAL,
    "assessment.record": Permission.CLINICAL,
    "assessment.list": Permission.CLINICAL,
    "measurement.create": Permission.CLINICAL,
    "measurement.list": Permission.CLINICAL,
    "session.record": Permission.CLINICAL,
    "patient.handout": Permission.CLINICAL,
    "patient.export": Permission.CLINICAL,
    "patient.forecast": Permission.CLINICAL,
    "intake.read": Permission.CLINICAL,
    "intake.confirm": Permission.CLINICAL,
    # intake kiosk: every role hands the tablet over (the answers stay clinical)
    "intake.kiosk.start": Permission.CONTACTS,
    "intake.submit": Permission.CONTACTS,
    # before and after photos: practitioners only (front desk and admins see no photos)
    "photo.upload": Permission.CLINICAL,
    "photo.list": Permission.CLINICAL,
    "photo.view": Permission.CLINICAL,
    "photo.thumb": Permission.CLINICAL,
    "photo.download": Permission.CLINICAL,
    "photo.handout": Permission.CLINICAL,
    # administration: admins
    "user.create": Permission.USERS,
    "user.deactivate": Permission.USERS,
    "user.profile": Permission.USERS,
    "user.list": Permission.USERS,
    "account.password.reset": Permission.USERS,
    # API tokens: issuing and revoking are checked by may_issue_token / may_revoke_token (one's
    # own tokens, or an admin for an account without clinical access)
    "token.list": Permission.USERS,
    "audit.read": Permission.AUDIT,
    "lead.list": Permission.CONTACTS,
    "lead.handled": Permission.CONTACTS,
    "lead.convert": Permission.CONTACTS,
    "lead.delete": Permission.CONTACTS,
    "lead.purge": Permission.CONTACTS,
    # the owner's dashboard: admins
    "dashboard.read": Permission.REPORTS,
    "clinic.config.save": Permission.CONFIG,
    "clinic.conflicts.read": Permission.CONFIG,
    "clinic.config.revert": Permission.CONFIG,
    "consent.template.save": Permission.CONFIG,
    "calibration.read": Permission.CONFIG,
    "calibration.fit": Permission.CONFIG,
    "calibration.adopt": Permission.CONFIG,
    "calibration.revert": Permission.CONFIG,
    "webhook.add": Permission.CONFIG,
    "webhook.list": Permission.CONFIG,
    "webhook.remove": Permission.CONFIG,
    "webhook.log": Permission.CONFIG,
    "message.template.read": Permission.CONFIG,
    "message.template.save": Permission.CONFIG,
    "message.template.revert": Permission.CONFIG,
}

#: User names: 3-40 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,39}$"
USERNAME_RULE = "must be 3-40 of a-z, 0-9, '.', '_', '-' starting alphanumeric"
PASSWORD_MIN = 10
PASSWORD_MAX = 1024


def normalise_username(username: str) -> str:
    """The form a user name is stored and looked up in (trimmed, lower case)."""
    return username.strip().lower()


def check_username(username: str, field: str = "username") -> str:
    """The normalised user name, or an InputError naming ``field`` when it breaks the rule."""
    name = normalise_username(username)
    if not re.fullmatch(USERNAME_PATTERN, name):
        raise InputError.one(field, username, USERNAME_RULE)
    return name


def check_password(password: str, field: str = "password") -> None:
    """The rule every new password meets (InputError naming ``field``; the value is hidden)."""
    if len(password) < PASSWORD_MIN:
        raise InputError.one(field, "<hidden>", f"at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise InputError.one(field, "<hidden>", f"at most {PASSWORD_MAX} characters")


def parse_role(role: Role | str, field: str = "role") -> Role:
    """``role`` as a :class:`Role`, or an InputError listing the roles."""
    try:
        return Role(role)
    except ValueError:
        raise InputError.one(
            field, role, "must be one of " + ", ".join(r.value for r in Role)
        ) from None


class User(BaseModel):
    """A staff account (never its password): who acts in the library, the CLI and the web app.

    ``display_name`` is how pages greet the account; it is the user name unless given.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: int
    username: str
    role: Role
    practitioner_id: int | None = None
    active: bool = True
    created_at: AwareDatetime
    display_name: str = ""
    #: The API token this account acts through (its id), for the audit trail; ``None`` when it
    #: acts in person (a signed-in browser, the CLI, the library).
    via_token: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_display_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not str(data.get("display_name") or "").strip():
            data = {**data, "display_name": data.get("username", "")}
        return data

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        """Whether this account's role has ``permission``."""
        return permission in ROLE_PERMISSIONS[self.role]


def require_permission(user: User, permission: Permission, action: str) -> None:
    """Raise :class:`PermissionDeniedError` naming the user, role and action unless allowed."""
    if not user.can(permission):
        raise PermissionDeniedError(
            f"{user.username} ({user.role.value}) may not {action}: "
            f"it needs the {permission.value} permission"
        )


def require_action(user: User, action: str) -> None:
    """Check ``user`` may do the audited ``action`` (see :data:`ACTION_PERMISSIONS`)."""
    permission = ACTION_PERMISSIONS.get(action)
    if permission is not None:
        require_permission(user, permission, f"do {action}")


class TokenScope(StrEnum):
    """What an API token may do with its owner's role: ``read`` only reads (GET), ``write``
    also changes records (POST, PATCH, PUT, DELETE)."""

    READ = "read"
    WRITE = "write"


#: Days an API token lasts unless the issuer picks fewer; the longest it may be issued for.
TOKEN_DAYS_DEFAULT = 90
TOKEN_DAYS_MAX = 365


def parse_token_scope(scope: TokenScope | str, field: str = "scope") -> TokenScope:
    """``scope`` as a :class:`TokenScope`, or an InputError listing the scopes."""
    try:
        return TokenScope(str(scope).strip().lower())
    except ValueError:
        raise InputError.one(
            field, scope, "must be one of " + ", ".join(s.value for s in TokenScope)
        ) from None


def check_token_days(days: int, field: str = "days") -> int:
    """How many days a new token lasts: a whole number from 1 to :data:`TOKEN_DAYS_MAX`."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= TOKEN_DAYS_MAX:
        raise InputError.one(
            field, days, f"must be a whole number of days from 1 to {TOKEN_DAYS_MAX}"
        )
    return days


def may_issue_token(actor: User, owner: User) -> None:
    """Who may issue an API token for ``owner``: the owner, or an admin for an account that
    holds no clinical permission (an integration account). An admin cannot give itself a
    practitioner's clinical access through a token (PermissionDeniedError naming why)."""
    if actor.id == owner.id:
        return
    require_permission(actor, Permission.USERS, "issue API tokens for other accounts")
    if owner.can(Permission.CLINICAL):
        raise PermissionDeniedError(
            f"{actor.username} may not issue an API token for {owner.username}: that account "
            "has clinical access, so only its owner may issue one (from My account)"
        )


def may_revoke_token(actor: User, owner_id: int) -> None:
    """A token may be revoked by its owner, or by an admin (any token: revoking only removes
    access)."""
    if actor.id != owner_id:
        require_permission(actor, Permission.USERS, "revoke other accounts' API tokens")


__all__ = [
    "ACTION_PERMISSIONS",
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "ROLE_PERMISSIONS",
    "TOKEN_DAYS_DEFAULT",
    "TOKEN_DAYS_MAX",
    "USERNAME_PATTERN",
    "USERNAME_RULE",
    "Permission",
    "Role",
    "TokenScope",
    "User",
    "check_password",
    "check_token_days",
    "check_username",
    "may_issue_token",
    "may_revoke_token",
    "normalise_username",
    "parse_role",
    "parse_token_scope",
    "require_action",
    "require_permission",
]
