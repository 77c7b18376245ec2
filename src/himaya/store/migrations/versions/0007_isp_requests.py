"""ISP requests: preservation and subscriber-information requests per ISP, partner referrals, answers

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "isp_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("reference", sa.String(60), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("asn", sa.BigInteger()),
        sa.Column("org", sa.String(300)),
        sa.Column("country", sa.String(2)),
        sa.Column("ipdb_built_at", sa.DateTime(timezone=True)),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("events_json", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("response_text", sa.Text()),
        sa.Column("response_blob_id", sa.String(32)),
        sa.Column("response_name", sa.String(500)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("answered_by", sa.String(100)),
    )
    op.create_index("ix_isp_requests_case_id", "isp_requests", ["case_id"])


def downgrade() -> None:
    op.drop_table("isp_requests")
