// Verify Backup (remote/sh/verify.sh): the backup restored into a throwaway
// target on the server — a scratch database, a spare redis-server, a temp file
// — counted, compared with the counts the live database had at backup time
// (<backup>.counts, written by the pipeline) and removed again. The verdict is
// recorded beside the backup (<backup>.verify), so the listing shows it
// whoever ran it. This file checks the request, fills the preamble and reads
// the verdict.
import { engineSpec } from '../engines';
import { MARKS, markValues, parseResultLine } from '../remote/protocol';
import { type Verification, verificationSchema } from './verification';
import { SH } from '../remote/modules';
import { remoteScript } from '../remote/script';
import { targetVars } from './backupScript';
import { checkIdentities } from './encryption';
import { BackupError, EXIT, errorFromOutcome } from './errors';
import { checkBackupFile, readyPolls } from './restoreScript';
import type { ScriptRunner } from './run';
import { type BackupTarget, checkTarget } from './target';

export interface VerifyOptions {
  /** age identities for an encrypted backup (sent in the script only, as for a restore). */
  identities?: readonly string[];
  /** Seconds to wait for a spare server to answer (default 600). */
  readyTimeout?: number;
}

/** Why Verify Backup cannot run for this database, or undefined when it can. */
export function verifyRefusal(d: { engine: string; mode: 'host' | 'container' }): string | undefined {
  const spec = engineSpec(d.engine as Parameters<typeof engineSpec>[0]);
  if (!spec.verify)
    return `Verify Backup is not available for ${spec.label} yet: it has no scratch target to restore into`;
  if (d.mode !== 'host')
    return 'Verify Backup restores into a scratch copy beside a host-mode database; for a database in a container, restore the backup into a test database instead';
  return undefined;
}

export function verifyScript(target: BackupTarget, filename: string, opts: VerifyOptions = {}): string {
  const t = checkTarget(target);
  const parsed = checkBackupFile(t, filename);
  const refusal = verifyRefusal(t);
  if (refusal) throw new BackupError('invalid-input', refusal);
  const polls = readyPolls(opts.readyTimeout);
  const spec = engineSpec(t.engine);
  return remoteScript({
    vars: {
      ...targetVars(t),
      infrakt_dir: { value: t.backupDir, field: 'Backup directory' },
      infrakt_name: filename,
      infrakt_compression: parsed.compression,
      infrakt_format: parsed.format,
      infrakt_encrypted: parsed.encrypted,
      infrakt_identity: { value: checkIdentities(opts.identities ?? []), field: 'Recovery key' },
      infrakt_allow_unverified: false,
      infrakt_restore_polls: polls,
    },
    modules: [SH.common, spec.shell, SH.pipeline, SH.restore, SH.verify],
    call: 'infrakt_verify_backup',
  });
}

export interface VerifiedTable {
  name: string;
  /** Rows (or keys) in the restored copy; undefined when the table did not come back. */
  rows?: number;
  /** At backup time; undefined when not recorded. */
  expected?: number;
}

export interface VerifyResult extends Verification {
  tableCounts: VerifiedTable[];
}

/** The per-table lines of a verification ("<rows|-> <expected|-> <name>"). */
export function parseVerifiedTables(stdout: string): VerifiedTable[] {
  const out: VerifiedTable[] = [];
  for (const v of markValues(stdout, MARKS.vtable)) {
    const m = /^(\d+|-) (\d+|-) (.+)$/.exec(v);
    if (!m) continue;
    out.push({
      name: m[3],
      rows: m[1] === '-' ? undefined : Number(m[1]),
      expected: m[2] === '-' ? undefined : Number(m[2]),
    });
  }
  return out;
}

/**
 * Verify Backup. Resolves with the verdict — `ok: false` (with `problem`) when
 * the backup did not restore or came back empty or short; rejects only when
 * no verdict could be reached (cancelled, a tool missing, no key, not found).
 */
export async function verifyBackup(
  runner: ScriptRunner,
  target: BackupTarget,
  filename: string,
  opts: VerifyOptions & { signal?: AbortSignal; onStderr?(chunk: string): void } = {},
): Promise<VerifyResult> {
  const script = verifyScript(target, filename, opts);
  const p = target.password;
  const r = await runner.run(script, {
    signal: opts.signal,
    onStderr: opts.onStderr,
    secrets: [...(p?.kind === 'inline' && p.password ? [p.password] : []), ...(opts.identities ?? [])],
  });
  const verdict = parseResultLine(r.stdout, verificationSchema);
  if (verdict && !opts.signal?.aborted && (r.code === EXIT.ok || !verdict.ok))
    return { ...verdict, tableCounts: parseVerifiedTables(r.stdout) };
  throw errorFromOutcome(r, {
    serverName: target.server.name,
    action: `Verification of ${filename}`,
    filename,
    aborted: opts.signal?.aborted,
  });
}
