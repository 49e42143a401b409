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
// - statusLines / parseScheduleStatus: the status records, scripts and
//   crontab entries of a server, appended to the tree's one listing round trip.
import { z } from 'zod';
import { backupParts } from './backup/backupScript';
import { BackupError, EXIT } from './backup/errors';
import { COMPRESSIONS } from './backup/naming';
import { check } from './backup/serverCheck';
import { MARKS, shellQuote as q, wholeScript } from './backup/shell';
import { type BackupTarget, checkTarget } from './backup/target';
import { type Engine, databaseName, remoteDir } from './model';
import { accessKey, secretKey } from './s3Settings';
import { type S3Credentials, SCHEDULE_AWS_PROFILE, s3UploadSink } from './s3Scripts';
import { SH } from './remote/modules';
import { markValues, parseResultLine } from './remote/protocol';
import { engineSpec, isEngine } from './engines';
import { remoteScript } from './remote/script';
import { type RunStatus, cronExpression, installCronLines, removeCronLines, runStatus } from './schedule';

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
  /** Keep only the newest N backups of this database in S3 (after a successful upload); off when unset. */
  keepNewest?: number;
  /** Seconds without progress before the upload is stopped as stalled (the s3UploadSink default when unset). */
  stallSeconds?: number;
}

export interface ScheduledBackupOptions {
  /** Host mode: `password` must be `none` or `{ kind: 'file' }` — never inline. */
  target: BackupTarget;
  /** Delete this database's local backups older than this many days (after a successful backup). */
  localRetentionDays: number;
  /** Upload to S3 as Back Up Now does; off when unset. */
  s3?: ScheduleS3;
  logCapBytes?: number;
}

/** "<format>.<ext>" endings a backup of this engine may have (the same rule as parseBackupName). */
function backupTails(engine: Engine): string {
  return engineSpec(engine)
    .formats.flatMap((f) => COMPRESSIONS.map((c) => `${f}.${c}`))
    .join(' ');
}

function checkedRetention(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new BackupError('invalid-input', 'Local retention must be a whole number of days from 1 to 3650');
  return days;
}

function checkedKeep(n: number | undefined): number {
  if (n === undefined || n === 0) return 0;
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new BackupError('invalid-input', 'S3 keep-newest must be a whole number from 1 to 1000');
  return n;
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
  const days = checkedRetention(o.localRetentionDays);
  const keep = o.s3 ? checkedKeep(o.s3.keepNewest) : 0;
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
  });
  const sources = [
    s3 ? `S3 credentials are read from ${credentialsPath} (profile ${SCHEDULE_AWS_PROFILE})` : '',
    t.password.kind === 'file' ? `the database password from ${t.password.path}` : '',
  ].filter(Boolean);
  return remoteScript({
    header: [
      '#!/bin/sh',
      `# infrakt: scheduled backup of ${t.name} (${t.engine}, ${t.mode}) on ${t.serverName}.`,
      '# Generated by infrakt (Schedule Backups); reinstalling replaces this file.',
      `# Runs the same pipeline as Back Up Now, keeps local backups ${days} days${keep ? `, the newest ${keep} in S3` : ''},`,
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
      infrakt_s_days: days,
      infrakt_s_keep: keep,
      infrakt_s_s3: s3 !== undefined,
      infrakt_s_tails: backupTails(t.engine),
    },
    modules: [...modules, SH.aws, SH.schedule],
    call: 'infrakt_scheduled',
  });
}

function fileScript(path: string, label: string, content: readonly string[]): string {
  const p = check(remoteDir, path, label);
  const dir = p.slice(0, p.lastIndexOf('/')) || '/';
  if (dir === '/')
    throw new BackupError('invalid-input', `${label}: use a file inside a directory of its own`);
  return wholeScript([
    'set -u',
    'umask 077',
    `infrakt_path=${q(p)}`,
    `infrakt_dir=${q(dir)}`,
    `[ ! -L "$infrakt_dir" ] || { echo "infrakt: $infrakt_dir is a symbolic link; refusing to put secrets there" >&2; exit ${EXIT.secretFile}; }`,
    `if [ ! -d "$infrakt_dir" ]; then mkdir -p -- "$infrakt_dir" || { echo "infrakt: cannot create $infrakt_dir" >&2; exit ${EXIT.secretFile}; }; fi`,
    `[ -O "$infrakt_dir" ] || { echo "infrakt: $infrakt_dir belongs to another user; refusing to put secrets there" >&2; exit ${EXIT.secretFile}; }`,
    `chmod 700 -- "$infrakt_dir" || exit ${EXIT.secretFile}`,
    `infrakt_tmp=$(mktemp "$infrakt_dir/.infrakt.XXXXXX") || { echo "infrakt: cannot write in $infrakt_dir" >&2; exit ${EXIT.secretFile}; }`,
    'trap \'rm -f -- "$infrakt_tmp"\' EXIT',
    // printf is a shell builtin: the secret is in no process's argv.
    `printf '%s\\n' ${content.map((v) => q(v)).join(' ')} > "$infrakt_tmp" || { echo "infrakt: cannot write $infrakt_tmp" >&2; exit ${EXIT.secretFile}; }`,
    `chmod 600 -- "$infrakt_tmp" || exit ${EXIT.secretFile}`,
    'if [ -f "$infrakt_path" ] && [ ! -L "$infrakt_path" ] && cmp -s "$infrakt_tmp" "$infrakt_path" 2>/dev/null; then',
    `  infrakt_changed=false; chmod 600 -- "$infrakt_path" || exit ${EXIT.secretFile}`,
    'else',
    `  mv -f -- "$infrakt_tmp" "$infrakt_path" || { echo "infrakt: cannot replace $infrakt_path" >&2; exit ${EXIT.secretFile}; }`,
    '  infrakt_changed=true',
    'fi',
    `printf '${MARKS.result} {"path":"%s","changed":%s}\\n' "$infrakt_path" "$infrakt_changed"`,
  ]);
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
  return fileScript(path, 'S3 credentials file', [
    `[${SCHEDULE_AWS_PROFILE}]`,
    `aws_access_key_id = ${key}`,
    `aws_secret_access_key = ${sec}`,
  ]);
}

/** Removes a secret file (S3 credentials or a database password file); nothing to do when absent. */
export function removeCredentialsFileScript(path: string = DEFAULT_AWS_CREDENTIALS_PATH): string {
  const p = check(remoteDir, path, 'Credentials file');
  return wholeScript([
    'set -u',
    `infrakt_path=${q(p)}`,
    'if [ -e "$infrakt_path" ] || [ -L "$infrakt_path" ]; then',
    `  rm -f -- "$infrakt_path" || { echo "infrakt: cannot remove $infrakt_path" >&2; exit ${EXIT.secretFile}; }`,
    '  infrakt_removed=true',
    'else infrakt_removed=false; fi',
    `printf '${MARKS.result} {"path":"%s","removed":%s}\\n' "$infrakt_path" "$infrakt_removed"`,
  ]);
}

/**
 * Writes the root-only file a scheduled host-mode backup sources for its
 * database password (`PasswordSource { kind: 'file', path }`).
 */
export function passwordFileScript(engine: Engine, password: string, path: string): string {
  const v = isEngine(engine) ? engineSpec(engine).passwordEnv : '';
  if (!v) throw new BackupError('invalid-input', `Unknown engine "${String(engine)}"`);
  return fileScript(path, 'Password file', [`${v}=${q(password)}`, `export ${v}`]);
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
  const expression = cronExpression.parse(o.expression);
  const text = scheduledBackupScript(o);
  const t = checkTarget(o.target);
  const paths = schedulePaths(t.backupDir, t.name);
  const warn = (text: string) => `printf '${MARKS.warning} %s\\n' ${q(text)}`;
  const checks: string[] = [];
  if (o.s3) {
    const cred = check(
      remoteDir,
      o.s3.credentialsPath ?? DEFAULT_AWS_CREDENTIALS_PATH,
      'S3 credentials file',
    );
    checks.push(
      `[ -r ${q(cred)} ] || ${warn(`the S3 credentials file ${cred} is missing: scheduled uploads will fail until it is written`)}`,
      `command -v aws >/dev/null 2>&1 || ${warn('awscli (aws) is not installed: scheduled uploads will fail — run Provision Server')}`,
    );
  }
  if (t.password.kind === 'file') {
    checks.push(
      `[ -r ${q(t.password.path)} ] || ${warn(`the password file ${t.password.path} is missing: scheduled backups will fail until it is written`)}`,
    );
  }
  return wholeScript([
    'set -u',
    'umask 077',
    `infrakt_dir=${q(t.backupDir)}`,
    `infrakt_script=${q(paths.script)}`,
    `if [ ! -d "$infrakt_dir" ]; then mkdir -p -- "$infrakt_dir" || { echo "infrakt: cannot create $infrakt_dir" >&2; exit ${EXIT.backupDir}; }; fi`,
    `mkdir -p -- ${q(paths.statusDir)} || { echo "infrakt: cannot create ${paths.statusDir}" >&2; exit ${EXIT.backupDir}; }`,
    `infrakt_tmp=$(mktemp "$infrakt_dir/.backup-${t.name}.sh.XXXXXX") || { echo "infrakt: cannot write in $infrakt_dir" >&2; exit ${EXIT.backupDir}; }`,
    'trap \'rm -f -- "$infrakt_tmp"\' EXIT',
    `printf '%s' ${q(text)} > "$infrakt_tmp" || { echo "infrakt: cannot write $infrakt_tmp" >&2; exit ${EXIT.backupDir}; }`,
    `sh -n "$infrakt_tmp" || { echo "infrakt: the generated script does not parse in sh on this server" >&2; exit ${EXIT.scriptInvalid}; }`,
    `if command -v bash >/dev/null 2>&1; then bash -n "$infrakt_tmp" || { echo "infrakt: the generated script does not parse in bash on this server" >&2; exit ${EXIT.scriptInvalid}; }; fi`,
    `chmod 700 -- "$infrakt_tmp" || exit ${EXIT.backupDir}`,
    'if [ -f "$infrakt_script" ] && cmp -s "$infrakt_tmp" "$infrakt_script" 2>/dev/null; then',
    `  infrakt_changed=false; chmod 700 -- "$infrakt_script" || exit ${EXIT.backupDir}`,
    'else',
    `  mv -f -- "$infrakt_tmp" "$infrakt_script" || { echo "infrakt: cannot replace $infrakt_script" >&2; exit ${EXIT.backupDir}; }`,
    '  infrakt_changed=true',
    'fi',
    ...installCronLines({
      databaseId: o.databaseId,
      expression,
      scriptPath: paths.script,
      logPath: paths.log,
    }),
    `[ $? = 0 ] || { echo "infrakt: the crontab entry is not in place after installing it" >&2; exit ${EXIT.crontab}; }`,
    ...checks,
    // The daemon: an entry nobody runs is the silent failure this feature exists to avoid.
    'infrakt_crond=0',
    'for infrakt_c in /proc/[0-9]*/comm; do',
    '  read -r infrakt_cn 2>/dev/null < "$infrakt_c" || continue',
    '  case "$infrakt_cn" in cron|crond|busybox-crond) infrakt_crond=1; break ;; esac',
    'done',
    `[ "$infrakt_crond" = 1 ] || ${warn('no cron daemon is running on this server: the schedule is installed but will not run — start cron (or run Provision Server)')}`,
    `printf '${MARKS.result} {"script":"%s","changed":%s,"cron":"%s"}\\n' "$infrakt_script" "$infrakt_changed" ${q(expression)}`,
  ]);
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
  return wholeScript([
    'set -u',
    ...removeCronLines(o.databaseId),
    `[ $? = 0 ] || { echo "infrakt: the crontab entry is still there after removing it" >&2; exit ${EXIT.crontab}; }`,
    `rm -f -- ${q(paths.script)} ${q(paths.status)} ${q(paths.lock)}${pw ? ` ${q(pw)}` : ''} || { echo "infrakt: cannot remove the schedule's files" >&2; exit ${EXIT.backupDir}; }`,
    `printf '${MARKS.result} {"removed":"%s"}\\n' ${q(paths.script)}`,
  ]);
}

/**
 * Lines to append to a server's listing script (one round trip): every
 * status record, every installed script and every infrakt crontab entry.
 * They never exit and need nothing from the lines around them.
 */
export function statusLines(backupDir: string): string[] {
  const dir = check(remoteDir, backupDir, 'Backup directory');
  const M = { status: MARKS.schedStatus, script: MARKS.schedScript, cron: MARKS.schedCron };
  return [
    `infrakt_st_dir=${q(dir)}`,
    'if [ -d "$infrakt_st_dir/.status" ]; then',
    '  for infrakt_st_f in "$infrakt_st_dir/.status/"*.json; do',
    '    [ -f "$infrakt_st_f" ] || continue',
    '    infrakt_st_n=${infrakt_st_f##*/}',
    `    printf '${M.status} %s ' "\${infrakt_st_n%.json}"`,
    '    tr -d \'\\n\' < "$infrakt_st_f" 2>/dev/null',
    "    printf '\\n'",
    '  done',
    'fi',
    'for infrakt_st_f in "$infrakt_st_dir/backup-"*.sh; do',
    '  [ -f "$infrakt_st_f" ] || continue',
    '  infrakt_st_n=${infrakt_st_f##*/backup-}',
    `  printf '${M.script} %s\\n' "\${infrakt_st_n%.sh}"`,
    'done',
    'if command -v crontab >/dev/null 2>&1; then',
    `  crontab -l 2>/dev/null | sed -n 's/^\\(.*\\) # infrakt:backup:\\([A-Za-z0-9-]*\\)$/${M.cron} \\2 \\1/p'`,
    'fi',
  ];
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

/** Parses what statusLines printed (anything else in stdout is ignored). */
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
