"""hash-set history, formats and re-matching

Entries now live from the version that added them until the version that retired them, instead of being
copied into every version. Existing stores are converted: each version's copy of an entry is retired by
the version after it, so the latest version's entries are the active ones and history reads the same.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rematch_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("versions_json", sa.Text(), nullable=False),
        sa.Column("files_checked", sa.Integer(), nullable=False),
        sa.Column("new_matches", sa.Integer(), nullable=False),
        sa.Column("lost_matches", sa.Integer(), nullable=False),
        sa.Column("kept_matches", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rematch_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rematch_runs_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("hash_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dihedral", sa.Boolean(), nullable=False, server_default=sa.true()))

    with op.batch_alter_table("hash_set_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category_scheme", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("added_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("removed_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("changed_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("details", sa.Text(), nullable=True))

    with op.batch_alter_table("hash_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hash_set_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("retired_version_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("media_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("details", sa.Text(), nullable=True))

    op.execute(
        "UPDATE hash_entries SET hash_set_id = "
        "(SELECT v.hash_set_id FROM hash_set_versions v WHERE v.id = hash_entries.version_id)"
    )
    op.execute(
        "UPDATE hash_entries SET retired_version_id = ("
        " SELECT nv.id FROM hash_set_versions v JOIN hash_set_versions nv"
        " ON nv.hash_set_id = v.hash_set_id AND nv.version = v.version + 1"
        " WHERE v.id = hash_entries.version_id)"
    )

    with op.batch_alter_table("hash_entries", schema=None) as batch_op:
        batch_op.alter_column("hash_set_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("fk_hash_entries_hash_set_id", "hash_sets", ["hash_set_id"], ["id"])
        batch_op.create_foreign_key(
            "fk_hash_entries_retired_version_id", "hash_set_versions", ["retired_version_id"], ["id"]
        )
        batch_op.create_index("ix_hash_entries_set_hash", ["hash_set_id", "hash_type", "value"], unique=False)

    with op.batch_alter_table("media_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdq_dihedral", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("pdq_trimmed", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("pdq_trimmed_quality", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pdq_trimmed_pipeline", sa.String(length=80), nullable=True))

    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rematch_run_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retired_run_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_matches_rematch_run_id", "rematch_runs", ["rematch_run_id"], ["id"])
        batch_op.create_foreign_key("fk_matches_retired_run_id", "rematch_runs", ["retired_run_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_constraint("fk_matches_retired_run_id", type_="foreignkey")
        batch_op.drop_constraint("fk_matches_rematch_run_id", type_="foreignkey")
        batch_op.drop_column("retired_run_id")
        batch_op.drop_column("retired_at")
        batch_op.drop_column("rematch_run_id")
    with op.batch_alter_table("media_facts", schema=None) as batch_op:
        for column in ("pdq_trimmed_pipeline", "pdq_trimmed_quality", "pdq_trimmed", "pdq_dihedral"):
            batch_op.drop_column(column)
    with op.batch_alter_table("hash_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_hash_entries_set_hash")
        batch_op.drop_constraint("fk_hash_entries_retired_version_id", type_="foreignkey")
        batch_op.drop_constraint("fk_hash_entries_hash_set_id", type_="foreignkey")
        for column in ("details", "media_id", "retired_version_id", "hash_set_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("hash_set_versions", schema=None) as batch_op:
        for column in ("details", "changed_count", "removed_count", "added_count", "category_scheme"):
            batch_op.drop_column(column)
    with op.batch_alter_table("hash_sets", schema=None) as batch_op:
        batch_op.drop_column("dihedral")
    with op.batch_alter_table("rematch_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rematch_runs_case_id"))
    op.drop_table("rematch_runs")
