"""A hash index on the audit's ledgers by user: an erasure finds a user's rows through it
instead of reading the ledgers whole, so its cost no longer grows with them. It costs each
ledger write one index insert; a hash index is the smallest for a 32-byte digest looked up
only by equality.

Revision ID: 0017
Revises: 0016
"""

from app.db.sql_script import execute_script

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        CREATE INDEX ix_acknowledged_user ON audit.acknowledged USING hash (user_hash);
        CREATE INDEX ix_backed_up_user ON audit.backed_up USING hash (user_hash);
    """)


def downgrade() -> None:
    execute_script("""
        DROP INDEX audit.ix_acknowledged_user;
        DROP INDEX audit.ix_backed_up_user;
    """)
