-- Run once by the postgres image's entrypoint, on an empty data directory,
-- as the superuser "aegis" (POSTGRES_USER) connected to "aegis" (POSTGRES_DB).
--
-- One PostgreSQL server holds a database per service:
--   aegis                 the AEGIS runtime and temporal worker
--   temporal              Temporal persistence   (schema applied by temporal auto-setup)
--   temporal_visibility   Temporal visibility    (schema applied by temporal auto-setup)
--   keycloak              Keycloak               (schema applied by Keycloak)
--   seaweedfs             SeaweedFS filer metadata (table created by the filer)
--
-- CREATE DATABASE has no IF NOT EXISTS and cannot run in a transaction, so
-- each statement is generated for the missing databases only and run by
-- psql's \gexec, one statement at a time.
SELECT format('CREATE DATABASE %I OWNER aegis', db)
FROM unnest(ARRAY['aegis', 'temporal', 'temporal_visibility', 'keycloak', 'seaweedfs']) AS db
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = db)
\gexec
