// Back Up Now: the one backup pipeline (remote/sh/pipeline.sh, see its header),
// with the engine's module as its source and any number of sinks beside the
// local file (the S3 upload). This file only chooses the modules and turns
// the validated target into the preamble's variables. Scheduled backups and
// the safety backup before a restore run the same functions.
import { engineSpec } from '../engines';
import type { RetentionPolicy } from '../model';
import { retentionParts } from './retention';
import { checkRecipient } from './encryption';
import { SH } from '../remote/modules';
import { type ShellModule, type ShellVars, remoteScript } from '../remote/script';
import { BackupError } from './errors';
import { backupPrefix } from './naming';
import { type BackupTarget, type CheckedTarget, checkTarget } from './target';

/**
 * Another consumer of the compressed stream: modules defining
 * `infrakt_sink_<id>_run` (which must `exec` the one process that reads the
 * stream) and optionally `_init`, `_check`, `_after`, `_abort` and `_sweep`
 * (pipeline.sh says when each runs), with the variables they read.
 */
export interface Sink {
  /** Result key: letters, digits, _ (e.g. "s3"). */
  id: string;
  modules: readonly ShellModule[];
  vars?: ShellVars;
  /** Seconds without progress after which the sink is stopped as stalled (0: never). */
  stallSeconds?: number;
}

export interface BackupScriptOptions {
  extraSinks?: readonly Sink[];
  /** Seconds between progress lines (default 1). */
  progressInterval?: number;
  /**
   * `.partial` files of this database (and our temp dirs) older than this are
   * leftovers of a killed run and are removed; sinks sweep with the same age.
   * Default one day: longer than any plausible run.
   */
  sweepAfterSeconds?: number;
  /**
   * The sinks' sweeps (each costs awscli starts beside the dump) run at most this
   * often per database on a server; 0: every run. Default one hour.
   */
  sweepEverySeconds?: number;
  /** Applied right after the commit, in the same run (remote/sh/retention.sh); none: every backup is kept. */
  retention?: RetentionPolicy;
  /** Encrypt the compressed stream to this age recipient (a public key); the name ends in .age. */
  encryptTo?: string;
}

export const DEFAULT_SWEEP_AFTER_SECONDS = 86_400;
const DEFAULT_SWEEP_EVERY_SECONDS = 3600;

const SINK_ID_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

/** The database's connection values and password source, as the engine modules read them. */
export function targetVars(t: CheckedTarget): ShellVars {
  const p = t.password;
  const vars: ShellVars = {
    infrakt_db_mode: t.mode,
    infrakt_db_host: t.host,
    infrakt_db_port: t.port,
    infrakt_db_user: { value: t.user, field: 'Database user' },
    infrakt_db_name: { value: t.dbName ?? '', field: 'Database name on the server' },
    infrakt_db_container: t.container,
    infrakt_db_path: { value: t.path, field: 'Database file' },
    infrakt_db_password_file: p.kind === 'file' ? { value: p.path, field: 'Password file' } : '',
  };
  // The only place a password appears in any script: exported for the engine's client.
  if (t.mode === 'host' && p.kind === 'inline' && p.password !== '') {
    vars[engineSpec(t.engine).passwordEnv] = { value: p.password, field: 'Database password', export: true };
  }
  return vars;
}

function checkedSinks(sinks: readonly Sink[]): readonly Sink[] {
  for (const s of sinks) {
    if (!SINK_ID_RE.test(s.id))
      throw new BackupError('invalid-input', `Extra sink id "${s.id}" must be a plain word`);
    const stall = s.stallSeconds ?? 0;
    if (!(Number.isInteger(stall) && stall >= 0))
      throw new BackupError('invalid-input', `The stall limit of sink "${s.id}" must be whole seconds`);
  }
  if (new Set(sinks.map((s) => s.id)).size !== sinks.length) {
    throw new BackupError('invalid-input', 'Extra sink ids must be distinct');
  }
  return sinks;
}

/** The pipeline's variables and modules, for Back Up Now and for the scheduled script. */
export function backupParts(
  target: BackupTarget,
  opts: BackupScriptOptions = {},
): { vars: ShellVars; modules: ShellModule[] } {
  const t = checkTarget(target);
  const sinks = checkedSinks(opts.extraSinks ?? []);
  const interval = opts.progressInterval ?? 1;
  if (!(Number.isInteger(interval) && interval > 0 && interval <= 60))
    throw new BackupError('invalid-input', 'progressInterval must be 1–60 s');
  const sweepAge = opts.sweepAfterSeconds ?? DEFAULT_SWEEP_AFTER_SECONDS;
  if (!(Number.isInteger(sweepAge) && sweepAge >= 60))
    throw new BackupError('invalid-input', 'sweepAfterSeconds must be a whole number of seconds ≥ 60');
  const sweepEvery = opts.sweepEverySeconds ?? DEFAULT_SWEEP_EVERY_SECONDS;
  if (!(Number.isInteger(sweepEvery) && sweepEvery >= 0))
    throw new BackupError('invalid-input', 'sweepEverySeconds must be a whole number of seconds ≥ 0');
  const vars: ShellVars = {
    ...targetVars(t),
    infrakt_dir: { value: t.backupDir, field: 'Backup directory' },
    infrakt_base: backupPrefix(t.serverName, t.name, t.engine),
    infrakt_format: engineSpec(t.engine).format,
    infrakt_progress_every: interval,
    infrakt_sweep_seconds: sweepAge,
    infrakt_sweep_every: sweepEvery,
    infrakt_sinks: sinks.map((s) => s.id).join(' '),
    infrakt_enc_recipient: opts.encryptTo ? checkRecipient(opts.encryptTo) : '',
  };
  for (const s of sinks) {
    Object.assign(vars, s.vars ?? {});
    vars[`infrakt_stall_${s.id}`] = s.stallSeconds ?? 0;
  }
  const modules = [SH.common, engineSpec(t.engine).shell, SH.pipeline, ...sinks.flatMap((s) => s.modules)];
  const retention = retentionParts(opts.retention, t.engine);
  if (retention) {
    Object.assign(vars, retention.vars);
    modules.push(...retention.modules);
  }
  return { vars, modules };
}

export function backupScript(target: BackupTarget, opts: BackupScriptOptions = {}): string {
  const { vars, modules } = backupParts(target, opts);
  return remoteScript({ vars, modules, call: 'infrakt_backup' });
}
