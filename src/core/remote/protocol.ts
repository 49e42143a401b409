// The remote output protocol, defined once: what scripts print on stdout for
// us to read (lines starting with a mark), the result line (one JSON object),
// and the exit-code table (one number, one meaning). The shell library gets
// the marks and codes as variables in every script's preamble
// (`$infrakt_mark_<name>`, `$infrakt_exit_<name>`), so neither is written twice.
import type { z } from 'zod';

/** Prefix of every machine-readable line a script prints on stdout. */
export const MARK = '@@infrakt:';

const MARK_NAMES = {
  progress: 'progress',
  estimate: 'estimate',
  result: 'result',
  missing: 'missing',
  failed: 'failed',
  nospace: 'nospace',
  file: 'file',
  nodir: 'nodir',
  container: 'container',
  tool: 'tool',
  listen: 'listen',
  docker: 'docker',
  step: 'restore-step',
  warning: 'warning',
  recipient: 'recipient',
  s3step: 's3step',
  s3error: 's3error',
  s3prefix: 's3prefix',
  s3prefixEnd: 's3prefixend',
  localRc: 'localrc',
  awscli: 'awscli',
  listTool: 'listtool',
  retention: 'retention',
  retain: 'retain',
  pgid: 'pgid',
  termSent: 'term-sent',
  deleted: 'deleted',
  schedStatus: 'schedstatus',
  schedScript: 'schedscript',
  schedCron: 'schedcron',
  probe: 'probe',
  provisionStep: 'step',
  alert: 'alert',
  streamIn: 'stream-in',
  vtable: 'vtable',
  verified: 'verified',
} as const;

type MarkName = keyof typeof MARK_NAMES;

export const MARKS = Object.fromEntries(Object.entries(MARK_NAMES).map(([k, v]) => [k, `${MARK}${v}`])) as {
  readonly [K in MarkName]: `${typeof MARK}${(typeof MARK_NAMES)[K]}`;
};

/**
 * Exit codes of our scripts. A tool's own code passes through only as a
 * detail (in the `failed` mark), never as the script's status.
 */
export const EXIT = {
  ok: 0,
  /** A required tool is not installed (the `missing` mark names it). */
  toolMissing: 70,
  /** A stage of the pipeline failed (the `failed` mark names it and its status). */
  stageFailed: 71,
  checksumMismatch: 72,
  /** The backup file named is not on the server. */
  notFound: 73,
  /** The backup has no .sha256, so it cannot be verified. */
  noChecksum: 74,
  /** The local backup is complete and committed; an extra sink (the S3 upload) failed. */
  sinkFailed: 75,
  restoreFailed: 76,
  /** The backup directory cannot be created or written. */
  backupDir: 77,
  /** No free backup file name for this second. */
  nameTaken: 78,
  /** After a restore, the database did not come back within the wait (an engine's own restore step). */
  notReady: 79,
  /** The backup dir has less free space than the last backup of this database took. */
  noSpace: 80,
  /** Scheduled run: the backup is done; deleting old local backups failed. */
  localRetention: 81,
  /** Scheduled run: the backup and upload are done; S3 retention failed. */
  s3Retention: 82,
  /** Scheduled run: another run of the same database holds the lock. */
  busy: 83,
  /** The script could not set itself up (a temp dir, a status dir). */
  setup: 84,
  /** A root-only secret file (S3 credentials, a database password) could not be written or removed. */
  secretFile: 85,
  /** The generated schedule script does not parse in the server's shell. */
  scriptInvalid: 86,
  /** crontab could not be read or refused the change. */
  crontab: 87,
  /** A step of the S3 connection test failed (the step mark says which). */
  s3Step: 88,
  /** Provisioning could not run (no root, no package manager); the step mark says why. */
  provision: 89,
  /** An encrypted backup: no identity given, or none of them opens it; nothing was touched. */
  decrypt: 90,
  /** Restore To… a new database: a database of that name is already there. */
  databaseExists: 91,
  /** Verify Backup: the backup restored into the scratch copy incompletely or not at all (the result line says what). */
  verifyFailed: 92,
  interrupted: 130,
  terminated: 143,
  hangup: 129,
} as const;

/**
 * A sink's status in the result line beyond its own exit code: stopped by the
 * watchdog for making no progress, or never started because its check failed.
 */
export const SINK_STATUS = { stalled: 124, notStarted: 127 } as const;

/** The marks and exit codes as shell variables, for the preamble of every script. */
export const PROTOCOL_VARS: Record<string, string | number> = {
  ...Object.fromEntries(Object.entries(MARKS).map(([k, v]) => [`infrakt_mark_${snake(k)}`, v])),
  ...Object.fromEntries(Object.entries(EXIT).map(([k, v]) => [`infrakt_exit_${snake(k)}`, v])),
  ...Object.fromEntries(Object.entries(SINK_STATUS).map(([k, v]) => [`infrakt_sink_${snake(k)}`, v])),
};

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The text after `<mark> ` on the first line that has it. */
export function markValue(stdout: string, mark: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${mark} `));
  return line?.slice(mark.length + 1).trim();
}

/** The text after `<mark> ` on every line that has it. */
export function markValues(stdout: string, mark: string): string[] {
  const p = `${mark} `;
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(p))
    .map((l) => l.slice(p.length).trim());
}

/** The first result line that parses with `schema` (others, of other shapes, may come before it). */
export function parseResultLine<T>(stdout: string, schema: z.ZodType<T>): T | undefined {
  for (const v of markValues(stdout, MARKS.result)) {
    try {
      const r = schema.safeParse(JSON.parse(v));
      if (r.success) return r.data;
    } catch {
      // not JSON: not this line
    }
  }
  return undefined;
}
