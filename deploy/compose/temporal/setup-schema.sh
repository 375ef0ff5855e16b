#!/bin/sh
# Creates Temporal's two databases on temporal-postgres and brings their schemas to the
# version this admin-tools image ships. Idempotent: existing databases are kept, applied
# schema versions are skipped, so running it after bumping TEMPORAL_VERSION upgrades the
# schema (run it before the new server starts: compose does, through depends_on).
# Connection: SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD from the environment.
set -eu

until nc -z "$SQL_HOST" "$SQL_PORT"; do
  echo "waiting for $SQL_HOST:$SQL_PORT"
  sleep 1
done

for db in temporal:temporal temporal_visibility:visibility; do
  name=${db%%:*}
  schema=postgresql/v12/${db#*:}
  temporal-sql-tool --db "$name" create-database
  temporal-sql-tool --db "$name" setup-schema -v 0.0
  temporal-sql-tool --db "$name" update-schema --schema-name "$schema"
done
echo "temporal schema is up to date"
