// Back Up Now: one script that dumps, compresses, checksums and writes one
// backup file, committing it (rename from .partial) only when every stage
// succeeded. The same builder serves the S3 upload (issue 5, as an extra sink
// fed from the same stream) and cron (issue 6, the script saved on the server).
//
// Data path, each stage its own process joined by fifos so the script knows
// every pid and every exit status (finer than pipefail, and killable on cancel):
//
//   source (dump) ─▶ compressor ─▶ tee ─▶ <name>.partial
//                                   ├──▶ sha256sum          (same pass)
//                                   └──▶ extra sinks…       (e.g. aws s3 cp -)
//
// tee runs with SIGPIPE ignored (and `-p` where GNU tee has it), so a sink
// that dies only loses its own copy: the local file is still written whole.
import type { Engine } from '../model';
import { type DumpPlan, dumpPlan, passwordPreamble, resolveTool } from './engines';
import { BackupError } from './errors';
import { ENGINE_FORMAT, backupPrefix } from './naming';
import { MARKS, shellQuote as q, wholeScript } from './shell';
import { type BackupTarget, type CheckedTarget, checkTarget } from './target';

/** sha256 of "abc" (FIPS 180-2 test vector): checks a hashing tool before it is trusted. */
const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

/**
 * Another consumer of the compressed stream. `command` is trusted shell text
 * (built by another core builder, which quotes its own values); it reads the
 * stream on stdin and its stdout goes to stderr. `after` runs once the local
 * file is committed, with INFRAKT_FILE, INFRAKT_NAME, INFRAKT_SHA256 and
 * INFRAKT_SIZE exported (e.g. to store the checksum next to the upload).
 */

export interface ExtraSink {
  /** Result key: letters, digits, _ (e.g. "s3"). */
  id: string;
  command: string;
  after?: string;
}

export interface BackupScriptOptions {
  extraSinks?: readonly ExtraSink[];
  /** Lines run after the password preamble (e.g. an awscli preamble). Must not set traps. */
  preamble?: readonly string[];
  /** Lines run by the exit trap, every time (e.g. remove a private temp dir). */
  cleanup?: readonly string[];
  /** Seconds between progress lines (default 1). */
  progressInterval?: number;
}

const SINK_ID_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

function sinkLines(sinks: readonly ExtraSink[]): { start: string[]; wait: string[]; after: string[] } {
  const start: string[] = [];
  const wait: string[] = [];
  const after: string[] = [];
  for (const s of sinks) {
    const v = `infrakt_sink_${s.id}`;
    start.push(
      `mkfifo "$infrakt_work/sink_${s.id}"`,
      `{ ${s.command}; } < "$infrakt_work/sink_${s.id}" >&2 &`,
      `${v}_pid=$!`,
      `infrakt_pids="$infrakt_pids $${v}_pid"`,
    );
    wait.push(`${v}_rc=0`, `wait "$${v}_pid" || ${v}_rc=$?`);
    if (s.after) {
      after.push(`if [ "$${v}_rc" = 0 ]; then { ${s.after}; } >&2 || ${v}_rc=$?; fi`);
    }
    after.push(`[ "$${v}_rc" = 0 ] || infrakt_sink_failed=1`);
  }
  return { start, wait, after };
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
    "infrakt_work=''; infrakt_partial=''; infrakt_raw=''; infrakt_sumfile=''; infrakt_pids=''",
    'infrakt_done=0; infrakt_cleaned=0',
    'infrakt_cleanup() {',
    '  if [ "$infrakt_cleaned" = 1 ]; then return 0; fi',
    '  infrakt_cleaned=1',
    '  for infrakt_p in $infrakt_pids; do kill "$infrakt_p" 2>/dev/null || :; done',
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
  }
  if (new Set(sinks.map((s) => s.id)).size !== sinks.length) {
    throw new BackupError('invalid-input', 'Extra sink ids must be distinct');
  }
  const interval = opts.progressInterval ?? 1;
  if (!(interval > 0 && interval <= 60))
    throw new BackupError('invalid-input', 'progressInterval must be 0–60 s');
  const plan = dumpPlan(t);
  const format = ENGINE_FORMAT[t.engine as Engine];
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
    // GNU tee -p ignores a reader that went away; elsewhere SIGPIPE is ignored and we check the file.
    "if tee -p </dev/null >/dev/null 2>&1; then infrakt_tee='tee -p'; infrakt_tee_strict=1; else infrakt_tee=tee; infrakt_tee_strict=0; fi",
    // The backup dir: created 0700 (umask 077) when missing; never chmod-ed when it exists.
    'if [ ! -d "$infrakt_dir" ]; then',
    '  mkdir -p -- "$infrakt_dir" || { echo "infrakt: cannot create $infrakt_dir" >&2; exit 77; }',
    'fi',
    '[ -w "$infrakt_dir" ] || { echo "infrakt: $infrakt_dir is not writable" >&2; exit 77; }',
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
    // Progress, and a heartbeat: when the channel is gone, printf fails and the run is cancelled.
    "( trap '' PIPE",
    '  while :; do',
    `    sleep ${interval} </dev/null >/dev/null 2>&1`,
    '    infrakt_s=$(stat -c %s -- "$infrakt_partial" 2>/dev/null) || infrakt_s=0',
    `    printf '${MARKS.progress} %s\\n' "$infrakt_s" || { kill -TERM $$ 2>/dev/null; exit 0; }`,
    '  done ) &',
    'infrakt_ticker=$!',
    'infrakt_pids="$infrakt_pids $infrakt_ticker"',
    'infrakt_src_rc=0; wait "$infrakt_src_pid" || infrakt_src_rc=$?',
    'infrakt_comp_rc=0; if [ -n "$infrakt_comp_pid" ]; then wait "$infrakt_comp_pid" || infrakt_comp_rc=$?; fi',
    'infrakt_tee_rc=0; wait "$infrakt_tee_pid" || infrakt_tee_rc=$?',
    'infrakt_sha_rc=0; wait "$infrakt_sha_pid" || infrakt_sha_rc=$?',
    ...sink.wait,
    'kill "$infrakt_ticker" 2>/dev/null || :',
    'wait "$infrakt_ticker" 2>/dev/null || :',
    ...sourceFailure(plan, t),
    '[ "$infrakt_comp_rc" = 0 ] || infrakt_stage_failed "$infrakt_comp_name" "$infrakt_comp_rc"',
    '[ "$infrakt_sha_rc" = 0 ] || infrakt_stage_failed sha256sum "$infrakt_sha_rc"',
    'infrakt_sha256=$(cut -c1-64 < "$infrakt_work/sha")',
    'if [ "$infrakt_tee_rc" != 0 ]; then',
    // busybox tee says "error" when a sink went away; the file is good only if it hashes to the stream.
    `  if [ "$infrakt_tee_strict" = 1 ] || [ ${hasSinks} = 0 ]; then infrakt_stage_failed write "$infrakt_tee_rc"; fi`,
    '  [ "$($infrakt_sha < "$infrakt_partial" | cut -c1-64)" = "$infrakt_sha256" ] || infrakt_stage_failed write "$infrakt_tee_rc"',
    'fi',
    'infrakt_size=$(stat -c %s -- "$infrakt_partial")',
    // Commit: checksum first, then the atomic rename; a backup never exists without its .sha256.
    'infrakt_sumfile="$infrakt_final.sha256"',
    `printf '%s  %s\\n' "$infrakt_sha256" "$infrakt_name" > "$infrakt_sumfile"`,
    'infrakt_done=1',
    'mv -f -- "$infrakt_partial" "$infrakt_final" || { infrakt_done=0; infrakt_stage_failed rename 1; }',
    'if [ -n "$infrakt_raw" ]; then rm -f -- "$infrakt_raw"; fi',
    'INFRAKT_FILE=$infrakt_final INFRAKT_NAME=$infrakt_name INFRAKT_SHA256=$infrakt_sha256 INFRAKT_SIZE=$infrakt_size',
    'export INFRAKT_FILE INFRAKT_NAME INFRAKT_SHA256 INFRAKT_SIZE',
    'infrakt_sink_failed=0',
    ...sink.after,
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
