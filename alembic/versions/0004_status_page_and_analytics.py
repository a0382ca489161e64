"""The public status page (components linked to many services, a manual override, public updates and a public
title on incidents) and the indexes analytics reads windows by (incidents.created_at, deliveries.sent_at,
alerts.received_at).

Generated with autogenerate against PostgreSQL, reviewed by hand: batch mode for SQLite; each component's one
linked service moves to the link table; the old status column (never used) gives way to the nullable override.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 12:58:53+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('component_services',
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['component_id'], ['status_page_components.id'], name=op.f('fk_component_services_component_id_status_page_components'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_component_services_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('component_id', 'service_id', name=op.f('pk_component_services'))
    )
    op.create_index(op.f('ix_component_services_service_id'), 'component_services', ['service_id'], unique=False)
    op.create_table('status_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('investigating', 'identified', 'monitoring', 'resolved')", name=op.f('ck_status_updates_status')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_status_updates_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_status_updates_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_updates'))
    )
    op.create_index('ix_status_updates_incident_created_at', 'status_updates', ['incident_id', 'created_at'], unique=False)
    op.create_index('ix_alerts_received_at', 'alerts', ['received_at'], unique=False)
    op.create_index('ix_deliveries_sent_at', 'deliveries', ['sent_at'], unique=False)
    op.add_column('incidents', sa.Column('public_title', sa.String(length=200), nullable=True))
    op.create_index('ix_incidents_created_at', 'incidents', ['created_at'], unique=False)
    op.execute("INSERT INTO component_services (component_id, service_id) "
               "SELECT id, service_id FROM status_page_components WHERE service_id IS NOT NULL")
    op.drop_index(op.f('ix_status_page_components_service_id'), table_name='status_page_components')
    with op.batch_alter_table('status_page_components') as batch:
        batch.add_column(sa.Column('manual_status', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('created_at', sa.DateTime(timezone=True), nullable=False,
                                   server_default=sa.func.current_timestamp()))
        batch.drop_constraint(op.f('fk_status_page_components_service_id_services'), type_='foreignkey')
        batch.drop_constraint(op.f('ck_status_page_components_status'), type_='check')
        batch.drop_column('service_id')
        batch.drop_column('status')
        batch.create_unique_constraint(op.f('uq_status_page_components_name'), ['name'])
        batch.create_check_constraint('manual_status', "manual_status IN ('operational', 'under_maintenance', "
                                      "'degraded_performance', 'partial_outage', 'major_outage')")
    with op.batch_alter_table('status_page_components') as batch:
        batch.alter_column('created_at', server_default=None)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('status_page_components') as batch:
        batch.drop_constraint(op.f('ck_status_page_components_manual_status'), type_='check')
        batch.drop_constraint(op.f('uq_status_page_components_name'), type_='unique')
        batch.add_column(sa.Column('status', sa.VARCHAR(length=16), nullable=False, server_default='operational'))
        batch.add_column(sa.Column('service_id', sa.INTEGER(), nullable=True))
        batch.create_foreign_key(op.f('fk_status_page_components_service_id_services'), 'services', ['service_id'],
                                 ['id'], ondelete='SET NULL')
        batch.create_check_constraint('status', "status IN ('operational', 'degraded', 'partial_outage', "
                                      "'major_outage')")
        batch.drop_column('created_at')
        batch.drop_column('manual_status')
    op.create_index(op.f('ix_status_page_components_service_id'), 'status_page_components', ['service_id'], unique=False)
    op.execute("UPDATE status_page_components SET service_id = (SELECT min(service_id) FROM "
               "component_services l WHERE l.component_id = status_page_components.id)")
    op.drop_index('ix_incidents_created_at', table_name='incidents')
    op.drop_column('incidents', 'public_title')
    op.drop_index('ix_deliveries_sent_at', table_name='deliveries')
    op.drop_index('ix_alerts_received_at', table_name='alerts')
    op.drop_index('ix_status_updates_incident_created_at', table_name='status_updates')
    op.drop_table('status_updates')
    op.drop_index(op.f('ix_component_services_service_id'), table_name='component_services')
    op.drop_table('component_services')
