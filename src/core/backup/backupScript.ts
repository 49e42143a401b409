// Back Up Now: one script that dumps, compresses, checksums and writes one
// backup file, committing it (rename from .partial) only when every stage
// succeeded. The same builder serves the S3 upload (an extra sink fed from the
// same stream) and scheduled backups (the script cron runs on the server).
//
// Data path, each stage its own process joined by fifos so the script knows
// every pid and every exit status (finer than pipefail, and killable on cancel):
//
//   source (dump) ─▶ compressor ─▶ tee ─▶ <name>.partial
//                                   ├──▶ sha256sum          (same pass)
//                                   └──▶ relay ─▶ gate ─▶ extra sink (e.g. aws s3 cp -)
//
// tee runs with SIGPIPE ignored (and `-p` where GNU tee has it), so a sink
// that dies only loses its own copy: the local file is still written whole.
// A write error on the local file itself (disk full) ends tee at once where
// GNU tee has --output-error=exit-nopipe, so the failure is seen mid-stream.
//
// The gate: a streaming uploader commits whatever it read once its input ends,
// so a failed dump must never reach it as an end of input. The relay copies
// the stream into the gate and then holds the gate open until the local file
// is committed (USR1); on any failure the sink process is killed FIRST (it
// dies without completing its upload), then the relay, then the sink's abort
// command removes what it left (e.g. an unfinished multipart upload). The
// watchdog (the progress ticker) ends everything if the script itself was
// killed, and stops a sink that made no progress for its stall limit.
import type { Engine } from '../model';
import { type DumpPlan, dumpPlan, passwordPreamble, resolveTool } from './engines';
import { BackupError, EXIT } from './errors';
import { ENGINE_FORMAT, backupPrefix } from './naming';
import { MARKS, shellQuote as q, wholeScript } from './shell';
import { type BackupTarget, type CheckedTarget, checkTarget } from './target';

/** sha256 of "abc" (FIPS 180-2 test vector): checks a hashing tool before it is trusted. */
const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

/** A sink's exit status when the watchdog stopped it for making no progress. */
export const SINK_STALLED = 124;
/** A sink's exit status when its `check` failed and it was never started (e.g. awscli missing). */
export const SINK_NOT_STARTED = 127;

/**
 * Another consumer of the compressed stream. The commands are trusted shell
 * text (built by another core builder, which quotes its own values).
 */
export interface ExtraSink {
  /** Result key: letters, digits, _ (e.g. "s3"). */
  id: string;
  /**
   * ONE simple command (no pipes, lists or functions) that reads the stream on
   * stdin; its stdout goes to stderr. Being one process, it can be killed
   * before its input ends, so it never commits a truncated stream.
   */
  command: string;
  /** A test run before the sink starts; when it fails the sink is not started (exit 127). */
  check?: string;
  /**
   * Runs once the local file is committed and the sink exited 0, with
   * INFRAKT_FILE, INFRAKT_NAME, INFRAKT_SHA256 and INFRAKT_SIZE exported: it
   * verifies the copy and writes its commit mark. A failure fails the sink.
   */
  after?: string;
  /**
   * Removes what an uncommitted run of this sink left behind (best effort; the
   * network may be down). Runs on every failure, cancel or drop, and when
   * `after` failed. INFRAKT_NAME is set.
   */
  abort?: string;
  /**
   * Runs in the background while the dump runs: removes leftovers of earlier killed runs.
   * Its long commands go through `infrakt_bg <command>` (so a TERM ends them too); it is
   * stopped, not waited for, when a sink failed (its endpoint may be the thing that hangs).
   */
  sweep?: string;
  /** Seconds without progress after which the sink is stopped as stalled (0: never). */
  stallSeconds?: number;
}

export interface BackupScriptOptions {
  extraSinks?: readonly ExtraSink[];
  /** Lines run after the password preamble (e.g. an awscli preamble). Must not set traps. */
  preamble?: readonly string[];
  /** Lines run by the exit trap, every time (e.g. remove a private temp dir). */
  cleanup?: readonly string[];
  /** Seconds between progress lines (default 1). */
  progressInterval?: number;
  /**
   * `.partial` files of this database (and our temp dirs) older than this are
   * leftovers of a killed run and are removed; sinks sweep with the same age.
   * Default one day: longer than any plausible run.
   */
  sweepAfterSeconds?: number;
}

export const DEFAULT_SWEEP_AFTER_SECONDS = 86_400;

const SINK_ID_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

/**
 * True when `command` is one simple command: no unquoted ; | & newline or grouping.
 * A list or a pipeline would hide the process that reads the stream from the kill.
 */
export function isSimpleCommand(command: string): boolean {
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (';|&\n(){}`'.includes(c)) return false;
  }
  return quote === undefined && command.trim() !== '';
}

interface SinkLines {
  start: string[];
  release: string[];
  after: string[];
  sweep: string[];
  watch: string[];
  abortFn: string[];
}

function sinkLines(sinks: readonly ExtraSink[]): SinkLines {
  const out: SinkLines = {
    start: [],
    release: [],
    after: [],
    sweep: [],
    watch: [],
    abortFn: [],
  };
  out.abortFn.push('infrakt_abort_sinks() {');
  for (const s of sinks) {
    const v = `infrakt_sink_${s.id}`;
    const w = (f: string) => `"$infrakt_work/${f}_${s.id}"`;
    out.start.push(
      `mkfifo ${w('sink')} ${w('gate')}`,
      `${v}_rc=; ${v}_state=started`,
      `if ${s.check ?? ':'}; then`,
      // Our redirections first, so the sink's own (e.g. `> file`) win.
      `  < ${w('gate')} >&2 ${s.command} &`,
      `  ${v}_pid=$!`,
      'else',
      // Never started: drain the gate so the relay (and tee) never block on it.
      `  ${v}_rc=${SINK_NOT_STARTED}; ${v}_state=none`,
      `  cat < ${w('gate')} > /dev/null &`,
      `  ${v}_pid=$!`,
      'fi',
      `infrakt_sink_pids="$infrakt_sink_pids $${v}_pid"`,
      // The relay: copy, then hold the gate open (its own stdout) until released (USR1) or killed.
      `( trap 'exit 0' USR1; trap '' PIPE`,
      `  cat < ${w('sink')} &`,
      `  echo $! > ${w('relaycat')}`,
      '  wait $! || :',
      '  while :; do sleep 1 </dev/null >/dev/null 2>&1 & wait $! || :; done',
      `) </dev/null > ${w('gate')} &`,
      `${v}_relay=$!`,
      `infrakt_pids="$infrakt_pids $${v}_relay"`,
    );
    out.release.push(
      `kill -USR1 "$${v}_relay" 2>/dev/null || :`,
      `if [ -z "$${v}_rc" ]; then ${v}_rc=0; wait "$${v}_pid" || ${v}_rc=$?; fi`,
      // A stalled sink's leftovers are left to the next run's sweep: its endpoint does not answer now.
      `if [ -e ${w('stalled')} ]; then ${v}_rc=${SINK_STALLED}; ${v}_state=stalled; fi`,
    );
    if (s.after) {
      out.after.push(`if [ "$${v}_rc" = 0 ]; then { ${s.after}; } >&2 || ${v}_rc=$?; fi`);
    }
    out.after.push(`if [ "$${v}_rc" = 0 ]; then ${v}_state=committed; else infrakt_sink_failed=1; fi`);
    if (s.sweep) {
      // Its commands run through infrakt_bg, so a TERM (clean-up, or an S3 that fails) ends the
      // command it is waiting on too, not only the subshell.
      out.sweep.push(
        `( trap 'kill "$infrakt_cur" 2>/dev/null; exit 0' TERM; infrakt_cur=`,
        `  ${s.sweep}`,
        ') </dev/null >&2 2>&1 &',
        `${v}_sweep=$!`,
      );
    }
    // Stall: the relay is blocked writing into the sink (the sink takes no more of the stream)
    // and passed nothing on for N s. A slow dump is not a stall: the relay then waits on its
    // read. Blocked-in-write is read from /proc (wchan, else the syscall number on x86_64/arm64).
    // Data the sink already took in (awscli holds up to ~80 MB in memory) is bounded by the
    // sink's own timeouts instead: a sink with retries looks busy to any outside measure.
    if (s.stallSeconds && s.stallSeconds > 0) {
      out.watch.push(
        `if [ -z "\${${v}_stopped:-}" ] && [ -z "\${${v}_cat:-}" ]; then read ${v}_cat 2>/dev/null < ${w('relaycat')} || ${v}_cat=; fi`,
        `if [ -z "\${${v}_stopped:-}" ] && [ -n "\${${v}_cat:-}" ] && { read infrakt_k infrakt_r; read infrakt_k infrakt_w; } 2>/dev/null < "/proc/$${v}_cat/io"; then`,
        '  infrakt_wc=; read infrakt_wc 2>/dev/null < "/proc/$' + v + '_cat/wchan" || :',
        '  infrakt_blocked=0',
        '  case "$infrakt_wc" in',
        '    *write*) infrakt_blocked=1 ;;',
        '    ?*) ;;',
        '    *) infrakt_sc=; read infrakt_sc infrakt_k 2>/dev/null < "/proc/$' + v + '_cat/syscall" || :',
        '       case "$infrakt_arch:$infrakt_sc" in x86_64:1 | aarch64:64) infrakt_blocked=1 ;; esac ;;',
        '  esac',
        `  if [ "$infrakt_blocked" = 0 ] || [ "$infrakt_w" != "\${${v}_lastw:-}" ]; then ${v}_lastw=$infrakt_w; ${v}_since=$infrakt_t`,
        `  elif [ $((infrakt_t - \${${v}_since:-0})) -ge ${s.stallSeconds} ]; then`,
        `    ${v}_stopped=1; : > ${w('stalled')}`,
        `    echo "infrakt: the ${s.id} upload made no progress for ${s.stallSeconds} s — stopped it; the local backup goes on" >&2`,
        `    kill -TERM "$${v}_pid" 2>/dev/null || :`,
        '  fi',
        'fi',
      );
    }
    out.abortFn.push(
      `  if [ "\${${v}_state:-none}" = started ]; then`,
      `    ${v}_state=aborted`,
      ...(s.abort ? [`    { ${s.abort}; } </dev/null >/dev/null 2>&1 || :`] : []),
      '  fi',
    );
  }
  out.abortFn.push('  return 0', '}');
  return out;
}

function sourceFailure(plan: DumpPlan, t: CheckedTarget): string[] {
  const lines = ['if [ "$infrakt_src_rc" != 0 ]; then'];
  if (plan.containerTool) {
    lines.push(
      `  [ "$infrakt_src_rc" != 70 ] || infrakt_missing ${q(`${plan.containerTool} @ in container ${t.container}`)}`,
    );
  }
  lines.push(`  infrakt_stage_failed ${q(plan.stageName)} "$infrakt_src_rc"`, 'fi');
  return lines;
}

/**
 * Leftovers of runs that were killed before their own cleanup (SIGKILL, OOM,
 * a reboot): this database's `.partial` files and our temp dirs, once older
 * than any plausible run.
 */
function sweepLocal(ageSeconds: number): string[] {
  const minutes = Math.max(1, Math.floor(ageSeconds / 60));
  return [
    `find "$infrakt_dir" -maxdepth 1 -type f -name "$infrakt_base*.partial*" -mmin +${minutes} -print -exec rm -f -- {} + 2>/dev/null | sed 's/^/infrakt: removed the leftover of a killed run: /' >&2 || :`,
    `find "\${TMPDIR:-/tmp}" -maxdepth 1 -type d \\( -name 'infrakt.*' -o -name 'infrakt-aws.*' \\) -user "$(id -u)" -mmin +${minutes} -exec rm -rf -- {} + 2>/dev/null || :`,
  ];
}

/**
 * Fail before the dump when the disk cannot hold it: the newest backup of this
 * database is the estimate (a first backup has none, and is not checked).
 */
function freeSpaceCheck(): string[] {
  return [
    `infrakt_last=$(find "$infrakt_dir" -maxdepth 1 -type f -name "$infrakt_base*.$infrakt_format.*" ! -name '*.sha256' ! -name '*.partial*' -exec stat -c '%Y %s' {} + 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2) || infrakt_last=`,
    'if [ -n "$infrakt_last" ]; then',
    `  infrakt_free=$(df -Pk -- "$infrakt_dir" 2>/dev/null | awk 'NR == 2 { print $4 }') || infrakt_free=`,
    // 10 % and 1 MiB of headroom over the last backup's size, in KiB as df reports.
    '  infrakt_need=$((infrakt_last / 1024 * 11 / 10 + 1024))',
    '  if [ -n "$infrakt_free" ] && [ "$infrakt_free" -lt "$infrakt_need" ]; then',
    `    printf '${MARKS.nospace} %s %s %s\\n' "$((infrakt_need * 1024))" "$((infrakt_free * 1024))" "$infrakt_last"`,
    '    echo "infrakt: not enough free space in $infrakt_dir: about $((infrakt_need / 1024)) MiB needed (the last backup was $((infrakt_last / 1048576)) MiB), $((infrakt_free / 1024)) MiB free" >&2',
    `    exit ${EXIT.noSpace}`,
    '  fi',
    'fi',
  ];
}

/** Shared opening of every script that may leave files behind: strict mode, traps, helpers. */
export function scriptHead(
  t: CheckedTarget,
  preamble: readonly string[],
  cleanup: readonly string[],
): string[] {
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

export function backupScript(target: BackupTarget, opts: BackupScriptOptions = {}): string {
  const t = checkTarget(target);
  const sinks = opts.extraSinks ?? [];
  for (const s of sinks) {
    if (!SINK_ID_RE.test(s.id))
      throw new BackupError('invalid-input', `Extra sink id "${s.id}" must be a plain word`);
    if (!isSimpleCommand(s.command))
      throw new BackupError(
        'invalid-input',
        `Extra sink "${s.id}" must be one simple command (wrap anything else in sh -c '…'), so it can be stopped before its input ends`,
      );
  }
  if (new Set(sinks.map((s) => s.id)).size !== sinks.length) {
    throw new BackupError('invalid-input', 'Extra sink ids must be distinct');
  }
  const interval = opts.progressInterval ?? 1;
  if (!(interval > 0 && interval <= 60))
    throw new BackupError('invalid-input', 'progressInterval must be 0–60 s');
  const plan = dumpPlan(t);
  const format = ENGINE_FORMAT[t.engine as Engine];
  const sweepAge = opts.sweepAfterSeconds ?? DEFAULT_SWEEP_AFTER_SECONDS;
  if (!(Number.isInteger(sweepAge) && sweepAge >= 60))
    throw new BackupError('invalid-input', 'sweepAfterSeconds must be a whole number of seconds ≥ 60');
  const sink = sinkLines(sinks);
  const hasSinks = sinks.length > 0 ? 1 : 0;

  const lines: string[] = [
    ...scriptHead(t, opts.preamble ?? [], opts.cleanup ?? []),
    `infrakt_dir=${q(t.backupDir)}`,
    `infrakt_base=${q(backupPrefix(t.serverName, t.name, t.engine))}`,
    `infrakt_format=${format}`,
    // Tools, before anything is created.
    ...(t.mode === 'container' ? resolveTool('infrakt_docker', 'docker') : []),
    ...plan.setup,
    ...resolveTool('infrakt_sha', 'sha256sum'),
    // openssl hashes with the CPU's SHA instructions (about 3× sha256sum's speed on the bench
    // machine); used only when it gives the right digest for a known input.
    `if command -v openssl >/dev/null 2>&1 && [ "$(printf abc | openssl dgst -sha256 -r 2>/dev/null | cut -c1-64)" = ${SHA256_ABC} ]; then infrakt_sha="openssl dgst -sha256 -r"; fi`,
    ...resolveTool('infrakt_fifo', 'mkfifo'),
    plan.precompressed
      ? 'infrakt_comp=; infrakt_ext=gz; infrakt_comp_name=none'
      : [
          // Fastest levels: the dump must not wait on the compressor. On 2 cores zstd -1
          // kept Back Up Now near 2× a bare pg_dump where -3 took 2.9×, and its files are
          // still smaller than pg_dump -Fc's (bench/backup.ts). Deflate costs about the same
          // at any level on incompressible data; on compressible data -1 is ~1.5× faster.
          'if command -v zstd >/dev/null 2>&1; then infrakt_comp="zstd -1 -T0 -q -c"; infrakt_ext=zst; infrakt_comp_name=zstd',
          'elif command -v pigz >/dev/null 2>&1; then infrakt_comp="pigz -1 -c"; infrakt_ext=gz; infrakt_comp_name=pigz',
          'elif command -v gzip >/dev/null 2>&1; then infrakt_comp="gzip -1 -c"; infrakt_ext=gz; infrakt_comp_name=gzip',
          "else infrakt_missing 'zstd or gzip'; fi",
        ].join('\n'),
    // GNU tee: a reader that went away (a sink) is ignored, a write error on the file
    // (disk full) ends tee at once. Elsewhere SIGPIPE is ignored and we check the file.
    "if tee --output-error=exit-nopipe </dev/null >/dev/null 2>&1; then infrakt_tee='tee --output-error=exit-nopipe'; infrakt_tee_strict=1",
    "elif tee -p </dev/null >/dev/null 2>&1; then infrakt_tee='tee -p'; infrakt_tee_strict=1; else infrakt_tee=tee; infrakt_tee_strict=0; fi",
    // The backup dir: created 0700 (umask 077) when missing; never chmod-ed when it exists.
    'if [ ! -d "$infrakt_dir" ]; then',
    '  mkdir -p -- "$infrakt_dir" || { echo "infrakt: cannot create $infrakt_dir" >&2; exit 77; }',
    'fi',
    '[ -w "$infrakt_dir" ] || { echo "infrakt: $infrakt_dir is not writable" >&2; exit 77; }',
    ...sweepLocal(sweepAge),
    ...freeSpaceCheck(),
    // Claim a name nobody else has: noclobber-create the .partial, and skip names already committed.
    'infrakt_ts=$(date -u +%Y%m%dT%H%M%SZ)',
    'infrakt_n=1',
    'while :; do',
    '  if [ "$infrakt_n" = 1 ]; then infrakt_name="$infrakt_base$infrakt_ts.$infrakt_format.$infrakt_ext"',
    '  else infrakt_name="$infrakt_base$infrakt_ts-$infrakt_n.$infrakt_format.$infrakt_ext"; fi',
    '  infrakt_final="$infrakt_dir/$infrakt_name"',
    '  if ( set -C; : > "$infrakt_final.partial" ) 2>/dev/null; then',
    '    infrakt_partial="$infrakt_final.partial"',
    '    if [ ! -e "$infrakt_final" ]; then break; fi',
    '    rm -f -- "$infrakt_partial"; infrakt_partial=',
    '  elif [ ! -d "$infrakt_dir" ] || [ ! -w "$infrakt_dir" ]; then',
    '    echo "infrakt: cannot write in $infrakt_dir" >&2; exit 77',
    '  fi',
    '  infrakt_n=$((infrakt_n + 1))',
    '  [ "$infrakt_n" -le 999 ] || { echo "infrakt: no free backup name for $infrakt_ts" >&2; exit 78; }',
    'done',
    'infrakt_work=$(mktemp -d "${TMPDIR:-/tmp}/infrakt.XXXXXX")',
    'mkfifo "$infrakt_work/src" "$infrakt_work/comp" "$infrakt_work/sum"',
    // This shell's own pid ($$ is the parent's inside a subshell, as in the scheduled script).
    `sh -c 'echo "$PPID"' > "$infrakt_work/self"`,
    'read infrakt_self < "$infrakt_work/self"',
    ...sink.abortFn,
    ...sink.sweep,
    ...(sinks.some((x) => x.sweep)
      ? [
          `infrakt_sweeps="${sinks
            .filter((x) => x.sweep)
            .map((x) => `$infrakt_sink_${x.id}_sweep`)
            .join(' ')}"`,
        ]
      : []),
  ];

  if (plan.snapshot) {
    lines.push(
      'infrakt_raw="$infrakt_final.partial-raw"',
      `${plan.snapshot} &`,
      'infrakt_snap_pid=$!',
      'infrakt_pids="$infrakt_snap_pid"',
      'infrakt_snap_rc=0',
      'wait "$infrakt_snap_pid" || infrakt_snap_rc=$?',
      `[ "$infrakt_snap_rc" = 0 ] || infrakt_stage_failed ${q(plan.stageName)} "$infrakt_snap_rc"`,
    );
  }
  lines.push(...plan.prestart);
  lines.push(
    ...sink.start,
    '$infrakt_sha < "$infrakt_work/sum" > "$infrakt_work/sha" &',
    'infrakt_sha_pid=$!',
    `( trap '' PIPE; exec $infrakt_tee "$infrakt_work/sum"${sinks.map((s) => ` "$infrakt_work/sink_${s.id}"`).join('')} ) < "$infrakt_work/comp" > "$infrakt_partial" &`,
    'infrakt_tee_pid=$!',
  );
  if (plan.precompressed) {
    lines.push(`${plan.source} > "$infrakt_work/comp" &`, 'infrakt_src_pid=$!', 'infrakt_comp_pid=');
  } else {
    lines.push(
      '$infrakt_comp < "$infrakt_work/src" > "$infrakt_work/comp" &',
      'infrakt_comp_pid=$!',
      `${plan.source} > "$infrakt_work/src" &`,
      'infrakt_src_pid=$!',
    );
  }
  lines.push(
    'infrakt_pids="$infrakt_pids $infrakt_src_pid $infrakt_comp_pid $infrakt_tee_pid $infrakt_sha_pid"',
    // The watchdog, every second: ends everything if this script was killed (SIGKILL, OOM),
    // stops a stalled sink, and prints progress — also the heartbeat: when the channel is
    // gone, printf fails and the run is cancelled.
    "( trap '' PIPE",
    '  infrakt_t=0; infrakt_arch=$(uname -m 2>/dev/null) || infrakt_arch=',
    '  while :; do',
    '    sleep 1 </dev/null >/dev/null 2>&1',
    '    infrakt_t=$((infrakt_t + 1))',
    '    if ! kill -0 "$infrakt_self" 2>/dev/null; then',
    '      for infrakt_p in $infrakt_sink_pids; do kill -TERM "$infrakt_p" 2>/dev/null || :; done',
    '      for infrakt_p in $infrakt_pids; do kill "$infrakt_p" 2>/dev/null || :; done',
    '      infrakt_kill_relays; exit 0',
    '    fi',
    ...sink.watch.map((l) => `    ${l}`),
    `    if [ $((infrakt_t % ${interval})) = 0 ]; then`,
    // After the commit the sinks may still be sending: the committed file's size then.
    '      infrakt_s=$(stat -c %s -- "$infrakt_partial" 2>/dev/null || stat -c %s -- "$infrakt_final" 2>/dev/null) || infrakt_s=0',
    `      printf '${MARKS.progress} %s\\n' "$infrakt_s" || { kill -TERM "$infrakt_self" 2>/dev/null; exit 0; }`,
    '    fi',
    '  done ) </dev/null &',
    'infrakt_ticker=$!',
    'infrakt_pids="$infrakt_pids $infrakt_ticker"',
    'infrakt_src_rc=0; wait "$infrakt_src_pid" || infrakt_src_rc=$?',
    'infrakt_comp_rc=0; if [ -n "$infrakt_comp_pid" ]; then wait "$infrakt_comp_pid" || infrakt_comp_rc=$?; fi',
    'infrakt_tee_rc=0; wait "$infrakt_tee_pid" || infrakt_tee_rc=$?',
    'infrakt_sha_rc=0; wait "$infrakt_sha_pid" || infrakt_sha_rc=$?',
    // The file itself could not be written (disk full): the cause of any upstream failure.
    `if [ "$infrakt_tee_rc" != 0 ] && { [ "$infrakt_tee_strict" = 1 ] || [ ${hasSinks} = 0 ]; }; then infrakt_stage_failed write "$infrakt_tee_rc"; fi`,
    ...sourceFailure(plan, t),
    '[ "$infrakt_comp_rc" = 0 ] || infrakt_stage_failed "$infrakt_comp_name" "$infrakt_comp_rc"',
    '[ "$infrakt_sha_rc" = 0 ] || infrakt_stage_failed sha256sum "$infrakt_sha_rc"',
    'infrakt_sha256=$(cut -c1-64 < "$infrakt_work/sha")',
    // busybox tee says "error" when a sink went away; the file is good only if it hashes to the stream.
    'if [ "$infrakt_tee_rc" != 0 ]; then',
    '  [ "$($infrakt_sha < "$infrakt_partial" | cut -c1-64)" = "$infrakt_sha256" ] || infrakt_stage_failed write "$infrakt_tee_rc"',
    'fi',
    'infrakt_size=$(stat -c %s -- "$infrakt_partial")',
    // Commit: checksum first, then the atomic rename; a backup never exists without its .sha256.
    'infrakt_sumfile="$infrakt_final.sha256"',
    `printf '%s  %s\\n' "$infrakt_sha256" "$infrakt_name" > "$infrakt_sumfile"`,
    'infrakt_done=1',
    'mv -f -- "$infrakt_partial" "$infrakt_final" || { infrakt_done=0; infrakt_stage_failed rename 1; }',
    'if [ -n "$infrakt_raw" ]; then rm -f -- "$infrakt_raw"; fi',
    // Only now may the sinks see the end of their input; each then verifies its copy and commits it.
    ...sink.release,
    'INFRAKT_FILE=$infrakt_final INFRAKT_NAME=$infrakt_name INFRAKT_SHA256=$infrakt_sha256 INFRAKT_SIZE=$infrakt_size',
    'export INFRAKT_FILE INFRAKT_NAME INFRAKT_SHA256 INFRAKT_SIZE',
    'infrakt_sink_failed=0',
    ...sink.after,
    'infrakt_abort_sinks',
    'infrakt_sink_pids=',
    'if [ "$infrakt_sink_failed" = 1 ]; then for infrakt_p in $infrakt_sweeps; do kill -TERM "$infrakt_p" 2>/dev/null || :; done; fi',
    'for infrakt_p in $infrakt_sweeps; do wait "$infrakt_p" 2>/dev/null || :; done',
    'infrakt_sweeps=',
    `printf '${MARKS.result} {"file":"%s","dir":"%s","size":%s,"sha256":"%s","compression":"%s","sinks":{${sinks
      .map((s) => `"${s.id}":%s`)
      .join(
        ',',
      )}}}\\n' "$infrakt_name" "$infrakt_dir" "$infrakt_size" "$infrakt_sha256" "$infrakt_comp_name"${sinks
      .map((s) => ` "$infrakt_sink_${s.id}_rc"`)
      .join('')}`,
    'if [ "$infrakt_sink_failed" = 1 ]; then exit 75; fi',
    'exit 0',
  );
  return wholeScript(lines);
}
