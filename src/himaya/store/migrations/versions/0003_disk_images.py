"""disk images: path specs, deleted / carved flags, file-system times, app origin, evidence layers

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carved", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("origin", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("path_spec", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("accessed", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("changed", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("created", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_files_origin"), ["origin"], unique=False)
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("phone_platform", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.drop_column("phone_platform")
        batch_op.drop_column("details")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_files_origin"))
        for column in ("created", "changed", "accessed", "path_spec", "origin", "carved"):
            batch_op.drop_column(column)
