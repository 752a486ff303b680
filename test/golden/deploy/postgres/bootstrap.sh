#!/bin/sh
# Rendered by `shenma render`: creates the per-service roles and databases (idempotent).
set -eu
# Quiet, tuples only: what it prints is the list of roles and databases it created.
psql -v ON_ERROR_STOP=1 -q -t -A --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v shenma_password="${SHENMA_DB_PASSWORD:?SHENMA_DB_PASSWORD is not set}" \
  -v keycloak_password="${KEYCLOAK_DB_PASSWORD:?KEYCLOAK_DB_PASSWORD is not set}" \
  -v grafana_password="${GRAFANA_DB_PASSWORD:?GRAFANA_DB_PASSWORD is not set}" \
  -f /etc/shenma/bootstrap.sql
