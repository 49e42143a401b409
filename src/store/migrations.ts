// Forward-only schema migrations. migrations[i] takes user_version i to i+1.
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE servers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    port INTEGER NOT NULL DEFAULT 22,
    user TEXT NOT NULL,
    auth TEXT NOT NULL CHECK (auth IN ('key', 'agent', 'password')),
    key_path TEXT,
    backup_dir TEXT NOT NULL DEFAULT '/opt/infrakt/backups',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE databases (
    id TEXT PRIMARY KEY,
    server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    engine TEXT NOT NULL CHECK (engine IN ('postgres', 'mysql', 'redis', 'mongodb')),
    mode TEXT NOT NULL CHECK (mode IN ('container', 'host')),
    container TEXT,
    db_host TEXT,
    db_port INTEGER,
    db_user TEXT,
    db_name TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (server_id, name)
  );
  CREATE TABLE s3_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    endpoint_url TEXT NOT NULL,
    bucket TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    access_key TEXT NOT NULL,
    prefix TEXT NOT NULL DEFAULT '',
    provider TEXT NOT NULL DEFAULT 'other',
    path_style INTEGER NOT NULL DEFAULT 0,
    checksum_when_required INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE known_hosts (
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    key_type TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (host, port)
  );
  CREATE TABLE backup_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    database_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,
    location TEXT NOT NULL CHECK (location IN ('local', 's3', 'both')),
    ok INTEGER NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL
  );
  CREATE INDEX backup_history_db ON backup_history (database_id, created_at);
  `,
  `
  CREATE TABLE schedules (
    database_id TEXT PRIMARY KEY,
    cron TEXT NOT NULL,
    local_retention_days INTEGER NOT NULL DEFAULT 7,
    s3_keep_newest INTEGER,
    installed_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  `,
  `
  ALTER TABLE servers ADD COLUMN provisioned_at TEXT;
  ALTER TABLE servers ADD COLUMN aws_cli_version TEXT;
  `,
  // Engines are validated in code (the engine registry), so a new engine needs no
  // schema change; db_path is where an engine whose database is a file keeps it.
  // SQLite cannot drop a CHECK, so the table is rebuilt (nothing references it).
  `
  CREATE TABLE databases_v4 (
    id TEXT PRIMARY KEY,
    server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    engine TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('container', 'host')),
    container TEXT,
    db_host TEXT,
    db_port INTEGER,
    db_user TEXT,
    db_name TEXT,
    db_path TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (server_id, name)
  );
  INSERT INTO databases_v4 (id, server_id, name, engine, mode, container, db_host, db_port, db_user, db_name, created_at)
    SELECT id, server_id, name, engine, mode, container, db_host, db_port, db_user, db_name, created_at FROM databases;
  DROP TABLE databases;
  ALTER TABLE databases_v4 RENAME TO databases;
  `,
  // Retention is the database's policy (Back Up Now and the scheduled run apply
  // the same one): a schedule's local days and S3 keep-newest move onto its
  // database, and the schedules table keeps only when it runs.
  `
  ALTER TABLE databases ADD COLUMN keep_local_days INTEGER;
  ALTER TABLE databases ADD COLUMN keep_s3_newest INTEGER;
  UPDATE databases SET
    keep_local_days = (SELECT local_retention_days FROM schedules WHERE database_id = databases.id),
    keep_s3_newest = (SELECT s3_keep_newest FROM schedules WHERE database_id = databases.id);
  CREATE TABLE schedules_v5 (
    database_id TEXT PRIMARY KEY,
    cron TEXT NOT NULL,
    installed_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  INSERT INTO schedules_v5 (database_id, cron, installed_at, updated_at)
    SELECT database_id, cron, installed_at, updated_at FROM schedules;
  DROP TABLE schedules;
  ALTER TABLE schedules_v5 RENAME TO schedules;
  `,
  // Retention rules per side (keep last N; within N days; daily, weekly, monthly,
  // yearly), as JSON: local days become "within N days" (what they kept), S3
  // keep-newest becomes "last N".
  `
  ALTER TABLE databases ADD COLUMN retention_local TEXT;
  ALTER TABLE databases ADD COLUMN retention_s3 TEXT;
  UPDATE databases SET
    retention_local = CASE WHEN keep_local_days IS NULL THEN NULL ELSE json_object('within', keep_local_days) END,
    retention_s3 = CASE WHEN keep_s3_newest IS NULL THEN NULL ELSE json_object('last', keep_s3_newest) END;
  ALTER TABLE databases DROP COLUMN keep_local_days;
  ALTER TABLE databases DROP COLUMN keep_s3_newest;
  CREATE TABLE retention_default (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    retention_local TEXT,
    retention_s3 TEXT
  );
  `,
  // Backup encryption: the age recipient new backups are encrypted to (a
  // public key; the identities are in SecretStorage), and whether this
  // computer made or imported its identity (own: 0 for a key the user brought).
  `
  CREATE TABLE encryption (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    recipient TEXT NOT NULL,
    own INTEGER NOT NULL,
    updated_at TEXT NOT NULL
  );
  `,
  // Alert destinations: kind, name and when to send (the URL and token are in
  // SecretStorage); position keeps the order the user sees.
  `
  CREATE TABLE alert_destinations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    send_when TEXT NOT NULL,
    position INTEGER NOT NULL,
    created_at TEXT NOT NULL
  );
  `,
  // A schedule's verification restore after its runs: off, each or weekly.
  `
  ALTER TABLE schedules ADD COLUMN verify TEXT NOT NULL DEFAULT 'off';
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
