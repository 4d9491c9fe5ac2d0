"""initial clinic records schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Clinics, practitioners, patients, assessments, courses and their ledger, appointments with
the slot claims that make double booking impossible, performed sessions, measurements and
the recall worklist.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import needleplan.storage.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinics")),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mrn", sa.String(length=40), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("consent_treatment", sa.Boolean(), nullable=False),
        sa.Column("consent_contact", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("mrn", name=op.f("uq_patients_mrn")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_family_name"), ["family_name"], unique=False)

    op.create_table(
        "practitioners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_practitioners_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
    )
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioners_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column(
            "assessed_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("assessed_by", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessed_by"],
            ["practitioners.id"],
            name=op.f("fk_assessments_assessed_by_practitioners"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_assessments_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessments_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("planned_sessions", sa.Integer(), nullable=False),
        sa.Column("remaining_sessions", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.JSON(), nullable=False),
        sa.Column("guideline_version", sa.String(length=50), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "status_changed_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint("planned_sessions >= 0", name=op.f("ck_courses_planned_nonnegative")),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessments.id"], name=op.f("fk_courses_assessment_id_assessments")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_courses_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
    )
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_courses_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_courses_status"), ["status"], unique=False)

    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=True),
        sa.Column("start_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("end_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_appointments_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_appointments_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_appointments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_appointments_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointments_course_id"), ["course_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_appointments_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_appointments_practitioner_id_start_at",
            ["practitioner_id", "start_at"],
            unique=False,
        )

    op.create_table(
        "course_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("remaining_after", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_ledger_course_id_courses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_ledger")),
    )
    with op.batch_alter_table("course_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_course_ledger_course_id"), ["course_id"], unique=False)

    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("scale", sa.String(length=30), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column(
            "measured_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("measured_by", sa.Integer(), nullable=True),
        sa.Column("area", sa.String(length=30), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_measurements_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["measured_by"],
            ["practitioners.id"],
            name=op.f("fk_measurements_measured_by_practitioners"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_measurements_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurements")),
    )
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_measurements_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "recall_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("closed_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_recall_entries_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_recall_entries_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_entries")),
    )
    with op.batch_alter_table("recall_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recall_entries_due_date"), ["due_date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_recall_entries_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_recall_entries_status"), ["status"], unique=False)

    op.create_table(
        "contact_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recall_id", sa.Integer(), nullable=False),
        sa.Column("at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recall_id"],
            ["recall_entries.id"],
            name=op.f("fk_contact_attempts_recall_id_recall_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_attempts")),
    )
    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_attempts_recall_id"), ["recall_id"], unique=False
        )

    op.create_table(
        "performed_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column(
            "performed_at", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("device", sa.String(length=100), nullable=False),
        sa.Column("needle_depth_mm", sa.JSON(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("lot", sa.String(length=100), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("adverse_events", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_performed_sessions_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_performed_sessions_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_performed_sessions_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_performed_sessions_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performed_sessions")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_performed_sessions_appointment_id")),
    )
    with op.batch_alter_table("performed_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_performed_sessions_course_id"), ["course_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_performed_sessions_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "slot_claims",
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column(
            "slot_start", needleplan.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_slot_claims_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_slot_claims_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("practitioner_id", "slot_start", name=op.f("pk_slot_claims")),
    )
    with op.batch_alter_table("slot_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slot_claims_appointment_id"), ["appointment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("slot_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_claims_appointment_id"))

    op.drop_table("slot_claims")
    with op.batch_alter_table("performed_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_performed_sessions_patient_id"))
        batch_op.drop_index(batch_op.f("ix_performed_sessions_course_id"))

    op.drop_table("performed_sessions")
    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_attempts_recall_id"))

    op.drop_table("contact_attempts")
    with op.batch_alter_table("recall_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recall_entries_status"))
        batch_op.drop_index(batch_op.f("ix_recall_entries_patient_id"))
        batch_op.drop_index(batch_op.f("ix_recall_entries_due_date"))

    op.drop_table("recall_entries")
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measurements_patient_id"))

    op.drop_table("measurements")
    with op.batch_alter_table("course_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_ledger_course_id"))

    op.drop_table("course_ledger")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_practitioner_id_start_at")
        batch_op.drop_index(batch_op.f("ix_appointments_patient_id"))
        batch_op.drop_index(batch_op.f("ix_appointments_course_id"))

    op.drop_table("appointments")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_courses_status"))
        batch_op.drop_index(batch_op.f("ix_courses_patient_id"))

    op.drop_table("courses")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessments_patient_id"))

    op.drop_table("assessments")
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioners_clinic_id"))

    op.drop_table("practitioners")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_family_name"))

    op.drop_table("patients")
    op.drop_table("clinics")
