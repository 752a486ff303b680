/**
 * PostgreSQL bootstrap: one role and one database per service, created when missing, the
 * role's password set from the secrets on every run (so a changed secret takes effect). Run by
 * the image's first-boot hook and again by every `shenma up`; idempotent.
 */

export interface DatabaseSpec {
  /** Role and database name. */
  name: string;
  /** Environment variable holding the role's password. */
  passwordEnv: string;
}

export function deploymentDatabases(prefix = ''): DatabaseSpec[] {
  return [
    { name: `${prefix}shenma`, passwordEnv: 'SHENMA_DB_PASSWORD' },
    { name: `${prefix}keycloak`, passwordEnv: 'KEYCLOAK_DB_PASSWORD' },
    { name: `${prefix}grafana`, passwordEnv: 'GRAFANA_DB_PASSWORD' },
  ];
}

const psqlVar = (d: DatabaseSpec) => `${d.name}_password`;

/** psql script: passwords arrive as psql variables (`-v`), quoted by psql with :'name'. */
export function renderBootstrapSql(dbs: DatabaseSpec[]): string {
  const lines = [
    '-- Rendered by `shenma render`. Idempotent: safe to run on every `shenma up`.',
    '\\set ON_ERROR_STOP on',
  ];
  for (const d of dbs) {
    const v = psqlVar(d);
    lines.push(
      '',
      `-- ${d.name}: a line for each thing created, so \`shenma up\` can say what it changed`,
      `SELECT 'created role ${d.name}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${d.name}');`,
      `SELECT format('CREATE ROLE %I LOGIN', '${d.name}') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${d.name}') \\gexec`,
      `ALTER ROLE "${d.name}" WITH LOGIN PASSWORD :'${v}';`,
      `SELECT 'created database ${d.name}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${d.name}');`,
      `SELECT format('CREATE DATABASE %I OWNER %I', '${d.name}', '${d.name}') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${d.name}') \\gexec`,
      `REVOKE ALL ON DATABASE "${d.name}" FROM PUBLIC;`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Runs the SQL with the passwords from the container's environment; fails on a missing one. */
export function renderBootstrapScript(dbs: DatabaseSpec[]): string {
  const vars = dbs.map((d) => `  -v ${psqlVar(d)}="\${${d.passwordEnv}:?${d.passwordEnv} is not set}" \\`);
  return [
    '#!/bin/sh',
    '# Rendered by `shenma render`: creates the per-service roles and databases (idempotent).',
    'set -eu',
    '# Quiet, tuples only: what it prints is the list of roles and databases it created.',
    'psql -v ON_ERROR_STOP=1 -q -t -A --username "${POSTGRES_USER:-postgres}" --dbname postgres \\',
    ...vars,
    '  -f /etc/shenma/bootstrap.sql',
    '',
  ].join('\n');
}
