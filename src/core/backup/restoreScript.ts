// Restore (remote/sh/restore.sh): verify the sha256 first (a mismatch exits
// before anything touches the database), then decompress by the file's
// extension and load it with the engine's own tool; the engine's module says
// how (Redis swaps its RDB file). This file checks the request and fills the
// preamble.
import { engineSpec } from '../engines';
import { SH } from '../remote/modules';
import { remoteScript } from '../remote/script';
import { targetVars } from './backupScript';
import { BackupError } from './errors';
import { checkIdentities } from './encryption';
import { type ParsedBackupName, parseBackupName } from './naming';
import { type BackupTarget, type CheckedTarget, checkTarget } from './target';

export interface RestoreOptions {
  /** Restore a file that has no .sha256 (an imported legacy backup). Off by default. */
  allowUnverified?: boolean;
  /** Seconds to wait for the database to come back after an engine's own restore step (default 600). */
  readyTimeout?: number;
  /** age identities (AGE-SECRET-KEY-1…) for an encrypted backup: sent in the script only, never stored on the server. */
  identities?: readonly string[];
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

export function restoreScript(target: BackupTarget, filename: string, opts: RestoreOptions = {}): string {
  const t = checkTarget(target);
  const parsed = checkBackupFile(t, filename);
  const timeout = opts.readyTimeout ?? 600;
  if (!(timeout > 0 && timeout <= 86400)) throw new BackupError('invalid-input', 'readyTimeout out of range');
  const spec = engineSpec(t.engine);
  const refusal = spec.restoreRefusal?.({ mode: t.mode, host: t.host });
  if (refusal) throw new BackupError('invalid-input', refusal);
  return remoteScript({
    vars: {
      ...targetVars(t),
      infrakt_dir: { value: t.backupDir, field: 'Backup directory' },
      infrakt_name: filename,
      infrakt_compression: parsed.compression,
      infrakt_format: parsed.format,
      infrakt_encrypted: parsed.encrypted,
      // One line per item (an SSH private key is several); the script prints them back as the identity file.
      infrakt_identity: {
        value: checkIdentities(opts.identities ?? []).flatMap((id) => id.split('\n')),
        field: 'Recovery key',
      },
      infrakt_allow_unverified: opts.allowUnverified ?? false,
      infrakt_restore_polls: Math.ceil(timeout * 5),
    },
    modules: [SH.common, spec.shell, SH.pipeline, SH.restore],
    call: 'infrakt_restore',
  });
}
