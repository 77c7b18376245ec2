"""review workspace: users, case assignments, web sessions, login attempts, audit chain, reviews,
gallery items, reveals (exposure), national hash-set proposals, settings

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200)),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_secret_enc", sa.Text()),
        sa.Column("totp_last_step", sa.BigInteger()),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _ts("locked_until"),
        _ts("created_at", nullable=False),
        _ts("last_login_at"),
    )
    op.create_table(
        "case_assignments",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("assigned_by", sa.String(100)),
        _ts("assigned_at", nullable=False),
    )
    op.create_index("ix_case_assignments_case_id", "case_assignments", ["case_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        _ts("created_at", nullable=False),
        _ts("last_seen_at", nullable=False),
        _ts("expires_at", nullable=False),
        _ts("ended_at"),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.Text()),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("ip", sa.String(64)),
        _ts("at", nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_login_attempts_ip_at", "login_attempts", ["ip", "at"])
    op.create_index("ix_login_attempts_user_at", "login_attempts", ["username", "at"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False, unique=True),
        _ts("at", nullable=False),
        sa.Column("actor", sa.String(100)),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("case_id", sa.Integer()),
        sa.Column("file_id", sa.Integer()),
        sa.Column("detail", sa.Text()),
        sa.Column("ip", sa.String(64)),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_case_seq", "audit_events", ["case_id", "seq"])
    op.create_index("ix_audit_events_actor_seq", "audit_events", ["actor", "seq"])
    op.create_index("ix_audit_events_action_seq", "audit_events", ["action", "seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id")),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("label", sa.String(20)),
        sa.Column("reviewer", sa.String(100), nullable=False),
        _ts("at", nullable=False),
        sa.Column("via", sa.String(20), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_reviews_case_sha256", "reviews", ["case_id", "sha256", "id"])
    op.create_table(
        "gallery_items",
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id"), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(40)),
        sa.Column("match_category", sa.String(40)),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(40)),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("exif_make", sa.Text()),
        sa.Column("exif_model", sa.Text()),
        sa.Column("exif_serial", sa.Text()),
        _ts("taken_at"),
        sa.Column("has_gps", sa.Boolean(), nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("pdq", sa.String(64)),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("size", sa.BigInteger()),
        sa.Column("stack_id", sa.Integer()),
    )
    op.create_index("ix_gallery_order", "gallery_items", ["case_id", "tier", "rank", "file_id"])
    op.create_index(
        "ix_gallery_serial", "gallery_items", ["case_id", "exif_serial", "tier", "rank", "file_id"]
    )
    op.create_index(
        "ix_gallery_category", "gallery_items", ["case_id", "category", "tier", "rank", "file_id"]
    )
    op.create_index(
        "ix_gallery_evidence", "gallery_items", ["case_id", "evidence_id", "tier", "rank", "file_id"]
    )
    op.create_index("ix_gallery_sha256", "gallery_items", ["case_id", "sha256"])
    op.create_index("ix_gallery_stack", "gallery_items", ["case_id", "stack_id"])
    op.create_table(
        "reveals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id"), nullable=False),
        _ts("revealed_at", nullable=False),
        _ts("hidden_at"),
        sa.Column("seconds", sa.Float()),
    )
    op.create_index("ix_reveals_user_at", "reveals", ["user_id", "revealed_at"])
    op.create_table(
        "hash_proposals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("md5", sa.String(32)),
        sa.Column("sha1", sa.String(40)),
        sa.Column("pdq", sa.String(64)),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("label", sa.String(20)),
        sa.Column("proposed_by", sa.String(100), nullable=False),
        _ts("proposed_at", nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(100)),
        _ts("decided_at"),
        sa.Column("hash_set_version_id", sa.Integer(), sa.ForeignKey("hash_set_versions.id")),
    )
    op.create_index("ix_hash_proposals_status", "hash_proposals", ["status", "id"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(100)),
        _ts("changed_at", nullable=False),
    )


def downgrade() -> None:
    for table in (
        "settings",
        "hash_proposals",
        "reveals",
        "gallery_items",
        "reviews",
        "audit_head",
        "audit_events",
        "login_attempts",
        "web_sessions",
        "case_assignments",
        "users",
    ):
        op.drop_table(table)
