"""Key lifecycle, weather-station visibility and the tariff / accounting-policy registry.

- api_keys: optional expiry and the time of last use (recorded at most once a minute per key).
- weather_stations.shared: a park-shared station any key may list and attach; otherwise the
  station is private to the enterprise that owns its meters. Stations registered before this
  revision were all registered by operators and visible to every key, so they stay shared.
- registry_documents: tariffs and accounting policies uploaded by operators as content
  (validated by the library's parser), chosen by name next to the shipped data files.
- meters and PV arrays: codes unique per enterprise (no longer park-wide), so creating one never
  tells a key whether another enterprise uses that code.

Revision ID: 0010_keys_registry
Revises: 0009_reading_partitions
"""

from __future__ import annotations

from alembic import op

revision = "0010_keys_registry"
down_revision = "0009_reading_partitions"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
ALTER TABLE weather_stations ADD COLUMN shared boolean NOT NULL DEFAULT false;
UPDATE weather_stations SET shared = true;
ALTER TABLE meters DROP CONSTRAINT meters_code_key;
ALTER TABLE meters ADD CONSTRAINT meters_enterprise_code_key UNIQUE (enterprise_id, code);
CREATE INDEX meters_code_idx ON meters (code);
ALTER TABLE pv_arrays DROP CONSTRAINT pv_arrays_code_key;
ALTER TABLE pv_arrays ADD CONSTRAINT pv_arrays_enterprise_code_key UNIQUE (enterprise_id, code);
CREATE INDEX pv_arrays_code_idx ON pv_arrays (code);
CREATE TABLE registry_documents (
    id serial PRIMARY KEY,
    kind varchar(24) NOT NULL CHECK (kind IN ('tariff', 'accounting_policy')),
    name varchar(64) NOT NULL,
    version text NOT NULL DEFAULT '',
    content jsonb NOT NULL,
    api_key_id integer REFERENCES api_keys(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, name)
);
"""


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(SCHEMA)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        "DROP TABLE IF EXISTS registry_documents;"
        " DROP INDEX IF EXISTS pv_arrays_code_idx;"
        " ALTER TABLE pv_arrays DROP CONSTRAINT IF EXISTS pv_arrays_enterprise_code_key;"
        " ALTER TABLE pv_arrays ADD CONSTRAINT pv_arrays_code_key UNIQUE (code);"
        " DROP INDEX IF EXISTS meters_code_idx;"
        " ALTER TABLE meters DROP CONSTRAINT IF EXISTS meters_enterprise_code_key;"
        " ALTER TABLE meters ADD CONSTRAINT meters_code_key UNIQUE (code);"
        " ALTER TABLE weather_stations DROP COLUMN IF EXISTS shared;"
        " ALTER TABLE api_keys DROP COLUMN IF EXISTS last_used_at;"
        " ALTER TABLE api_keys DROP COLUMN IF EXISTS expires_at;"
    )
