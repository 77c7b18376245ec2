"""online detection and takedown: captures and their exchanges (WARC blobs), tracked locations, holds
(deconfliction), notices and their items, re-checks, the unit's abuse contacts

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "online_captures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence_items.id"), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text()),
        sa.Column("requested_by", sa.String(100)),
        _ts("started_at", nullable=False),
        _ts("finished_at"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("warcinfo_blob_id", sa.String(32)),
        sa.Column("media_found", sa.Integer(), nullable=False),
        sa.Column("bytes_fetched", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_online_captures_case_page", "online_captures", ["case_id", "page_url"])
    op.create_table(
        "capture_exchanges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("capture_id", sa.Integer(), sa.ForeignKey("online_captures.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("found_in", sa.String(40)),
        _ts("fetched_at", nullable=False),
        sa.Column("http_status", sa.Integer()),
        sa.Column("content_type", sa.String(200)),
        sa.Column("size", sa.BigInteger()),
        sa.Column("payload_sha256", sa.String(64)),
        sa.Column("server_ip", sa.String(64)),
        sa.Column("tls_subject", sa.Text()),
        sa.Column("truncated", sa.String(20)),
        sa.Column("error", sa.Text()),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("blob_id", sa.String(32)),
        sa.Column("locator", sa.Text()),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.String(100)),
        sa.UniqueConstraint("capture_id", "seq"),
    )
    op.create_table(
        "online_locations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("page_url", sa.Text()),
        sa.Column("host", sa.String(300), nullable=False),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id")),
        sa.Column("capture_id", sa.Integer(), sa.ForeignKey("online_captures.id")),
        sa.Column("sha256", sa.String(64)),
        sa.Column("md5", sa.String(32)),
        sa.Column("pdq", sa.String(64)),
        sa.Column("category", sa.String(40)),
        sa.Column("source_label", sa.String(60)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("server_ip", sa.String(64)),
        sa.Column("addresses", sa.Text()),
        sa.Column("asn", sa.BigInteger()),
        sa.Column("org", sa.String(300)),
        sa.Column("country", sa.String(2)),
        _ts("ipdb_built_at"),
        sa.Column("contact_name", sa.String(300)),
        sa.Column("contact_email", sa.String(300)),
        sa.Column("contact_channel", sa.String(20)),
        _ts("first_seen_at", nullable=False),
        _ts("confirmed_at"),
        sa.Column("confirmed_by", sa.String(100)),
        _ts("approved_at"),
        sa.Column("approved_by", sa.String(100)),
        _ts("notified_at"),
        _ts("removed_at"),
        _ts("last_checked_at"),
        _ts("next_check_at"),
        sa.Column("last_outcome", sa.String(40)),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.String(100)),
        sa.Column("content_length", sa.BigInteger()),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("reappearance_of", sa.Integer(), sa.ForeignKey("online_locations.id")),
        sa.UniqueConstraint("case_id", "url"),
    )
    op.create_index("ix_online_locations_due", "online_locations", ["status", "next_check_at"])
    op.create_index("ix_online_locations_sha256", "online_locations", ["sha256"])
    op.create_table(
        "online_holds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id")),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("value", sa.String(300)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        _ts("created_at", nullable=False),
        sa.Column("lifted_by", sa.String(100)),
        _ts("lifted_at"),
    )
    op.create_table(
        "online_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("reference", sa.String(60), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("host", sa.String(300), nullable=False),
        sa.Column("recipient_name", sa.String(300)),
        sa.Column("recipient_email", sa.String(300)),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        _ts("created_at", nullable=False),
        _ts("sent_at"),
        sa.Column("message_id", sa.String(300)),
        sa.Column("error", sa.Text()),
        sa.Column("previous_id", sa.Integer(), sa.ForeignKey("online_notices.id")),
    )
    op.create_index("ix_online_notices_case_id", "online_notices", ["case_id"])
    op.create_table(
        "notice_items",
        sa.Column("notice_id", sa.Integer(), sa.ForeignKey("online_notices.id"), primary_key=True),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("online_locations.id"), primary_key=True),
    )
    op.create_index("ix_notice_items_location_id", "notice_items", ["location_id"])
    op.create_table(
        "online_checks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("online_locations.id"), nullable=False),
        _ts("checked_at", nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("http_status", sa.Integer()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_online_checks_location_id", "online_checks", ["location_id"])
    op.create_table(
        "abuse_contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("email", sa.String(300)),
        sa.Column("country", sa.String(2)),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("asn", sa.BigInteger()),
        sa.Column("domain", sa.String(300)),
        sa.Column("org_contains", sa.String(300)),
        sa.Column("source", sa.String(300)),
        _ts("imported_at", nullable=False),
    )


def downgrade() -> None:
    for table in (
        "abuse_contacts",
        "online_checks",
        "notice_items",
        "online_notices",
        "online_holds",
        "online_locations",
        "capture_exchanges",
        "online_captures",
    ):
        op.drop_table(table)
