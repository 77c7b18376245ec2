"""attribution: imported tip reports and logs, their persons and identifiers, reported files, IP events

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tip_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("source_format", sa.String(20), nullable=False),
        sa.Column("source_name", sa.String(500), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.String(100)),
        sa.Column("esp", sa.String(300)),
        sa.Column("incident_type", sa.String(200)),
        sa.Column("incident_at", sa.DateTime(timezone=True)),
        sa.Column("summary", sa.Text()),
        sa.Column("imported_by", sa.String(100)),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_id", "source_sha256", "ordinal"),
    )
    op.create_index("ix_tip_reports_case_id", "tip_reports", ["case_id"])
    op.create_table(
        "tip_persons",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("tip_reports.id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("names", sa.Text()),
    )
    op.create_index("ix_tip_persons_report_id", "tip_persons", ["report_id"])
    op.create_table(
        "tip_identifiers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("tip_persons.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
    )
    op.create_index("ix_tip_identifiers_person_id", "tip_identifiers", ["person_id"])
    op.create_index("ix_tip_identifiers_value", "tip_identifiers", ["kind", "value"])
    op.create_table(
        "tip_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("tip_reports.id"), nullable=False),
        sa.Column("filename", sa.Text()),
        sa.Column("url", sa.Text()),
        sa.Column("md5", sa.String(32)),
        sa.Column("sha1", sa.String(40)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("classification", sa.String(20)),
        sa.Column("viewed_by_esp", sa.Boolean()),
        sa.Column("publicly_available", sa.Boolean()),
    )
    op.create_index("ix_tip_files_report_id", "tip_files", ["report_id"])
    op.create_table(
        "ip_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("tip_reports.id"), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("port", sa.Integer()),
        sa.Column("time_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("original_time", sa.String(100), nullable=False),
        sa.Column("original_zone", sa.String(64)),
        sa.Column("zone_assumed", sa.Boolean(), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("account", sa.String(300)),
        sa.Column("service", sa.String(300)),
        sa.Column("possible_proxy", sa.Boolean()),
        sa.Column("filename", sa.Text()),
        sa.Column("md5", sa.String(32)),
        sa.Column("sha1", sa.String(40)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("source", sa.Text(), nullable=False),
    )
    op.create_index("ix_ip_events_report_id", "ip_events", ["report_id"])
    op.create_index("ix_ip_events_case_ip", "ip_events", ["case_id", "ip", "time_utc"])
    op.create_index("ix_ip_events_case_account", "ip_events", ["case_id", "account"])


def downgrade() -> None:
    for table in ("ip_events", "tip_files", "tip_identifiers", "tip_persons", "tip_reports"):
        op.drop_table(table)
