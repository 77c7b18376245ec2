"""Phone and social-media artifacts: databases kept for parsing, chats, messages, identities

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifact_sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id"), nullable=False, unique=True),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence_items.id"), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("parsers", sa.Text()),
        sa.Column("blob_id", sa.String(80)),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("finding", sa.Text()),
        sa.Column("used_by", sa.Integer()),
        sa.Column("messages", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("identities", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("parsed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_artifact_sources_evidence_id", "artifact_sources", ["evidence_id"])
    op.create_table(
        "chats",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("artifact_sources.id"), nullable=False),
        sa.Column("app", sa.String(20), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("chat_type", sa.String(10), nullable=False),
        sa.UniqueConstraint("source_id", "key"),
    )
    op.create_index("ix_chats_case_id", "chats", ["case_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("artifact_sources.id"), nullable=False),
        sa.Column("chat_id", sa.Integer(), sa.ForeignKey("chats.id"), nullable=False),
        sa.Column("app", sa.String(20), nullable=False),
        sa.Column("source_row", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("sender", sa.Text()),
        sa.Column("recipients", sa.Text()),
        sa.Column("time_utc", sa.DateTime(timezone=True)),
        sa.Column("text", sa.Text()),
        sa.Column("forwarded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("media_path", sa.Text()),
        sa.Column("media_sha256", sa.String(64)),
        sa.Column("media_mime", sa.String(200)),
        sa.Column("media_size", sa.BigInteger()),
        sa.Column("media_name", sa.Text()),
        sa.Column("has_media", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id")),
        sa.Column("link_method", sa.String(10)),
        sa.Column("media_present", sa.Boolean()),
    )
    op.create_index("ix_messages_source_id", "messages", ["source_id"])
    op.create_index("ix_messages_case_file", "messages", ["case_id", "file_id"])
    op.create_index("ix_messages_case_sha256", "messages", ["case_id", "media_sha256"])
    op.create_index("ix_messages_chat_time", "messages", ["chat_id", "time_utc"])
    op.create_table(
        "artifact_identities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("artifact_sources.id"), nullable=False),
        sa.Column("parser", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("card", sa.String(200)),
    )
    op.create_index("ix_artifact_identities_source_id", "artifact_identities", ["source_id"])
    op.create_index("ix_artifact_identities_value", "artifact_identities", ["case_id", "kind", "value"])


def downgrade() -> None:
    op.drop_table("artifact_identities")
    op.drop_table("messages")
    op.drop_table("chats")
    op.drop_table("artifact_sources")
