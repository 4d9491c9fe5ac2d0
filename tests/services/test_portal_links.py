"""Portal links as a library: issued with a purpose and an expiry, stored only as a digest,
resolved for their own purpose only, refused when unknown, tampered, expired or revoked, and
any string at all is refused without a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from needleplan import services
from needleplan.domain.portal import LINK_LIFETIME, LinkPurpose
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.services._secrets import secret_digest
from needleplan.services.portal_links import (
    LinkRefusedError,
    issue_link,
    patient_links,
    resolve_link,
    revoke_link,
)

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


def test_a_link_is_stored_as_its_digest_and_opens_its_own_purpose_until_it_expires(
    clinic: Any,
) -> None:
    pid = clinic.patient.id
    token, link = issue_link(clinic.db, None, pid, "portal", at=T0)
    assert len(token) == 43
    assert link.expires_at == T0 + LINK_LIFETIME[LinkPurpose.PORTAL]
    with clinic.db.transaction() as uow:
        assert uow.portal_links.by_digest(secret_digest(token)) == link
        assert uow.portal_links.by_digest(token) is None  # the token itself is not stored
    actor = resolve_link(clinic.db, token, "portal", now=T0 + timedelta(days=1))
    assert (actor.patient_id, actor.link_id) == (pid, link.id)
    with pytest.raises(LinkRefusedError) as wrong:
        resolve_link(clinic.db, token, LinkPurpose.BOOK, now=T0)
    assert wrong.value.reason == "wrong-purpose"
    with pytest.raises(LinkRefusedError) as late:
        resolve_link(clinic.db, token, "portal", now=link.expires_at)
    assert late.value.reason == "expired"
    tampered = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    with pytest.raises(LinkRefusedError) as unknown:
        resolve_link(clinic.db, tampered, "portal", now=T0)
    assert unknown.value.reason == "unknown"
    (listed,) = patient_links(clinic.db, None, pid)
    assert listed.uses == 1


def test_revoking_acts_as_the_staff_account_and_is_audited(clinic: Any) -> None:
    pid = clinic.patient.id
    token, link = issue_link(clinic.db, None, pid, "book", at=T0)
    desk = services.create_user(clinic.db, "desk", "desk-password-1", "front_desk")
    revoked = revoke_link(clinic.db, desk, link.id, now=T0)
    assert revoked.revoked_at == T0
    assert revoked.revoked_by == "desk"
    assert revoke_link(clinic.db, desk, link.id).revoked_at == T0  # once is enough
    with pytest.raises(LinkRefusedError) as off:
        resolve_link(clinic.db, token, "book", now=T0)
    assert off.value.reason == "revoked"
    events, _ = services.search_audit(clinic.db, action="portal.link.", limit=10)
    assert [(e.action, e.username) for e in events] == [
        ("portal.link.revoke", "desk"),
        ("portal.link.revoke", "desk"),
        ("portal.link.issue", "system"),
    ]


def test_a_purpose_outside_the_list_is_refused_naming_the_field(clinic: Any) -> None:
    with pytest.raises(InputError, match="purpose"):
        issue_link(clinic.db, None, clinic.patient.id, "everything")


def test_a_refused_link_is_a_permission_refusal(clinic: Any) -> None:
    with pytest.raises(PermissionDeniedError):
        resolve_link(clinic.db, "z" * 43, "portal")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(max_size=300))
def test_any_string_is_refused_as_unknown_without_a_crash(clinic: Any, token: str) -> None:
    with pytest.raises(LinkRefusedError) as refused:
        resolve_link(clinic.db, token, "portal")
    assert refused.value.reason == "unknown"
