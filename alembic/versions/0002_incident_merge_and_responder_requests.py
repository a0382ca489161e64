"""Incident merge (incidents.merged_into_id, and an index that leads a merged key to its target) and responder
requests (deliveries.responder_request).

Generated with autogenerate against PostgreSQL, reviewed by hand: batch mode so SQLite can add the foreign key,
and a server default so existing deliveries read as ordinary escalation pages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 09:55:26.471033+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('deliveries') as batch:
        batch.add_column(sa.Column('responder_request', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('incidents') as batch:
        batch.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_incidents_merged_into_id_incidents'), 'incidents', ['merged_into_id'],
                                 ['id'], ondelete='SET NULL')
    op.create_index('ix_incidents_merged_dedup', 'incidents', ['service_id', 'dedup_key'], unique=False,
                    postgresql_where=sa.text('merged_into_id IS NOT NULL'),
                    sqlite_where=sa.text('merged_into_id IS NOT NULL'))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_incidents_merged_dedup', table_name='incidents')
    with op.batch_alter_table('incidents') as batch:
        batch.drop_constraint(op.f('fk_incidents_merged_into_id_incidents'), type_='foreignkey')
        batch.drop_column('merged_into_id')
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_column('responder_request')
