"""The audit's completeness counts Segment messages kept raw: they end in the backup, not in
the model, so the analysts' view says what `accounted` means for them.

Revision ID: 0013
Revises: 0012
"""

from app.db.sql_script import execute_script

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        COMMENT ON VIEW analytics.audit_completeness IS 'Per minute of receive time the audit has checked: how many acknowledged events reached the model (or await promotion), and Segment messages kept raw, the backup. The promise: at least 99.99% within 5 minutes.';
        COMMENT ON COLUMN analytics.audit_completeness.acknowledged IS 'Events ingest answered 202 (or 200 on the Segment routes) for in that minute, the canary and Segment messages kept raw included.';
        COMMENT ON COLUMN analytics.audit_completeness.accounted IS 'Of those, events in the model or in the fallback awaiting promotion, and Segment messages kept raw that are in the backup.';
    """)


def downgrade() -> None:
    execute_script("""
        COMMENT ON VIEW analytics.audit_completeness IS 'Per minute of receive time the audit has checked: how many acknowledged events reached the model (or await promotion). The promise: at least 99.99% within 5 minutes.';
        COMMENT ON COLUMN analytics.audit_completeness.acknowledged IS 'Events ingest answered 202 for in that minute (the canary included).';
        COMMENT ON COLUMN analytics.audit_completeness.accounted IS 'Of those, events in the model or in the fallback awaiting promotion.';
    """)
