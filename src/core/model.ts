// Entities and their validation. Every value a user can type passes through one
// of these schemas before it is stored or reaches a shell; messages say what is
// wrong and how to fix it.
import { ENGINES, ENGINE_SPECS, type Engine, engineSpec } from './engines';
import { z } from 'zod';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
// Hostnames (RFC 1123 labels), IPv4, or bracket-free IPv6. No leading '-', so a
// host can never be read as an option by ssh or a shell tool.
const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]{2,45}$/;
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
// Absolute POSIX path of safe characters: it is quoted anyway, but a path with
// quotes, spaces or newlines in a backup dir is almost always a mistake.
const REMOTE_DIR_RE = /^\/[A-Za-z0-9._/-]*$/;

export const serverName = z
  .string()
  .trim()
  .regex(NAME_RE, 'Server name may use letters, digits, . _ - (max 63), starting with a letter or digit');

export const hostName = z
  .string()
  .trim()
  .min(1, 'Host is required: a hostname or IP address, e.g. web-1.example.com or 203.0.113.7')
  .max(253, 'Host must be at most 253 characters')
  .refine(
    (h) => HOST_RE.test(h) || (h.includes(':') && IPV6_RE.test(h)),
    'Host must be a hostname or IP address: letters, digits, dots and hyphens, each dot-separated part at most 63 characters and not starting or ending with a hyphen (no spaces or user@)',
  );

/**
 * A number typed as text: decimal digits only (no hex, exponent, sign or
 * fraction — `0x16` is not port 22); numbers pass as they are.
 */
function wholeNumber<T extends z.ZodType<number>>(schema: T) {
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
    schema,
  ) as unknown as z.ZodType<number, number | string>;
}

export const port = wholeNumber(
  z
    .number({ message: 'Port must be a number from 1 to 65535 (digits only)' })
    .int('Port must be a whole number from 1 to 65535')
    .min(1, 'Port must be 1–65535')
    .max(65535, 'Port must be 1–65535'),
);

export const userName = z
  .string()
  .trim()
  .regex(USER_RE, 'User may use letters, digits, _ . - (max 32), starting with a letter or _');

export const remoteDir = z
  .string()
  .trim()
  .regex(
    REMOTE_DIR_RE,
    'Backup directory must be an absolute path of letters, digits, . _ - /, e.g. /opt/infrakt/backups',
  )
  .refine((p) => !p.split('/').includes('..'), 'Backup directory must not contain ".."')
  .transform((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p));

/** A database that is a file on the server (e.g. SQLite): its absolute path. */
export const remoteFile = z
  .string()
  .trim()
  .regex(
    /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/,
    'Database file must be an absolute path of letters, digits, . _ - /, e.g. /srv/app/data.db',
  )
  .refine((p) => !p.split('/').includes('..'), 'Database file must not contain ".."');

export const AUTH_METHODS = ['key', 'agent', 'password'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export const DEFAULT_BACKUP_DIR = '/opt/infrakt/backups';

export const serverInput = z
  .object({
    name: serverName,
    host: hostName,
    port: port.default(22),
    user: userName,
    auth: z.enum(AUTH_METHODS, { message: 'Authentication must be key, agent or password' }),
    keyPath: z.string().trim().optional(),
    backupDir: remoteDir.default(DEFAULT_BACKUP_DIR),
  })
  .superRefine((s, ctx) => {
    if (s.auth === 'key' && !s.keyPath) {
      ctx.addIssue({
        code: 'custom',
        path: ['keyPath'],
        message: 'Choose a private key file for key authentication',
      });
    }
  });
export type ServerInput = z.input<typeof serverInput>;

export interface Server {
  id: string;
  name: string;
  host: string;
  port: number;
  user: string;
  auth: AuthMethod;
  keyPath?: string;
  backupDir: string;
  createdAt: string;
  updatedAt: string;
  /** When Provision Server last finished with no failed step (ISO time); unset until then. */
  provisionedAt?: string;
  /** The awscli that run found on the server, e.g. "aws-cli/2.15.0". */
  awsCliVersion?: string;
  /** Set when the stored row fails the schema typed input passes: why, and what to do. Such a row is shown, never used. */
  problem?: string;
}

export { ENGINES, type Engine } from './engines';

export const ENGINE_LABELS = Object.fromEntries(ENGINE_SPECS.map((e) => [e.id, e.label])) as Record<
  Engine,
  string
>;
export const DEFAULT_PORTS = Object.fromEntries(ENGINE_SPECS.map((e) => [e.id, e.defaultPort])) as Record<
  Engine,
  number
>;

export const DB_MODES = ['container', 'host'] as const;
export type DatabaseMode = (typeof DB_MODES)[number];

export const databaseName = z
  .string()
  .trim()
  .regex(
    NAME_RE,
    'Database name may use letters, digits, . _ - (max 63), starting with a letter or digit — it becomes part of file names and shell commands',
  );

export const containerName = z
  .string()
  .trim()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
    'Container name must start with a letter or digit, then letters, digits, _ . - (at most 128 characters, as Docker allows)',
  );

export const databaseInput = z
  .object({
    serverId: z.string().min(1),
    name: databaseName,
    engine: z.enum(ENGINES, { message: `Engine must be one of ${ENGINES.join(', ')}` }),
    mode: z.enum(DB_MODES, { message: 'Mode must be container or host' }),
    container: containerName.optional(),
    dbHost: hostName.optional(),
    dbPort: port.optional(),
    dbUser: userName.optional(),
    dbName: databaseName.optional(),
    dbPath: remoteFile.optional(),
  })
  .superRefine((d, ctx) => {
    const spec = engineSpec(d.engine);
    if (spec.location !== 'file') return;
    if (d.mode !== 'host')
      ctx.addIssue({
        code: 'custom',
        path: ['mode'],
        message: `A ${spec.label} database is a file on the server, not a container: choose "Installed on the server"`,
      });
    if (!d.dbPath)
      ctx.addIssue({
        code: 'custom',
        path: ['dbPath'],
        message: `A ${spec.label} database needs the path of its file on the server, e.g. /srv/app/data.db`,
      });
  })
  .transform((d) => {
    if (engineSpec(d.engine).location === 'file') {
      return {
        ...d,
        container: undefined,
        dbHost: undefined,
        dbPort: undefined,
        dbUser: undefined,
        dbName: undefined,
      };
    }
    if (d.mode === 'container') {
      return { ...d, container: d.container ?? `infrakt-db-${d.name}`, dbHost: undefined, dbPort: undefined };
    }
    return {
      ...d,
      container: undefined,
      dbHost: d.dbHost ?? '127.0.0.1',
      dbPort: d.dbPort ?? DEFAULT_PORTS[d.engine],
      dbName: d.dbName ?? (engineSpec(d.engine).namedDatabases ? d.name : undefined),
    };
  });
export type DatabaseInput = z.input<typeof databaseInput>;

export interface Database {
  id: string;
  serverId: string;
  name: string;
  engine: Engine;
  mode: DatabaseMode;
  container?: string;
  dbHost?: string;
  dbPort?: number;
  dbUser?: string;
  dbName?: string;
  /** The database file, for engines whose database is a file (SQLite). */
  dbPath?: string;
  /** Which of its backups are kept ({}: all). */
  retention: RetentionPolicy;
  createdAt: string;
  /** Set when the stored row fails the schema typed input passes: why, and what to do. Such a row is shown, never used. */
  problem?: string;
}

/** The rows that can be used for remote work (a row with a `problem` is shown, never used). */
export function usable<T extends { problem?: string }>(rows: readonly T[]): T[] {
  return rows.filter((r) => !r.problem);
}

export interface S3Settings {
  endpointUrl: string;
  bucket: string;
  region: string;
  accessKey: string;
  prefix: string;
  provider: string;
  pathStyle: boolean;
  checksumWhenRequired: boolean;
  createdAt: string;
  updatedAt: string;
}

export type S3SettingsFields = Omit<S3Settings, 'createdAt' | 'updatedAt'>;

export interface KnownHost {
  host: string;
  port: number;
  keyType: string;
  /** "SHA256:<base64>" as ssh-keygen prints it. */
  fingerprint: string;
  addedAt: string;
}

export const BACKUP_LOCATIONS = ['local', 's3', 'both'] as const;
export type BackupLocation = (typeof BACKUP_LOCATIONS)[number];

export interface BackupRecord {
  id: number;
  databaseId: string;
  filename: string;
  sizeBytes: number;
  sha256?: string;
  location: BackupLocation;
  ok: boolean;
  error?: string;
  createdAt: string;
}

/** Every problem of the first field that has one, as one sentence ("…; …"), for an input box or a notification. */
export function firstIssue(error: z.ZodError): string {
  const first = error.issues[0];
  if (!first) return 'Invalid value';
  const path = first.path.join('.');
  const messages = error.issues.filter((i) => i.path.join('.') === path).map((i) => i.message);
  return [...new Set(messages)].join('; ');
}

/**
 * Why a typed password cannot be used as it is, or undefined. Passwords are
 * never trimmed (a space can be part of one); a line break or NUL cannot reach
 * every tool unchanged (MongoDB's config file would fold a line break), so it
 * is refused rather than silently altered.
 */
export function passwordProblem(value: string, label = 'Password'): string | undefined {
  if (/[\r\n]/.test(value)) return `${label} must not contain a line break — paste it again as one line`;
  if (value.includes('\0')) return `${label} must not contain a NUL character`;
  return undefined;
}

/** What a typed value becomes: trimmed, except a password, which is kept exactly as typed. */
export function typedValue(value: string, password = false): string {
  return password ? value : value.trim();
}

/** Parses a value, or throws one readable sentence ("<field>: <what is wrong>"), never zod's JSON. */
export function parseReadable<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`${field}: ${firstIssue(r.error)}`);
  return r.data;
}

/** Validator for a single field, shaped for `InputBox.validateInput`. */
export function fieldValidator<T>(schema: z.ZodType<T>): (value: string) => string | undefined {
  return (value: string) => {
    const r = schema.safeParse(value);
    return r.success ? undefined : firstIssue(r.error);
  };
}

/** When a scheduled run also restores its backup into a scratch copy (a verification restore). */
export const SCHEDULE_VERIFY = ['off', 'each', 'weekly'] as const;
export type ScheduleVerify = (typeof SCHEDULE_VERIFY)[number];

/** A schedule as the user enters it (the cron expression is checked by core/schedule). */
export const scheduleInput = z.object({
  cron: z.string().trim().min(1, 'Enter a cron expression, e.g. 0 2 * * * (daily at 02:00)'),
  verify: z
    .enum(SCHEDULE_VERIFY, { message: 'Verification must be off, each (after every run) or weekly' })
    .default('off'),
});
export type ScheduleInput = z.input<typeof scheduleInput>;

export interface Schedule {
  databaseId: string;
  cron: string;
  /** The verification restore after a run's backup. */
  verify: ScheduleVerify;
  installedAt: string;
  updatedAt: string;
}

/** The kinds of rule a retention policy combines (core/backup/retention.ts says what each keeps). */
export const RETENTION_RULES = ['last', 'within', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type RetentionRuleKind = (typeof RETENTION_RULES)[number];

/** The largest count each rule takes (far beyond any real policy; it bounds a typo). */
export const RETENTION_MAX: Record<RetentionRuleKind, number> = {
  last: 1000,
  within: 3650,
  daily: 3650,
  weekly: 520,
  monthly: 1200,
  yearly: 100,
};

const ruleCount = (kind: RetentionRuleKind) =>
  wholeNumber(
    z
      .number({ message: `"${kind}" needs a whole number (digits only), e.g. ${kind} 7` })
      .int(`"${kind}" needs a whole number, e.g. ${kind} 7`)
      .min(1, `"${kind}" keeps at least 1 (leave the rule out to not use it)`)
      .max(RETENTION_MAX[kind], `"${kind}" is at most ${RETENTION_MAX[kind]}`),
  ).optional();

/**
 * Where one retention rule set applies (the server's disk, or S3): keep the
 * last N, everything of the last N days, and the newest backup of each of the
 * last N days, ISO weeks, months and years that have one. Empty: keep all.
 */
export const retentionRule = z
  .object({
    last: ruleCount('last'),
    within: ruleCount('within'),
    daily: ruleCount('daily'),
    weekly: ruleCount('weekly'),
    monthly: ruleCount('monthly'),
    yearly: ruleCount('yearly'),
  })
  .strict();
export type RetentionRule = z.infer<typeof retentionRule>;

/** A database's retention policy (core/backup/retention.ts); a side left out keeps every backup there. */
export const retentionPolicy = z.object({
  /** The backups of this database on the server's disk. */
  local: retentionRule.optional(),
  /** The verified backups of this database (from this server) in S3. */
  s3: retentionRule.optional(),
});
export type RetentionPolicy = z.infer<typeof retentionPolicy>;
