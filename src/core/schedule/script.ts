// Scheduled backups on the server. Pure script builders and parsers:
//
// - scheduledBackupScript: the file cron runs, `<backup dir>/backup-<db>.sh`.
//   It wraps the ONE backup pipeline (backupScript, as Back Up Now runs it:
//   .partial + rename, sha256, S3 upload as a second consumer of the stream),
//   then applies local retention and S3 keep-newest-N, and writes a status
//   record and a size-capped log. It holds no secret: S3 credentials come from
//   a root-only shared-credentials file (AWS_SHARED_CREDENTIALS_FILE, profile
//   `infrakt`), a host-mode database password from a root-only file it sources.
//   Every failure (dump, upload, retention) ends the run non-zero and is
//   written into the status record.
// - credentialsFileScript / passwordFileScript: write those root-only files
//   (0600 in a 0700 dir) from the stdin script, the only place the secret is.
// - installScheduleScript / unscheduleScript: the script file (atomic, 0700)
//   and the crontab entry with its marker, both idempotent.
// - parseScheduleStatus: the status records, scripts and crontab entries of a
//   server, listed in the tree's one listing round trip (remote/sh/list.sh).
import { z } from 'zod';
import { backupParts } from '../backup/backupScript';
import { BackupError } from '../backup/errors';
import { check } from '../backup/serverCheck';
import { MARKS } from '../remote/protocol';
import { type BackupTarget, checkTarget } from '../backup/target';
import {
  type Engine,
  type RetentionPolicy,
  type ScheduleVerify,
  databaseName,
  remoteDir,
  retentionPolicy,
} from '../model';
import { verifyRefusal } from '../backup/verify';
import { readyPolls } from '../backup/restoreScript';
import { accessKey, secretKey } from '../s3/settings';
import { type S3Credentials, SCHEDULE_AWS_PROFILE, s3UploadSink } from '../s3/scripts';
import { SH } from '../remote/modules';
import { markValues, parseResultLine } from '../remote/protocol';
import { engineSpec, isEngine } from '../engines';
import { type ShellVars, remoteScript } from '../remote/script';
import { describeRetention, keepsAll } from '../backup/retention';
import { type RunStatus, cronLine, cronMarker, runStatus } from './cron';

/** Where scheduled runs read the S3 credentials: root-only, the one exception to "secrets stay in SecretStorage" (README, "Where things are kept"). */
export const DEFAULT_AWS_CREDENTIALS_PATH = '/opt/infrakt/.aws/credentials';
/** Directory of the root-only database password files of scheduled host-mode backups. */
export const DEFAULT_PASSWORD_DIR = '/opt/infrakt/.secrets';
/** The log is trimmed to its last half when it grows past this. */
export const DEFAULT_LOG_CAP_BYTES = 1024 * 1024;

export interface SchedulePaths {
  script: string;
  statusDir: string;
  status: string;
  log: string;
  lock: string;
}

/** Files of one database's schedule under the server's backup dir. */
export function schedulePaths(backupDir: string, database: string): SchedulePaths {
  const dir = check(remoteDir, backupDir, 'Backup directory');
  const name = check(databaseName, database, 'Database name');
  const statusDir = `${dir}/.status`;
  return {
    script: `${dir}/backup-${name}.sh`,
    statusDir,
    status: `${statusDir}/${name}.json`,
    log: `${statusDir}/${name}.log`,
    lock: `${statusDir}/${name}.lock`,
  };
}

/** Default root-only password file of a host-mode database (sourced by the scheduled script). */
export function defaultPasswordFilePath(database: string): string {
  return `${DEFAULT_PASSWORD_DIR}/${check(databaseName, database, 'Database name')}.env`;
}

export interface ScheduleS3 {
  /** The non-secret S3 settings (endpoint, bucket, region, prefix, compatibility flags). */
  settings: S3Credentials['settings'];
  /** Root-only shared-credentials file on the server (default DEFAULT_AWS_CREDENTIALS_PATH). */
  credentialsPath?: string;
  /** Seconds without progress before the upload is stopped as stalled (the s3UploadSink default when unset). */
  stallSeconds?: number;
}

export interface ScheduledBackupOptions {
  /** Host mode: `password` must be `none` or `{ kind: 'file' }` — never inline. */
  target: BackupTarget;
  /** The database's retention policy, applied by the pipeline after each run's backup. */
  retention: RetentionPolicy;
  /** Upload to S3 as Back Up Now does; off when unset. */
  s3?: ScheduleS3;
  /** Encrypt to this age recipient (the public key only: no secret in the script). */
  encryptTo?: string;
  /** Send alerts to the destinations in this root-only file (alerts/scripts.ts); none when unset. */
  alertsPath?: string;
  /** The verification restore after a good backup: each run, or weekly; off when unset. */
  verify?: ScheduleVerify;
  logCapBytes?: number;
}

/** What a schedule's verification setting does for this database: off where it cannot run. */
export function effectiveScheduleVerify(
  verify: ScheduleVerify,
  d: { engine: Engine; mode: 'host' | 'container' },
  encrypted: boolean,
): ScheduleVerify {
  return verify !== 'off' && scheduledVerifyRefusal(d, encrypted) ? 'off' : verify;
}

/** Why a schedule cannot verify its backups on the server, or undefined when it can. */
export function scheduledVerifyRefusal(
  d: { engine: Engine; mode: 'host' | 'container' },
  encrypted: boolean,
): string | undefined {
  return (
    verifyRefusal(d) ??
    (encrypted
      ? 'An encrypted backup is verified only from VS Code (Verify Backup), where its key is: the server never holds it'
      : undefined)
  );
}

/** A scheduled run's policy: valid, and with a local rule (a schedule must not fill the disk by itself). */
function checkedRetention(p: RetentionPolicy): RetentionPolicy {
  const r = retentionPolicy.safeParse(p);
  if (!r.success)
    throw new BackupError('invalid-input', r.error.issues[0]?.message ?? 'invalid retention policy');
  if (keepsAll(r.data.local))
    throw new BackupError(
      'invalid-input',
      'A scheduled backup needs a retention rule on the server (e.g. last 7): set it with Set Retention…',
    );
  return r.data;
}

const PREFIX_RE = /^([A-Za-z0-9._-]+\/)*$/;

/** The script cron runs for one database (remote/sh/schedule.sh). Contains no secret. */
export function scheduledBackupScript(o: ScheduledBackupOptions): string {
  const t = checkTarget(o.target);
  if (t.password.kind === 'inline') {
    throw new BackupError(
      'invalid-input',
      'A scheduled backup cannot carry the database password in its script: store it in a root-only password file (passwordFileScript) and use { kind: "file" }',
    );
  }
  const retention = checkedRetention(o.retention);
  const cap = o.logCapBytes ?? DEFAULT_LOG_CAP_BYTES;
  if (!Number.isInteger(cap) || cap < 4096)
    throw new BackupError('invalid-input', 'Log cap must be ≥ 4096 bytes');
  const paths = schedulePaths(t.backupDir, t.name);
  const s3 = o.s3;
  if (s3 && !PREFIX_RE.test(s3.settings.prefix))
    throw new BackupError('invalid-input', 'S3 path prefix must be normalised (empty or ending in "/")');
  const credentialsPath = s3
    ? check(remoteDir, s3.credentialsPath ?? DEFAULT_AWS_CREDENTIALS_PATH, 'S3 credentials file')
    : '';
  const sink = s3
    ? s3UploadSink({ settings: s3.settings, credentialsPath }, t.name, { stallSeconds: s3.stallSeconds })
    : undefined;
  // The one pipeline, exactly as Back Up Now builds it.
  const { vars, modules } = backupParts(o.target, {
    extraSinks: sink ? [sink] : [],
    progressInterval: 60,
    retention,
    encryptTo: o.encryptTo,
    // Unattended and at most a few times a day: every run sweeps.
    sweepEverySeconds: 0,
  });
  const alertsPath = o.alertsPath ? check(remoteDir, o.alertsPath, 'Alert destinations file') : '';
  const verify = o.verify ?? 'off';
  if (verify !== 'off') {
    const refusal = scheduledVerifyRefusal(t, o.encryptTo !== undefined);
    if (refusal) throw new BackupError('invalid-input', refusal);
  }
  const sources = [
    alertsPath ? `alert destinations from ${alertsPath}` : '',
    s3 ? `S3 credentials are read from ${credentialsPath} (profile ${SCHEDULE_AWS_PROFILE})` : '',
    t.password.kind === 'file' ? `the database password from ${t.password.path}` : '',
  ].filter(Boolean);
  return remoteScript({
    header: [
      '#!/bin/sh',
      `# infrakt: scheduled backup of ${t.name} (${t.engine}, ${t.mode}) on ${t.serverName}.`,
      '# Generated by infrakt (Schedule Backups); reinstalling replaces this file.',
      `# Runs the same pipeline as Back Up Now (${describeRetention(retention)}),`,
      ...(verify === 'off'
        ? []
        : [
            `# After a good backup (${verify === 'each' ? 'every run' : 'weekly'}) it restores it into a scratch copy to verify it.`,
          ]),
      `# and records each run in ${paths.status} (log: ${paths.log}).`,
      sources.length ? `# It holds no secret: ${sources.join('; ')}.` : '# It holds no secret.',
    ],
    vars: {
      ...vars,
      infrakt_s_status_dir: paths.statusDir,
      infrakt_s_status: paths.status,
      infrakt_s_log: paths.log,
      infrakt_s_lock: paths.lock,
      infrakt_s_cap: cap,
      infrakt_s_title: `${t.name} (${t.engine}) on ${t.serverName}`,
      infrakt_s_s3: s3 !== undefined,
      infrakt_s_alerts: alertsPath,
      infrakt_s_verify: verify,
      ...(verify === 'off' ? {} : { infrakt_restore_polls: readyPolls() }),
      infrakt_alert_server: t.serverName,
      infrakt_alert_database: t.name,
      infrakt_alert_engine: t.engine,
    },
    modules: [
      ...modules,
      SH.aws,
      SH.httpclient,
      SH.alert,
      ...(verify === 'off' ? [] : [SH.restore, SH.verify]),
      SH.schedule,
    ],
    call: 'infrakt_scheduled',
  });
}

/** A root-only secret file's script (remote/sh/schedule-admin.sh): its path, and its text or variable. */
export function secretFileScript(path: string, label: string, content: ShellVars): string {
  const p = check(remoteDir, path, label);
  const dir = p.slice(0, p.lastIndexOf('/')) || '/';
  if (dir === '/')
    throw new BackupError('invalid-input', `${label}: use a file inside a directory of its own`);
  return remoteScript({
    vars: { infrakt_path: p, ...content },
    modules: [SH.scheduleAdmin],
    call: 'infrakt_write_secret_file',
  });
}

/**
 * Writes the root-only shared-credentials file scheduled uploads read (profile
 * `infrakt`; 0600 in a 0700 dir, replaced atomically; unchanged when equal).
 * The secret is only inside this stdin script.
 */
export function credentialsFileScript(
  settings: Pick<S3Credentials['settings'], 'accessKey'>,
  secret: string,
  path: string = DEFAULT_AWS_CREDENTIALS_PATH,
): string {
  const key = check(accessKey, settings.accessKey, 'Access key');
  const sec = check(secretKey, secret, 'Secret key');
  if (!sec) throw new BackupError('invalid-input', 'Secret key is required for scheduled uploads');
  return secretFileScript(path, 'S3 credentials file', {
    infrakt_secret_text: {
      value: `[${SCHEDULE_AWS_PROFILE}]\naws_access_key_id = ${key}\naws_secret_access_key = ${sec}\n`,
      field: 'Secret key',
    },
  });
}

/** Removes a secret file (S3 credentials or a database password file); nothing to do when absent. */
export function removeCredentialsFileScript(path: string = DEFAULT_AWS_CREDENTIALS_PATH): string {
  const p = check(remoteDir, path, 'Credentials file');
  return remoteScript({
    vars: { infrakt_path: p },
    modules: [SH.scheduleAdmin],
    call: 'infrakt_remove_secret_file',
  });
}

/**
 * Writes the root-only file a scheduled host-mode backup sources for its
 * database password (`PasswordSource { kind: 'file', path }`).
 */
export function passwordFileScript(engine: Engine, password: string, path: string): string {
  const v = isEngine(engine) ? engineSpec(engine).passwordEnv : '';
  if (!v) throw new BackupError('invalid-input', `Unknown engine "${String(engine)}"`);
  return secretFileScript(path, 'Password file', {
    infrakt_secret_env: v,
    infrakt_secret_value: { value: password, field: 'Database password' },
  });
}

export interface InstallScheduleOptions extends ScheduledBackupOptions {
  /** The database's id (the crontab marker). */
  databaseId: string;
  /** Cron expression (validated). */
  expression: string;
}

/**
 * Installs (or replaces) the schedule: the script file, written to a temp
 * file, syntax-checked, made 0700 and renamed over `backup-<db>.sh`; then the
 * crontab entry with its marker. Running it twice changes nothing.
 * Warnings (no cron daemon, missing credentials or password file) are
 * printed as `@@infrakt:warning <text>` lines.
 */
export function installScheduleScript(o: InstallScheduleOptions): string {
  const text = scheduledBackupScript(o);
  const t = checkTarget(o.target);
  const paths = schedulePaths(t.backupDir, t.name);
  const cron = cronLine({
    databaseId: o.databaseId,
    expression: o.expression,
    scriptPath: paths.script,
    logPath: paths.log,
  });
  const credentials = o.s3
    ? check(remoteDir, o.s3.credentialsPath ?? DEFAULT_AWS_CREDENTIALS_PATH, 'S3 credentials file')
    : '';
  return remoteScript({
    vars: {
      infrakt_dir: t.backupDir,
      infrakt_status_dir: paths.statusDir,
      infrakt_script: paths.script,
      infrakt_script_text: text,
      infrakt_cron_line: cron.line,
      infrakt_cron_marker: cron.marker,
      infrakt_cron_expression: cron.expression,
      infrakt_need_credentials: credentials,
      infrakt_need_aws: o.s3 !== undefined,
      infrakt_need_http: o.alertsPath !== undefined,
      infrakt_need_password: t.password.kind === 'file' ? t.password.path : '',
    },
    modules: [SH.crond, SH.httpclient, SH.scheduleAdmin],
    call: 'infrakt_install_schedule',
  });
}

export interface UnscheduleOptions {
  databaseId: string;
  backupDir: string;
  databaseName: string;
  /** Also remove this database's password file. */
  passwordFile?: string;
}

/**
 * Removes the crontab entry, then the script, its status record and lock
 * (the log stays, for the record). Nothing to do when already gone.
 */
export function unscheduleScript(o: UnscheduleOptions): string {
  const paths = schedulePaths(o.backupDir, o.databaseName);
  const pw = o.passwordFile === undefined ? undefined : check(remoteDir, o.passwordFile, 'Password file');
  return remoteScript({
    vars: {
      infrakt_cron_marker: cronMarker(o.databaseId),
      infrakt_script: paths.script,
      infrakt_remove: [paths.script, paths.status, paths.lock, ...(pw ? [pw] : [])],
    },
    modules: [SH.scheduleAdmin],
    call: 'infrakt_unschedule',
  });
}

export interface ScheduleStatusListing {
  /** Last run per database name. */
  status: Map<string, RunStatus>;
  /** Status records that could not be read, per database name (why). */
  unreadable: Map<string, string>;
  /** Database names with an installed `backup-<db>.sh`. */
  scripts: Set<string>;
  /** Crontab entries per database id: the whole line before the marker (schedule and command). */
  cron: Map<string, string>;
}

/** Parses the schedules' part of a listing (`localListingScript(…, { schedules: true })`; anything else in stdout is ignored). */
export function parseScheduleStatus(stdout: string): ScheduleStatusListing {
  const out: ScheduleStatusListing = {
    status: new Map(),
    unreadable: new Map(),
    scripts: new Set(),
    cron: new Map(),
  };
  const M = { status: MARKS.schedStatus, script: MARKS.schedScript, cron: MARKS.schedCron };
  for (const line of stdout.split('\n')) {
    if (line.startsWith(`${M.status} `)) {
      const rest = line.slice(M.status.length + 1);
      const sp = rest.indexOf(' ');
      const name = sp < 0 ? rest : rest.slice(0, sp);
      const json = sp < 0 ? '' : rest.slice(sp + 1).trim();
      if (!databaseName.safeParse(name).success) continue;
      try {
        const r = runStatus.safeParse(JSON.parse(json));
        if (r.success) out.status.set(name, r.data);
        else out.unreadable.set(name, `unexpected status record: ${r.error.issues[0]?.message ?? ''}`);
      } catch {
        out.unreadable.set(name, json ? 'the status record is not valid JSON' : 'the status record is empty');
      }
    } else if (line.startsWith(`${M.script} `)) {
      const name = line.slice(M.script.length + 1).trim();
      if (databaseName.safeParse(name).success) out.scripts.add(name);
    } else if (line.startsWith(`${M.cron} `)) {
      const m = /^(\S+) (.*)$/.exec(line.slice(M.cron.length + 1));
      if (m) out.cron.set(m[1], m[2]);
    }
  }
  return out;
}

/** Warnings an install printed (`@@infrakt:warning <text>`). */
export function parseWarnings(stdout: string): string[] {
  return markValues(stdout, MARKS.warning);
}

const installResult = z.object({ script: z.string(), changed: z.boolean(), cron: z.string() });
export type InstallResult = z.infer<typeof installResult> & { warnings: string[] };

/** The install script's result (the first result line of its shape: others may come before it), or undefined when it did not finish. */
export function parseInstallResult(stdout: string): InstallResult | undefined {
  const r = parseResultLine(stdout, installResult);
  return r && { ...r, warnings: parseWarnings(stdout) };
}
