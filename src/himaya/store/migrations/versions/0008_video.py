"""Video: container facts and frame hashes per file, vPDQ thresholds per hash set, match details

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "video_facts",
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id"), primary_key=True),
        sa.Column("duration_s", sa.Float()),
        sa.Column("container", sa.String(80)),
        sa.Column("video_codec", sa.String(40)),
        sa.Column("audio_codec", sa.String(40)),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("frame_rate", sa.Float()),
        sa.Column("creation_time", sa.String(40)),
        sa.Column("make", sa.Text()),
        sa.Column("model", sa.Text()),
        sa.Column("gps_lat", sa.Float()),
        sa.Column("gps_lon", sa.Float()),
        sa.Column("pipeline", sa.String(80)),
        sa.Column("frame_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("frames", sa.Text()),
        sa.Column("frames_trimmed", sa.Text()),
        sa.Column("incomplete", sa.Text()),
    )
    with op.batch_alter_table("hash_sets") as batch:
        batch.add_column(sa.Column("vpdq_query_percent", sa.Float(), nullable=False, server_default="80"))
        batch.add_column(sa.Column("vpdq_compared_percent", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("details", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("details")
    with op.batch_alter_table("hash_sets") as batch:
        batch.drop_column("vpdq_compared_percent")
        batch.drop_column("vpdq_query_percent")
    op.drop_table("video_facts")
