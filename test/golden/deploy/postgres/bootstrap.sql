-- Rendered by `shenma render`. Idempotent: safe to run on every `shenma up`.
\set ON_ERROR_STOP on

-- shenma: a line for each thing created, so `shenma up` can say what it changed
SELECT 'created role shenma' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shenma');
SELECT format('CREATE ROLE %I LOGIN', 'shenma') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shenma') \gexec
ALTER ROLE "shenma" WITH LOGIN PASSWORD :'shenma_password';
SELECT 'created database shenma' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'shenma');
SELECT format('CREATE DATABASE %I OWNER %I', 'shenma', 'shenma') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'shenma') \gexec
REVOKE ALL ON DATABASE "shenma" FROM PUBLIC;

-- keycloak: a line for each thing created, so `shenma up` can say what it changed
SELECT 'created role keycloak' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keycloak');
SELECT format('CREATE ROLE %I LOGIN', 'keycloak') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keycloak') \gexec
ALTER ROLE "keycloak" WITH LOGIN PASSWORD :'keycloak_password';
SELECT 'created database keycloak' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'keycloak');
SELECT format('CREATE DATABASE %I OWNER %I', 'keycloak', 'keycloak') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'keycloak') \gexec
REVOKE ALL ON DATABASE "keycloak" FROM PUBLIC;

-- grafana: a line for each thing created, so `shenma up` can say what it changed
SELECT 'created role grafana' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana');
SELECT format('CREATE ROLE %I LOGIN', 'grafana') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana') \gexec
ALTER ROLE "grafana" WITH LOGIN PASSWORD :'grafana_password';
SELECT 'created database grafana' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'grafana');
SELECT format('CREATE DATABASE %I OWNER %I', 'grafana', 'grafana') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'grafana') \gexec
REVOKE ALL ON DATABASE "grafana" FROM PUBLIC;
