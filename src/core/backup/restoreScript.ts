// Restore: verify the sha256 first (a mismatch exits 72 before anything
// touches the database), then decompress by the file's extension and load it
// with the engine's own tool. Redis swaps the RDB file (see redisRestoreLines).
import { BackupError, EXIT } from './errors';
import { passwordPreamble, restoreCommand, resolveTool } from './engines';
import { type ParsedBackupName, parseBackupName } from './naming';
import { MARKS, shellQuote as q, wholeScript } from './shell';
import { type BackupTarget, type CheckedTarget, checkTarget } from './target';

/** Shared opening of every script that may leave files behind: strict mode, traps, helpers. */
function scriptHead(t: CheckedTarget, preamble: readonly string[], cleanup: readonly string[]): string[] {
  return [
    'set -eu',
    // pipefail where the shell has it (bash, busybox ash). dash has none, and an
    // unknown `set -o` is a special-builtin error that exits dash before any `|| :`,
    // so it is tried in a subshell first. The data path does not need it (every
    // stage's status is waited for separately); it only guards incidental pipes.
    '(set -o pipefail) 2>/dev/null && set -o pipefail',
    'umask 077',
    ...passwordPreamble(t),
    ...preamble,
    "infrakt_work=''; infrakt_partial=''; infrakt_raw=''; infrakt_sumfile=''; infrakt_pids=''; infrakt_sink_pids=''",
    'infrakt_done=0; infrakt_cleaned=0; infrakt_sweeps=',
    // Redefined by scripts that have sinks: removes what uncommitted sinks left.
    'infrakt_abort_sinks() { :; }',
    // Runs a command as a child the caller's TERM trap can kill ($infrakt_cur).
    'infrakt_bg() { "$@" & infrakt_cur=$!; wait "$infrakt_cur"; }',
    'infrakt_kill_relays() {',
    '  if [ -n "$infrakt_work" ]; then',
    '    for infrakt_f in "$infrakt_work"/relaycat_*; do',
    '      if [ -f "$infrakt_f" ] && read infrakt_p < "$infrakt_f"; then kill "$infrakt_p" 2>/dev/null || :; fi',
    '    done',
    '  fi',
    '}',
    'infrakt_cleanup() {',
    '  if [ "$infrakt_cleaned" = 1 ]; then return 0; fi',
    '  infrakt_cleaned=1',
    // The channel may be gone (a drop): a write to it must not kill the cleanup half-way.
    "  trap '' PIPE",
    // Sinks first: killed before their input can end, they never commit a truncated stream.
    '  for infrakt_p in $infrakt_sink_pids; do kill -TERM "$infrakt_p" 2>/dev/null || :; done',
    '  for infrakt_p in $infrakt_pids; do kill "$infrakt_p" 2>/dev/null || :; done',
    '  infrakt_kill_relays',
    '  for infrakt_p in $infrakt_sweeps; do kill -TERM "$infrakt_p" 2>/dev/null || :; done',
    '  for infrakt_p in $infrakt_sink_pids $infrakt_sweeps; do wait "$infrakt_p" 2>/dev/null || :; done',
    '  infrakt_abort_sinks',
    '  if [ "$infrakt_done" != 1 ]; then',
    '    for infrakt_f in "$infrakt_partial" "$infrakt_raw" "$infrakt_sumfile"; do',
    '      if [ -n "$infrakt_f" ]; then rm -f -- "$infrakt_f"; fi',
    '    done',
    '  fi',
    ...cleanup.map((l) => `  ${l}`),
    '  if [ -n "$infrakt_work" ]; then rm -rf -- "$infrakt_work"; fi',
    '  return 0',
    '}',
    "trap 'infrakt_cleanup' EXIT",
    "trap 'infrakt_cleanup; exit 130' INT",
    "trap 'infrakt_cleanup; exit 143' TERM",
    "trap 'infrakt_cleanup; exit 129' HUP",
    `infrakt_missing() { printf '${MARKS.missing} %s\\n' "$1"; echo "infrakt: $1 not found" >&2; exit 70; }`,
    `infrakt_stage_failed() { printf '${MARKS.failed} %s %s\\n' "$1" "$2"; echo "infrakt: $1 failed (exit $2)" >&2; exit 71; }`,
  ];
}

export interface RestoreOptions {
  /** Restore a file that has no .sha256 (an imported legacy backup). Off by default. */
  allowUnverified?: boolean;
  /** Seconds to wait for Redis to come back / finish loading (default 600). */
  redisTimeout?: number;
}

/** Validates a file name as a backup of this database's engine; throws before any script exists. */
export function checkBackupFile(t: CheckedTarget, filename: string): ParsedBackupName {
  const parsed = parseBackupName(filename);
  if (!parsed || filename.includes('/')) {
    throw new BackupError('invalid-input', `"${filename}" is not an infrakt backup file name`);
  }
  if (parsed.engine !== t.engine) {
    throw new BackupError(
      'invalid-input',
      `${filename} is a ${parsed.engine} backup; ${t.name} is a ${t.engine} database`,
    );
  }
  return parsed;
}

function decompressLines(p: ParsedBackupName): string[] {
  if (p.compression === 'zst') {
    return [...resolveTool('infrakt_unz', 'zstd'), 'infrakt_decomp="zstd -dc -q"'];
  }
  return [
    'if command -v pigz >/dev/null 2>&1; then infrakt_decomp="pigz -dc"',
    'elif command -v gzip >/dev/null 2>&1; then infrakt_decomp="gzip -dc"',
    'else infrakt_missing gzip; fi',
  ];
}

function verifyLines(allowUnverified: boolean): string[] {
  return [
    '[ -f "$infrakt_file" ] || { echo "infrakt: $infrakt_file not found" >&2; exit ' + EXIT.notFound + '; }',
    'if [ -f "$infrakt_file.sha256" ]; then',
    '  infrakt_expected=$(cut -c1-64 < "$infrakt_file.sha256")',
    '  infrakt_actual=$(sha256sum < "$infrakt_file" | cut -c1-64)',
    '  if [ "$infrakt_expected" != "$infrakt_actual" ]; then',
    `    echo "infrakt: checksum mismatch for $infrakt_name: expected $infrakt_expected, file has $infrakt_actual" >&2`,
    `    exit ${EXIT.checksumMismatch}`,
    '  fi',
    `  printf '${MARKS.step} verified %s\\n' "$infrakt_actual"`,
    allowUnverified
      ? `else printf '${MARKS.step} unverified no-checksum\\n'`
      : `else echo "infrakt: $infrakt_name has no .sha256" >&2; exit ${EXIT.noChecksum}`,
    'fi',
  ];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Redis has no "load this dump" command, so a restore replaces the RDB file:
 * - container mode: `docker stop`, `docker cp` the RDB over CONFIG GET dir/dbfilename, `docker start`;
 * - host mode, a systemd unit owns the redis-server pid: `systemctl stop`, swap, `systemctl start`;
 * - host mode otherwise (a hand-started redis-server, like the test world's), or when AOF
 *   is on (a restart would load the AOF, not the RDB): the RDB is loaded by a temporary
 *   redis-server on 127.0.0.1 and the target replicates from it (REPLICAOF, wait for the
 *   link to be up and the sync done, REPLICAOF NO ONE, SAVE). No restart, no need to know
 *   how the server was launched (its /proc cmdline is its rewritten title, not its argv).
 */
function redisRestoreLines(t: CheckedTarget, timeout: number): string[] {
  const polls = timeout * 5;
  const waitUp = (ping: string) => [
    'infrakt_i=0',
    `until [ "$(${ping} 2>/dev/null)" = PONG ]; do`,
    `  infrakt_i=$((infrakt_i + 1)); [ "$infrakt_i" -le ${polls} ] || { echo "infrakt: Redis did not answer PING after the restore" >&2; exit ${EXIT.redisRestore}; }`,
    '  sleep 0.2',
    'done',
  ];
  if (t.mode === 'container') {
    const inner = (cmd: string) =>
      `docker exec ${q(t.container)} sh -c ${q(
        `if [ -n "\${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD"; fi; exec redis-cli --raw ${cmd}`,
      )} </dev/null`;
    return [
      `infrakt_rdir=$(${inner('CONFIG GET dir')} | sed -n 2p)`,
      `infrakt_rfile=$(${inner('CONFIG GET dbfilename')} | sed -n 2p)`,
      `infrakt_aof=$(${inner('CONFIG GET appendonly')} | sed -n 2p)`,
      `[ -n "$infrakt_rdir" ] && [ -n "$infrakt_rfile" ] || { echo "infrakt: CONFIG GET dir/dbfilename failed in container ${t.container}" >&2; exit ${EXIT.redisRestore}; }`,
      `[ "$infrakt_aof" != yes ] || { echo "infrakt: appendonly is on in container ${t.container}: a restart would load the AOF, not the backup; turn AOF off to restore" >&2; exit ${EXIT.redisRestore}; }`,
      'infrakt_raw="$infrakt_work/restore.rdb"',
      '$infrakt_decomp < "$infrakt_file" > "$infrakt_raw" || infrakt_stage_failed decompress $?',
      `printf '${MARKS.step} swap container\\n'`,
      `docker stop ${q(t.container)} >/dev/null`,
      `docker cp "$infrakt_raw" ${q(t.container)}:"$infrakt_rdir/$infrakt_rfile" || { docker start ${q(t.container)} >/dev/null; exit ${EXIT.redisRestore}; }`,
      `docker start ${q(t.container)} >/dev/null`,
      ...waitUp(inner('PING')),
    ];
  }
  if (!LOOPBACK.has(t.host)) {
    throw new BackupError(
      'invalid-input',
      `Redis restore needs the Redis server on this server itself (host ${t.host} is not 127.0.0.1/localhost)`,
    );
  }
  const rc = `redis-cli -h ${q(t.host)} -p ${t.port}${t.user ? ` --user ${q(t.user)}` : ''}`;
  return [
    `infrakt_rc() { ${rc} "$@" </dev/null; }`,
    'infrakt_rdir=$(infrakt_rc --raw CONFIG GET dir | sed -n 2p)',
    'infrakt_rfile=$(infrakt_rc --raw CONFIG GET dbfilename | sed -n 2p)',
    'infrakt_aof=$(infrakt_rc --raw CONFIG GET appendonly | sed -n 2p)',
    `[ -n "$infrakt_rdir" ] && [ -n "$infrakt_rfile" ] || { echo "infrakt: CONFIG GET dir/dbfilename failed (is CONFIG renamed or the password wrong?)" >&2; exit ${EXIT.redisRestore}; }`,
    `infrakt_role=$(infrakt_rc INFO replication | tr -d '\\r' | sed -n 's/^role://p')`,
    `[ "$infrakt_role" = master ] || { echo "infrakt: this Redis is a replica ($infrakt_role): restore its master instead" >&2; exit ${EXIT.redisRestore}; }`,
    `infrakt_rpid=$(infrakt_rc INFO server | tr -d '\\r' | sed -n 's/^process_id://p')`,
    "infrakt_unit=''",
    'if [ "$infrakt_aof" != yes ] && command -v systemctl >/dev/null 2>&1 && [ -r "/proc/$infrakt_rpid/cgroup" ]; then',
    '  infrakt_unit=$(sed -n \'s#^.*/\\([^/]*\\.service\\)$#\\1#p\' "/proc/$infrakt_rpid/cgroup" | head -n1)',
    '  if [ -n "$infrakt_unit" ] && ! systemctl is-active --quiet "$infrakt_unit" 2>/dev/null; then infrakt_unit=; fi',
    'fi',
    'if [ -n "$infrakt_unit" ]; then',
    // Same filesystem as the live RDB, so the final mv is an atomic rename.
    '  infrakt_raw="$infrakt_rdir/.infrakt-restore-$$.rdb"',
    '  $infrakt_decomp < "$infrakt_file" > "$infrakt_raw" || infrakt_stage_failed decompress $?',
    '  chown "$(stat -c %u:%g "$infrakt_rdir")" "$infrakt_raw" 2>/dev/null || :',
    `  printf '${MARKS.step} swap systemd %s\\n' "$infrakt_unit"`,
    '  systemctl stop "$infrakt_unit"',
    '  mv -f -- "$infrakt_raw" "$infrakt_rdir/$infrakt_rfile"; infrakt_raw=',
    '  systemctl start "$infrakt_unit"',
    ...waitUp('infrakt_rc PING').map((l) => `  ${l}`),
    'else',
    '  command -v redis-server >/dev/null 2>&1 || infrakt_missing redis-server',
    '  $infrakt_decomp < "$infrakt_file" > "$infrakt_work/load.rdb" || infrakt_stage_failed decompress $?',
    '  infrakt_tport=; infrakt_try=0',
    '  while [ -z "$infrakt_tport" ]; do',
    `    infrakt_try=$((infrakt_try + 1)); [ "$infrakt_try" -le 20 ] || { echo "infrakt: could not start a temporary redis-server" >&2; exit ${EXIT.redisRestore}; }`,
    '    infrakt_p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d " ") % 20000 + 40000 ))',
    '    redis-server --port "$infrakt_p" --bind 127.0.0.1 --dir "$infrakt_work" --dbfilename load.rdb --save \'\' --appendonly no --repl-diskless-sync-delay 0 --daemonize no --logfile "$infrakt_work/tmp.log" </dev/null >/dev/null 2>&1 &',
    '    infrakt_tpid=$!; infrakt_pids="$infrakt_pids $infrakt_tpid"',
    '    infrakt_i=0',
    '    while kill -0 "$infrakt_tpid" 2>/dev/null; do',
    '      if [ "$(redis-cli -h 127.0.0.1 -p "$infrakt_p" PING 2>/dev/null </dev/null)" = PONG ]; then infrakt_tport=$infrakt_p; break; fi',
    `      infrakt_i=$((infrakt_i + 1)); [ "$infrakt_i" -le ${polls} ] || break`,
    '      sleep 0.2',
    '    done',
    '  done',
    `  printf '${MARKS.step} replicate %s\\n' "$infrakt_tport"`,
    '  infrakt_replicating=1',
    '  infrakt_rc REPLICAOF 127.0.0.1 "$infrakt_tport" >/dev/null',
    '  infrakt_i=0',
    '  while :; do',
    "    infrakt_info=$(infrakt_rc INFO replication | tr -d '\\r')",
    '    case "$infrakt_info" in *master_link_status:up*) case "$infrakt_info" in *master_sync_in_progress:0*) break ;; esac ;; esac',
    `    infrakt_i=$((infrakt_i + 1)); [ "$infrakt_i" -le ${polls} ] || { echo "infrakt: Redis did not finish loading the backup (replication from the temporary server)" >&2; exit ${EXIT.redisRestore}; }`,
    '    sleep 0.2',
    '  done',
    '  infrakt_rc REPLICAOF NO ONE >/dev/null',
    '  infrakt_replicating=0',
    // Persist now: until the next save, a restart would bring back the old RDB.
    `  [ "$(infrakt_rc SAVE)" = OK ] || echo "infrakt: warning: SAVE after restore failed; the restored data is live but not yet on disk" >&2`,
    'fi',
  ];
}

export function restoreScript(target: BackupTarget, filename: string, opts: RestoreOptions = {}): string {
  const t = checkTarget(target);
  const parsed = checkBackupFile(t, filename);
  const timeout = opts.redisTimeout ?? 600;
  if (!(timeout > 0 && timeout <= 86400)) throw new BackupError('invalid-input', 'redisTimeout out of range');
  const redis = t.engine === 'redis';
  const restore = redis ? undefined : restoreCommand(t, parsed.format === 'sql' && t.engine === 'postgres');
  // Only for the replication path; a no-op when replication never started.
  const cleanup =
    redis && t.mode === 'host'
      ? ['if [ "${infrakt_replicating:-0}" = 1 ]; then infrakt_rc REPLICAOF NO ONE >/dev/null 2>&1 || :; fi']
      : [];
  const lines = [
    ...scriptHead(t, [], cleanup),
    `infrakt_dir=${q(t.backupDir)}`,
    `infrakt_name=${q(filename)}`,
    'infrakt_file="$infrakt_dir/$infrakt_name"',
    ...resolveTool('infrakt_sha', 'sha256sum'),
    ...(restore ? restore.setup : []),
    ...(redis
      ? [
          ...(t.mode === 'container'
            ? resolveTool('infrakt_docker', 'docker')
            : resolveTool('infrakt_cli', 'redis-cli')),
        ]
      : []),
    ...(t.engine === 'mongodb' ? [] : decompressLines(parsed)),
    ...verifyLines(opts.allowUnverified ?? false),
    'infrakt_work=$(mktemp -d "${TMPDIR:-/tmp}/infrakt.XXXXXX")',
  ];
  if (redis) {
    lines.push(...redisRestoreLines(t, timeout));
  } else if (restore) {
    lines.push(...restore.prestart, `printf '${MARKS.step} restore %s\\n' ${q(restore.tool)}`);
    const feed = t.engine === 'mongodb' ? '< "$infrakt_file"' : '';
    // The decompressor's status is kept in a file: without pipefail (dash) a
    // pipeline's status is only its last command's.
    const pipeline =
      t.engine === 'mongodb'
        ? `${restore.command} ${feed}`
        : `{ $infrakt_decomp < "$infrakt_file" || echo "$?" > "$infrakt_work/decomp_rc"; } | ${restore.command}`;
    lines.push(
      'infrakt_restore_rc=0',
      `${pipeline} >&2 || infrakt_restore_rc=$?`,
      'if [ "$infrakt_restore_rc" != 0 ]; then',
      `  echo "infrakt: ${restore.tool} failed (exit $infrakt_restore_rc)" >&2`,
      `  exit ${EXIT.restoreFailed}`,
      'fi',
      'if [ -s "$infrakt_work/decomp_rc" ]; then',
      '  echo "infrakt: $infrakt_decomp failed (exit $(cat "$infrakt_work/decomp_rc"))" >&2',
      `  exit ${EXIT.restoreFailed}`,
      'fi',
    );
  }
  lines.push(`printf '${MARKS.result} {"restored":"%s"}\\n' "$infrakt_name"`, 'exit 0');
  return wholeScript(lines);
}
