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
import { backupScript } from './backup/backupScript';
import { BackupError, EXIT } from './backup/errors';
import { PASSWORD_ENV } from './backup/engines';
import { COMPRESSIONS, FORMATS, backupPrefix, parseBackupName } from './backup/naming';
import { check } from './backup/serverCheck';
import { MARKS, shellQuote as q, wholeScript } from './backup/shell';
import { type BackupTarget, checkTarget } from './backup/target';
import { type Engine, databaseName, remoteDir } from './model';
import { accessKey, secretKey } from './s3Settings';
import { type S3Credentials, SCHEDULE_AWS_PROFILE, awsSetupFromFile, s3UploadSink } from './s3Scripts';
import { s3DatabasePrefix } from './s3Layout';
import { type RunStatus, cronExpression, installCronLines, removeCronLines, runStatus } from './schedule';

/** Where scheduled runs read the S3 credentials (root-only; see DESIGN.md, security model). */
export const DEFAULT_AWS_CREDENTIALS_PATH = '/opt/infrakt/.aws/credentials';
/** Directory of the root-only database password files of scheduled host-mode backups. */
export const DEFAULT_PASSWORD_DIR = '/opt/infrakt/.secrets';
/** The log is trimmed to its last half when it grows past this. */
export const DEFAULT_LOG_CAP_BYTES = 1024 * 1024;

/** Exit codes of the scheduled script beyond the backup pipeline's own (errors.ts EXIT). */
export const SCHEDULE_EXIT = {
  /** The local backup and the upload are done; deleting old local backups failed. */
  localRetention: 81,
  /** The local backup and the upload are done; S3 keep-newest failed. */
  s3Retention: 82,
  /** Another run of the same database still holds the lock. */
  busy: 83,
  /** The script could not set itself up (status dir, temp dir). */
  setup: 84,
} as const;

export const SCHEDULE_MARKS = {
  status: '@@infrakt:schedstatus',
  script: '@@infrakt:schedscript',
  cron: '@@infrakt:schedcron',
  warning: '@@infrakt:warning',
} as const;

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

const TS_GLOB = `${'[0-9]'.repeat(8)}T${'[0-9]'.repeat(6)}Z`;
const SEQ_GLOBS = ['', '-[0-9]', '-[0-9][0-9]', '-[0-9][0-9][0-9]', '-[0-9][0-9][0-9][0-9]'];

/** Formats parseBackupName accepts for an engine (postgres: dump and sql). */
function formatsOf(engine: Engine): string[] {
  return FORMATS.filter((f) => parseBackupName(`x_${engine}_20200101T000000Z.${f}.gz`) !== undefined);
}

/** A `case` pattern for "the rest of a backup name after `<server>_<db>_<engine>_`" (same rule as parseBackupName). */
function backupTailPattern(engine: Engine): string {
  const out: string[] = [];
  for (const f of formatsOf(engine))
    for (const ext of COMPRESSIONS) for (const seq of SEQ_GLOBS) out.push(`${TS_GLOB}${seq}.${f}.${ext}`);
  return out.join('|');
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

/** The script cron runs for one database. Contains no secret (see the file comment). */
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
  const credentialsPath = s3
    ? check(remoteDir, s3.credentialsPath ?? DEFAULT_AWS_CREDENTIALS_PATH, 'S3 credentials file')
    : '';
  if (s3 && !PREFIX_RE.test(s3.settings.prefix))
    throw new BackupError('invalid-input', 'S3 path prefix must be normalised (empty or ending in "/")');
  const aws = s3 ? awsSetupFromFile(s3.settings, credentialsPath) : undefined;

  // The one pipeline, exactly as Back Up Now builds it (awscli set-up comes from this wrapper).
  const inner = backupScript(o.target, {
    extraSinks: s3 ? [s3UploadSink(s3, t.name, { stallSeconds: s3.stallSeconds })] : [],
    progressInterval: 60,
  });

  const s3Lines = (): string[] => {
    if (!s3) return [];
    return [
      ...(aws?.preamble ?? []),
      '[ -d "${infrakt_aws_dir:-}" ] || infrakt_s_setup_failed "cannot create a temp dir for the awscli config"',
      'if command -v aws >/dev/null 2>&1; then echo "infrakt: using $(command -v aws): $(aws --version 2>&1 | head -n 1)"',
      'else echo "infrakt: awscli (aws) not found on this server: the upload will fail — run Provision Server"; fi',
      'if [ ! -r "$AWS_SHARED_CREDENTIALS_FILE" ]; then',
      '  infrakt_s_cred_missing=1',
      '  echo "infrakt: S3 credentials file $AWS_SHARED_CREDENTIALS_FILE is missing or unreadable: the upload will fail — save the S3 settings again to re-create it"',
      'fi',
    ];
  };

  const s3Retention = (): string[] => {
    if (!s3 || keep < 1) return [];
    const prefix = s3DatabasePrefix(s3.settings.prefix, t.name);
    return [
      // Keep-newest-N of this server's backups of this database, only after a successful upload.
      'if [ "$infrakt_s_uploaded" = true ] && [ -n "$infrakt_s_file" ]; then',
      `  infrakt_s_prefix=${q(prefix)}`,
      `  if awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix "$infrakt_s_prefix" --query 'Contents[].[Key]' --output text > "$infrakt_s_work/keys" 2> "$infrakt_s_work/s3err"; then`,
      '    : > "$infrakt_s_work/mine"',
      '    while IFS= read -r infrakt_s_k; do',
      '      infrakt_s_n=${infrakt_s_k#"$infrakt_s_prefix"}',
      '      [ "$infrakt_s_n" != "$infrakt_s_k" ] || continue',
      '      infrakt_s_is_backup "$infrakt_s_n" || continue',
      '      infrakt_s_sortkey "$infrakt_s_n" >> "$infrakt_s_work/mine"',
      '    done < "$infrakt_s_work/keys"',
      // Only verified backups count (their .sha256 object, the commit mark, is there): an
      // unfinished upload must never be kept in place of a real backup.
      `    awk -v p="$infrakt_s_prefix" 'index($0, p) == 1 && /\\.sha256$/ { n = substr($0, length(p) + 1); print substr(n, 1, length(n) - 7) }' "$infrakt_s_work/keys" > "$infrakt_s_work/sums"`,
      `    awk 'NR == FNR { s[$0] = 1; next } ($3 in s)' "$infrakt_s_work/sums" "$infrakt_s_work/mine" | LC_ALL=C sort -r | cut -d" " -f3 > "$infrakt_s_work/sorted"`,
      // The upload not listed yet: do nothing rather than guess (as s3RetentionVictims).
      '    if grep -qxF "$infrakt_s_file" "$infrakt_s_work/sorted"; then',
      '      infrakt_s_i=0',
      '      while IFS= read -r infrakt_s_n; do',
      '        infrakt_s_i=$((infrakt_s_i + 1))',
      `        [ "$infrakt_s_i" -gt ${keep} ] || continue`,
      '        [ "$infrakt_s_n" != "$infrakt_s_file" ] || continue',
      '        if awsx s3api delete-object --bucket "$infrakt_bucket" --key "$infrakt_s_prefix$infrakt_s_n" < /dev/null > /dev/null 2>> "$infrakt_s_work/s3err" &&',
      '          awsx s3api delete-object --bucket "$infrakt_bucket" --key "$infrakt_s_prefix$infrakt_s_n.sha256" < /dev/null > /dev/null 2>> "$infrakt_s_work/s3err"; then',
      `          echo "infrakt: S3 retention (keep newest ${keep}): deleted $infrakt_s_prefix$infrakt_s_n"`,
      '          infrakt_s_deleted_s3=$((infrakt_s_deleted_s3 + 1))',
      '        else',
      '          infrakt_s_s3ret_err="cannot delete $infrakt_s_prefix$infrakt_s_n: $(infrakt_s_tail "$infrakt_s_work/s3err")"',
      '        fi',
      '      done < "$infrakt_s_work/sorted"',
      '    else',
      '      echo "infrakt: S3 retention skipped: $infrakt_s_file is not listed in S3 yet"',
      '    fi',
      '  else',
      '    infrakt_s_s3ret_err="cannot list $infrakt_s_prefix: $(infrakt_s_tail "$infrakt_s_work/s3err")"',
      '  fi',
      '  if [ -n "$infrakt_s_s3ret_err" ]; then',
      '    cat "$infrakt_s_work/s3err" 2>/dev/null',
      '    infrakt_s_add_error "S3 retention failed: $infrakt_s_s3ret_err"',
      `    [ "$infrakt_s_rc" != 0 ] || infrakt_s_rc=${SCHEDULE_EXIT.s3Retention}`,
      '  fi',
      'fi',
    ];
  };

  const lines: string[] = [
    // The same shell Back Up Now uses: bash when the server has it (pipefail), else sh.
    'if [ -z "${INFRAKT_SCHEDULED_SHELL:-}" ] && [ -f "$0" ] && command -v bash >/dev/null 2>&1; then',
    '  INFRAKT_SCHEDULED_SHELL=bash; export INFRAKT_SCHEDULED_SHELL; exec bash "$0" "$@"',
    'fi',
    'set -u',
    'umask 077',
    // cron's PATH is minimal (/usr/bin:/bin): add where awscli and database tools usually live.
    'PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
    'HOME=${HOME:-/}',
    'export PATH HOME',
    `infrakt_s_dir=${q(t.backupDir)}`,
    `infrakt_s_status_dir=${q(paths.statusDir)}`,
    `infrakt_s_status=${q(paths.status)}`,
    `infrakt_s_log=${q(paths.log)}`,
    `infrakt_s_base=${q(backupPrefix(t.serverName, t.name, t.engine))}`,
    `infrakt_s_cap=${cap}`,
    `infrakt_s_keep_log=${Math.floor(cap / 2)}`,
    "infrakt_s_work=''; infrakt_s_pid=''; infrakt_s_file=''; infrakt_s_size=''; infrakt_s_sha=''",
    "infrakt_s_uploaded=''; infrakt_s_error=''; infrakt_s_rc=0; infrakt_s_cred_missing=0",
    'infrakt_s_deleted_local=0; infrakt_s_deleted_s3=0; infrakt_s_s3ret_err=; infrakt_s_localret_err=',
    'infrakt_s_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }',
    'infrakt_s_started=$(infrakt_s_now)',
    // Helpers: JSON string content, the last lines of an error file, the status record.
    String.raw`infrakt_s_json() { printf '%s' "$1" | tr '\n\r\t' '   ' | tr -d '\000-\037' | cut -c1-600 | sed 's/\\/\\\\/g; s/"/\\"/g'; }`,
    'infrakt_s_tail() {',
    '  grep -v \'^[[:space:]]*$\' "$1" 2>/dev/null | tail -n 3 | {',
    '    infrakt_s_t=',
    '    while IFS= read -r infrakt_s_l; do infrakt_s_t="${infrakt_s_t:+$infrakt_s_t | }$infrakt_s_l"; done',
    '    printf \'%s\' "$infrakt_s_t"',
    '  }',
    '}',
    'infrakt_s_add_error() { if [ -n "$infrakt_s_error" ]; then infrakt_s_error="$infrakt_s_error; $1"; else infrakt_s_error=$1; fi; }',
    'infrakt_s_last_success=$(sed -n \'s/.*"lastSuccess":"\\([^"]*\\)".*/\\1/p\' "$infrakt_s_status" 2>/dev/null | head -n 1)',
    'infrakt_s_write_status() {',
    '  infrakt_s_finished=$(infrakt_s_now)',
    '  if [ "$1" = true ]; then infrakt_s_last_success=$infrakt_s_finished; fi',
    '  {',
    `    printf '{"started":"%s","finished":"%s","ok":%s,"exitCode":%s' "$infrakt_s_started" "$infrakt_s_finished" "$1" "$2"`,
    `    if [ -n "$infrakt_s_file" ]; then printf ',"file":"%s","size":%s,"sha256":"%s"' "$infrakt_s_file" "\${infrakt_s_size:-0}" "$infrakt_s_sha"; fi`,
    `    if [ -n "$infrakt_s_uploaded" ]; then printf ',"uploaded":%s' "$infrakt_s_uploaded"; fi`,
    `    printf ',"deletedLocal":%s,"deletedS3":%s' "$infrakt_s_deleted_local" "$infrakt_s_deleted_s3"`,
    `    if [ -n "$infrakt_s_last_success" ]; then printf ',"lastSuccess":"%s"' "$infrakt_s_last_success"; fi`,
    `    if [ -n "$infrakt_s_error" ]; then printf ',"error":"%s"' "$(infrakt_s_json "$infrakt_s_error")"; fi`,
    "    printf '}\\n'",
    '  } > "$infrakt_s_status.tmp.$$" && mv -f -- "$infrakt_s_status.tmp.$$" "$infrakt_s_status" ||',
    '    { echo "infrakt: cannot write the status record $infrakt_s_status"; rm -f -- "$infrakt_s_status.tmp.$$"; return 1; }',
    '}',
    'infrakt_s_trim_log() {',
    '  if [ -f "$infrakt_s_log" ] && [ "$(wc -c < "$infrakt_s_log")" -gt "$infrakt_s_cap" ]; then',
    // In place (cat >), so a writer that holds the log open in append mode (cron's >>) keeps appending to it.
    '    tail -c "$infrakt_s_keep_log" "$infrakt_s_log" > "$infrakt_s_log.trim" && cat "$infrakt_s_log.trim" > "$infrakt_s_log"',
    '    rm -f -- "$infrakt_s_log.trim"',
    '  fi',
    '}',
    // Ends the run: status record, log line, summary for a person running it by hand, exit code.
    'infrakt_s_finish() {',
    "  trap '' INT TERM HUP",
    '  if [ "$1" = true ]; then infrakt_s_write_status true 0 || set -- false 1; fi',
    '  if [ "$1" != true ]; then infrakt_s_write_status false "$2"; fi',
    '  if [ "$1" = true ]; then infrakt_s_msg="ok: $infrakt_s_file (${infrakt_s_size:-0} bytes)"; else infrakt_s_msg="FAILED (exit $2): $infrakt_s_error"; fi',
    '  echo "== $(infrakt_s_now) infrakt: scheduled backup $infrakt_s_msg"',
    '  if [ -n "${infrakt_s_stderr_fd:-}" ]; then echo "infrakt: scheduled backup $infrakt_s_msg (log: $infrakt_s_log)" >&3; fi',
    '  infrakt_s_trim_log',
    '  exit "$2"',
    '}',
    'infrakt_s_setup_failed() { infrakt_s_add_error "$1"; echo "infrakt: $1" >&2; infrakt_s_finish false ' +
      SCHEDULE_EXIT.setup +
      '; }',
    'infrakt_s_cleanup() {',
    '  if [ -n "$infrakt_s_work" ]; then rm -rf -- "$infrakt_s_work"; fi',
    ...(aws?.cleanup ?? []).map((l) => `  ${l}`),
    '}',
    'infrakt_s_on_signal() {',
    "  trap '' INT TERM HUP",
    '  if [ -n "$infrakt_s_pid" ]; then',
    '    kill -TERM "$infrakt_s_pid" 2>/dev/null; wait "$infrakt_s_pid" 2>/dev/null',
    '    infrakt_s_add_error "interrupted by $1 during the backup; no backup was kept from this run"',
    '  else',
    '    infrakt_s_add_error "interrupted by $1${infrakt_s_file:+ after $infrakt_s_file was saved}"',
    '  fi',
    '  infrakt_s_finish false "$2"',
    '}',
    "trap 'infrakt_s_cleanup' EXIT",
    "trap 'infrakt_s_on_signal SIGINT 130' INT",
    "trap 'infrakt_s_on_signal SIGTERM 143' TERM",
    "trap 'infrakt_s_on_signal SIGHUP 129' HUP",

    // Status dir and log: everything from here on goes to the (capped) log.
    'if [ ! -d "$infrakt_s_dir" ]; then mkdir -p -- "$infrakt_s_dir" || { echo "infrakt: cannot create $infrakt_s_dir" >&2; exit 77; }; fi',
    'mkdir -p -- "$infrakt_s_status_dir" || { echo "infrakt: cannot create $infrakt_s_status_dir" >&2; exit 77; }',
    'infrakt_s_trim_log',
    // A person running the script by hand gets a one-line summary on their stderr (cron's stderr is the log).
    'infrakt_s_stderr_fd=',
    'if ! [ /dev/fd/2 -ef "$infrakt_s_log" ] 2>/dev/null; then exec 3>&2; infrakt_s_stderr_fd=3; fi',
    'exec >> "$infrakt_s_log" 2>&1',
    `echo "== $infrakt_s_started infrakt: scheduled backup of ${t.name} (${t.engine}) on ${t.serverName} starts (pid $$)"`,
    // One run at a time per database: cron may start the next while a long one still runs.
    'if command -v flock >/dev/null 2>&1; then',
    `  exec 9> ${q(paths.lock)}`,
    '  if ! flock -n 9; then',
    '    echo "infrakt: another run of this backup still holds the lock; this run is skipped"',
    '    if [ -n "${infrakt_s_stderr_fd:-}" ]; then echo "infrakt: another run of this backup is in progress; skipped" >&3; fi',
    `    exit ${SCHEDULE_EXIT.busy}`,
    '  fi',
    'fi',
    'infrakt_s_work=$(mktemp -d "${TMPDIR:-/tmp}/infrakt-sched.XXXXXX") || infrakt_s_setup_failed "cannot create a temp dir"',
    // The pipeline needs pipefail (bash, busybox ash); dash alone cannot run it.
    '(set -o pipefail) 2>/dev/null || infrakt_s_setup_failed "this shell has no pipefail and bash is not installed — install bash (or run Provision Server)"',
    ...s3Lines(),
    ...(t.password.kind === 'file'
      ? [
          `[ -r ${q(t.password.path)} ] || infrakt_s_setup_failed ${q(`the database password file ${t.password.path} is missing or unreadable — schedule the backup again to re-create it`)}`,
        ]
      : []),

    // Name rules shared by both retentions (the same rule as parseBackupName).
    'infrakt_s_is_backup() {',
    '  infrakt_s_r=${1#"$infrakt_s_base"}',
    '  [ "$infrakt_s_r" != "$1" ] || return 1',
    `  case "$infrakt_s_r" in ${backupTailPattern(t.engine)}) return 0 ;; esac`,
    '  return 1',
    '}',
    // "<timestamp> <sequence, 4 digits> <name>": sorts by start time, then by the -<n> of the same second.
    'infrakt_s_sortkey() {',
    '  infrakt_s_r=${1#"$infrakt_s_base"}',
    '  infrakt_s_ts=${infrakt_s_r%%Z*}',
    '  case "$infrakt_s_r" in *Z-*) infrakt_s_q=${infrakt_s_r#*Z-}; infrakt_s_q=${infrakt_s_q%%.*} ;; *) infrakt_s_q=1 ;; esac',
    '  while [ ${#infrakt_s_q} -lt 4 ]; do infrakt_s_q="0$infrakt_s_q"; done',
    `  printf '%s %s %s\\n' "$infrakt_s_ts" "$infrakt_s_q" "$1"`,
    '}',

    // 1. The backup: the same script Back Up Now runs, in a subshell (it exits), output kept apart.
    '(',
    inner,
    // Children get neither the caller's stderr (fd 3) nor the lock (fd 9): a straggler (the progress
    // ticker's sleep) must not hold the SSH channel open or block the next run.
    ') > "$infrakt_s_work/out" 2> "$infrakt_s_work/err" < /dev/null 3>&- 9>&- &',
    'infrakt_s_pid=$!',
    'infrakt_s_inner_rc=0',
    'wait "$infrakt_s_pid" || infrakt_s_inner_rc=$?',
    'infrakt_s_pid=',
    'cat "$infrakt_s_work/err"',
    `infrakt_s_result=$(grep '^${MARKS.result} ' "$infrakt_s_work/out" | tail -n 1)`,
    'if [ -n "$infrakt_s_result" ] && { [ "$infrakt_s_inner_rc" = 0 ] || [ "$infrakt_s_inner_rc" = ' +
      EXIT.sinkFailed +
      ' ]; }; then',
    `  infrakt_s_file=$(printf '%s\\n' "$infrakt_s_result" | sed -n 's/.*"file":"\\([^"]*\\)".*/\\1/p')`,
    `  infrakt_s_size=$(printf '%s\\n' "$infrakt_s_result" | sed -n 's/.*"size":\\([0-9]*\\).*/\\1/p')`,
    `  infrakt_s_sha=$(printf '%s\\n' "$infrakt_s_result" | sed -n 's/.*"sha256":"\\([0-9a-f]*\\)".*/\\1/p')`,
    '  echo "infrakt: saved $infrakt_s_file ($infrakt_s_size bytes, sha256 $infrakt_s_sha)"',
    'fi',
    'if [ -z "$infrakt_s_file" ]; then',
    '  infrakt_s_why=$(infrakt_s_tail "$infrakt_s_work/err")',
    '  infrakt_s_add_error "backup failed (exit $infrakt_s_inner_rc): ${infrakt_s_why:-no output}"',
    '  infrakt_s_rc=$infrakt_s_inner_rc; [ "$infrakt_s_rc" != 0 ] || infrakt_s_rc=1',
    // No backup this run: no retention (the last good backups stay).
    '  infrakt_s_finish false "$infrakt_s_rc"',
    'fi',
    ...(s3
      ? [
          `if [ "$infrakt_s_inner_rc" = ${EXIT.sinkFailed} ]; then`,
          '  infrakt_s_uploaded=false',
          '  if [ "$infrakt_s_cred_missing" = 1 ]; then infrakt_s_why="the credentials file $AWS_SHARED_CREDENTIALS_FILE is missing — save the S3 settings again to re-create it"',
          '  else infrakt_s_why=$(infrakt_s_tail "$infrakt_s_work/err"); fi',
          '  infrakt_s_add_error "saved locally; upload to S3 failed: ${infrakt_s_why:-no output}"',
          `  infrakt_s_rc=${EXIT.sinkFailed}`,
          'else',
          '  infrakt_s_uploaded=true',
          `  echo "infrakt: uploaded to s3://$infrakt_bucket/"${q(s3DatabasePrefix(s3.settings.prefix, t.name))}"$infrakt_s_file"`,
          'fi',
        ]
      : []),

    // 2. Local retention: this server's backups of this database (and their .sha256) older than N days.
    `infrakt_s_cutoff=$(( $(date +%s) - ${days} * 86400 ))`,
    'for infrakt_s_f in "$infrakt_s_dir/$infrakt_s_base"*; do',
    '  [ -f "$infrakt_s_f" ] || continue',
    '  infrakt_s_n=${infrakt_s_f##*/}',
    '  case "$infrakt_s_n" in',
    '    *.sha256) infrakt_s_b=${infrakt_s_n%.sha256}; [ ! -e "$infrakt_s_dir/$infrakt_s_b" ] || continue ;;',
    '    *) infrakt_s_b=$infrakt_s_n ;;',
    '  esac',
    '  infrakt_s_is_backup "$infrakt_s_b" || continue',
    '  [ "$infrakt_s_b" != "$infrakt_s_file" ] || continue',
    '  infrakt_s_m=$(stat -c %Y -- "$infrakt_s_f") || { infrakt_s_localret_err="cannot stat $infrakt_s_n"; continue; }',
    '  [ "$infrakt_s_m" -lt "$infrakt_s_cutoff" ] || continue',
    '  if rm -f -- "$infrakt_s_f" && rm -f -- "$infrakt_s_f.sha256"; then',
    `    echo "infrakt: local retention (${days} days): deleted $infrakt_s_n"`,
    '    case "$infrakt_s_n" in *.sha256) ;; *) infrakt_s_deleted_local=$((infrakt_s_deleted_local + 1)) ;; esac',
    '  else',
    '    infrakt_s_localret_err="cannot delete $infrakt_s_n"',
    '  fi',
    'done',
    'if [ -n "$infrakt_s_localret_err" ]; then',
    '  infrakt_s_add_error "local retention failed: $infrakt_s_localret_err"',
    `  [ "$infrakt_s_rc" != 0 ] || infrakt_s_rc=${SCHEDULE_EXIT.localRetention}`,
    'fi',

    // 3. S3 keep-newest-N, after a successful upload only.
    ...s3Retention(),

    'if [ "$infrakt_s_rc" = 0 ]; then infrakt_s_finish true 0; else infrakt_s_finish false "$infrakt_s_rc"; fi',
  ];

  const sources = [
    s3 ? `S3 credentials are read from ${credentialsPath} (profile ${SCHEDULE_AWS_PROFILE})` : '',
    t.password.kind === 'file' ? `the database password from ${t.password.path}` : '',
  ].filter(Boolean);
  const header = [
    '#!/bin/sh',
    `# infrakt: scheduled backup of ${t.name} (${t.engine}, ${t.mode}) on ${t.serverName}.`,
    '# Generated by infrakt (Schedule Backups); reinstalling replaces this file.',
    `# Runs the same pipeline as Back Up Now, keeps local backups ${days} days${keep ? `, the newest ${keep} in S3` : ''},`,
    `# and records each run in ${paths.status} (log: ${paths.log}).`,
    sources.length ? `# It holds no secret: ${sources.join('; ')}.` : '# It holds no secret.',
  ];
  return `${header.join('\n')}\n${wholeScript(lines)}`;
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
    '[ ! -L "$infrakt_dir" ] || { echo "infrakt: $infrakt_dir is a symbolic link; refusing to put secrets there" >&2; exit 73; }',
    'if [ ! -d "$infrakt_dir" ]; then mkdir -p -- "$infrakt_dir" || { echo "infrakt: cannot create $infrakt_dir" >&2; exit 73; }; fi',
    '[ -O "$infrakt_dir" ] || { echo "infrakt: $infrakt_dir belongs to another user; refusing to put secrets there" >&2; exit 73; }',
    'chmod 700 -- "$infrakt_dir" || exit 73',
    'infrakt_tmp=$(mktemp "$infrakt_dir/.infrakt.XXXXXX") || { echo "infrakt: cannot write in $infrakt_dir" >&2; exit 73; }',
    'trap \'rm -f -- "$infrakt_tmp"\' EXIT',
    // printf is a shell builtin: the secret is in no process's argv.
    `printf '%s\\n' ${content.map(q).join(' ')} > "$infrakt_tmp" || { echo "infrakt: cannot write $infrakt_tmp" >&2; exit 73; }`,
    'chmod 600 -- "$infrakt_tmp" || exit 73',
    'if [ -f "$infrakt_path" ] && [ ! -L "$infrakt_path" ] && cmp -s "$infrakt_tmp" "$infrakt_path" 2>/dev/null; then',
    '  infrakt_changed=false; chmod 600 -- "$infrakt_path" || exit 73',
    'else',
    '  mv -f -- "$infrakt_tmp" "$infrakt_path" || { echo "infrakt: cannot replace $infrakt_path" >&2; exit 73; }',
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
    '  rm -f -- "$infrakt_path" || { echo "infrakt: cannot remove $infrakt_path" >&2; exit 73; }',
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
  const v = PASSWORD_ENV[engine];
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
  const warn = (text: string) => `printf '${SCHEDULE_MARKS.warning} %s\\n' ${q(text)}`;
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
    'if [ ! -d "$infrakt_dir" ]; then mkdir -p -- "$infrakt_dir" || { echo "infrakt: cannot create $infrakt_dir" >&2; exit 77; }; fi',
    `mkdir -p -- ${q(paths.statusDir)} || { echo "infrakt: cannot create ${paths.statusDir}" >&2; exit 77; }`,
    `infrakt_tmp=$(mktemp "$infrakt_dir/.backup-${t.name}.sh.XXXXXX") || { echo "infrakt: cannot write in $infrakt_dir" >&2; exit 77; }`,
    'trap \'rm -f -- "$infrakt_tmp"\' EXIT',
    `printf '%s' ${q(text)} > "$infrakt_tmp" || { echo "infrakt: cannot write $infrakt_tmp" >&2; exit 77; }`,
    'sh -n "$infrakt_tmp" || { echo "infrakt: the generated script does not parse in sh on this server" >&2; exit 78; }',
    'if command -v bash >/dev/null 2>&1; then bash -n "$infrakt_tmp" || { echo "infrakt: the generated script does not parse in bash on this server" >&2; exit 78; }; fi',
    'chmod 700 -- "$infrakt_tmp" || exit 77',
    'if [ -f "$infrakt_script" ] && cmp -s "$infrakt_tmp" "$infrakt_script" 2>/dev/null; then',
    '  infrakt_changed=false; chmod 700 -- "$infrakt_script" || exit 77',
    'else',
    '  mv -f -- "$infrakt_tmp" "$infrakt_script" || { echo "infrakt: cannot replace $infrakt_script" >&2; exit 77; }',
    '  infrakt_changed=true',
    'fi',
    ...installCronLines({
      databaseId: o.databaseId,
      expression,
      scriptPath: paths.script,
      logPath: paths.log,
    }),
    '[ $? = 0 ] || { echo "infrakt: the crontab entry is not in place after installing it" >&2; exit 74; }',
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
    '[ $? = 0 ] || { echo "infrakt: the crontab entry is still there after removing it" >&2; exit 74; }',
    `rm -f -- ${q(paths.script)} ${q(paths.status)} ${q(paths.lock)}${pw ? ` ${q(pw)}` : ''} || { echo "infrakt: cannot remove the schedule's files" >&2; exit 77; }`,
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
  const M = SCHEDULE_MARKS;
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
  const M = SCHEDULE_MARKS;
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
  const mark = `${SCHEDULE_MARKS.warning} `;
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(mark))
    .map((l) => l.slice(mark.length).trim());
}

const installResult = z.object({ script: z.string(), changed: z.boolean(), cron: z.string() });
export type InstallResult = z.infer<typeof installResult> & { warnings: string[] };

/** The install script's result (the first result line of its shape: others may come before it), or undefined when it did not finish. */
export function parseInstallResult(stdout: string): InstallResult | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${MARKS.result} `)) continue;
    try {
      const r = installResult.safeParse(JSON.parse(line.slice(MARKS.result.length + 1)));
      if (r.success) return { ...r.data, warnings: parseWarnings(stdout) };
    } catch {
      // not this line
    }
  }
  return undefined;
}
