"""Web push receipts (deliveries.displayed_at, acted_at), the rule behind each page (deliveries.notification_rule_id)
and "if push is not shown within N seconds, go on to my next rule" (notification_rules.fallthrough_seconds, and
deliveries.shown_by, the deadline the reconciler sweeps).

Generated with autogenerate against PostgreSQL, reviewed by hand: batch mode so SQLite can add the foreign key
and the CHECK constraint autogenerate does not see.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 11:15:00+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('deliveries') as batch:
        batch.add_column(sa.Column('notification_rule_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('displayed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('acted_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('shown_by', sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(op.f('fk_deliveries_notification_rule_id_notification_rules'), 'notification_rules',
                                 ['notification_rule_id'], ['id'], ondelete='SET NULL')
    op.create_index('ix_deliveries_shown_by', 'deliveries', ['shown_by'], unique=False,
                    postgresql_where=sa.text('shown_by IS NOT NULL'), sqlite_where=sa.text('shown_by IS NOT NULL'))
    with op.batch_alter_table('notification_rules') as batch:
        batch.add_column(sa.Column('fallthrough_seconds', sa.Integer(), nullable=True))
        batch.create_check_constraint(
            'fallthrough_seconds_range', 'fallthrough_seconds IS NULL OR fallthrough_seconds BETWEEN 5 AND 3600')


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('notification_rules') as batch:
        batch.drop_constraint('fallthrough_seconds_range', type_='check')
        batch.drop_column('fallthrough_seconds')
    op.drop_index('ix_deliveries_shown_by', table_name='deliveries')
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_constraint(op.f('fk_deliveries_notification_rule_id_notification_rules'), type_='foreignkey')
        batch.drop_column('shown_by')
        batch.drop_column('acted_at')
        batch.drop_column('displayed_at')
        batch.drop_column('notification_rule_id')
