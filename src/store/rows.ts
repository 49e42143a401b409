// Rows of the store's tables as the model's types, read back through the same
// schemas typed input passes. A server or database row that does not pass keeps
// its values for the tree but carries `problem` (why, and what to do), and is
// never used for remote work; a retention rule that does not pass is dropped.
import type { SqlValue } from 'sql.js';
import type { z } from 'zod';
import {
  type BackupLocation,
  type BackupRecord,
  type Database,
  type KnownHost,
  type RetentionPolicy,
  type RetentionRule,
  type S3Settings,
  SCHEDULE_VERIFY,
  type Schedule,
  type ScheduleVerify,
  type Server,
  databaseInput,
  firstIssue,
  retentionRule,
  serverInput,
} from '../core/model';

export type Row = Record<string, SqlValue>;

const str = (v: SqlValue): string | undefined => (v === null || v === undefined ? undefined : String(v));

/** Why a stored row fails its schema, as one sentence ending in what to do; undefined when it passes. */
function problemOf(schema: z.ZodType, value: unknown, what: string, fix: string): string | undefined {
  let r: ReturnType<z.ZodType['safeParse']>;
  try {
    r = schema.safeParse(value);
  } catch {
    return `The stored ${what} is unreadable — ${fix}`;
  }
  return r.success ? undefined : `The stored ${what} is broken: ${firstIssue(r.error)} — ${fix}`;
}

export function toServer(r: Row): Server {
  const server: Server = {
    id: String(r.id),
    name: String(r.name),
    host: String(r.host),
    port: Number(r.port),
    user: String(r.user),
    auth: String(r.auth) as Server['auth'],
    keyPath: str(r.key_path),
    backupDir: String(r.backup_dir),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    provisionedAt: str(r.provisioned_at),
    awsCliVersion: str(r.aws_cli_version),
  };
  const problem = problemOf(
    serverInput,
    {
      name: server.name,
      host: server.host,
      port: server.port,
      user: server.user,
      auth: server.auth,
      keyPath: server.keyPath,
      backupDir: server.backupDir,
    },
    `server ${JSON.stringify(server.name)}`,
    'edit the server to fix it, or remove it',
  );
  return problem ? { ...server, problem } : server;
}

export function toDatabase(r: Row): Database {
  const database: Database = {
    id: String(r.id),
    serverId: String(r.server_id),
    name: String(r.name),
    engine: String(r.engine) as Database['engine'],
    mode: String(r.mode) as Database['mode'],
    container: str(r.container),
    dbHost: str(r.db_host),
    dbPort: r.db_port === null ? undefined : Number(r.db_port),
    dbUser: str(r.db_user),
    dbName: str(r.db_name),
    dbPath: str(r.db_path),
    retention: toRetention(r),
    createdAt: String(r.created_at),
  };
  const { id: _id, retention: _retention, createdAt: _createdAt, ...input } = database;
  const problem = problemOf(
    databaseInput,
    input,
    `database ${JSON.stringify(database.name)}`,
    'remove it and add it again',
  );
  return problem ? { ...database, problem } : database;
}

export function toS3(r: Row): S3Settings {
  return {
    endpointUrl: String(r.endpoint_url),
    bucket: String(r.bucket),
    region: String(r.region),
    accessKey: String(r.access_key),
    prefix: String(r.prefix),
    provider: String(r.provider),
    pathStyle: Number(r.path_style) === 1,
    checksumWhenRequired: Number(r.checksum_when_required) === 1,
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
  };
}

export function toKnownHost(r: Row): KnownHost {
  return {
    host: String(r.host),
    port: Number(r.port),
    keyType: String(r.key_type),
    fingerprint: String(r.fingerprint),
    addedAt: String(r.added_at),
  };
}

export function toBackup(r: Row): BackupRecord {
  return {
    id: Number(r.id),
    databaseId: String(r.database_id),
    filename: String(r.filename),
    sizeBytes: Number(r.size_bytes),
    sha256: str(r.sha256),
    location: String(r.location) as BackupLocation,
    ok: Number(r.ok) === 1,
    error: str(r.error),
    createdAt: String(r.created_at),
  };
}

/** A stored policy read back through its schema; a rule that does not pass is dropped (that keeps more, never less). */
export function toRetention(r: Row): RetentionPolicy {
  const out: RetentionPolicy = {};
  const local = storedRule(r.retention_local);
  if (local) out.local = local;
  const s3 = storedRule(r.retention_s3);
  if (s3) out.s3 = s3;
  return out;
}

function storedRule(v: unknown): RetentionRule | undefined {
  if (typeof v !== 'string') return undefined;
  try {
    const r = retentionRule.safeParse(JSON.parse(v));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** A stored verification setting; one this version does not know reads as off. */
function scheduleVerify(v: unknown): ScheduleVerify {
  return SCHEDULE_VERIFY.find((s) => s === v) ?? 'off';
}

export function toSchedule(r: Row): Schedule {
  return {
    databaseId: String(r.database_id),
    cron: String(r.cron),
    verify: scheduleVerify(r.verify),
    installedAt: String(r.installed_at),
    updatedAt: String(r.updated_at),
  };
}
