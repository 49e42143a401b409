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
import { type S3Credentials, awsVars } from '../s3/scripts';
import { s3Key } from '../s3/layout';

/**
 * Where the stored bytes come from: the backup file in the target server's
 * backup dir; S3 (the object of the database the backup was taken of,
 * streamed into the restore and hashed on the way); or this computer (a
 * stream it relays from the source server; `sha256` is the source's).
 */
export type RestoreSource =
  | { kind: 'file' }
  | { kind: 's3'; access: S3Credentials; databaseName: string }
  | { kind: 'stream'; sha256: string; sizeBytes?: number };

/** Bytes of a streamed restore held back until its sha256 matched (the tool cannot finish before). */
export const RESTORE_HOLDBACK_BYTES = 1024 * 1024;

export interface RestoreOptions {
  /** Restore a file that has no .sha256 (an imported legacy backup). Off by default. */
  allowUnverified?: boolean;
  /** Seconds to wait for the database to come back after an engine's own restore step (default 600). */
  readyTimeout?: number;
  /** age identities (AGE-SECRET-KEY-1…) for an encrypted backup: sent in the script only, never stored on the server. */
  identities?: readonly string[];
  /** Where the backup's bytes come from (default: the file on the target's server). */
  source?: RestoreSource;
  /** Create the target database first (it must not exist); it is dropped again when the restore does not finish. */
  createDatabase?: boolean;
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

/**
 * How long a restore or verification waits for a server to answer (a spare
 * redis-server starting, Redis loading a backup), as polls of 0.2 s:
 * `infrakt_restore_polls`. Ten minutes unless said otherwise.
 */
export function readyPolls(seconds = 600): number {
  if (!(seconds > 0 && seconds <= 86400)) throw new BackupError('invalid-input', 'readyTimeout out of range');
  return Math.ceil(seconds * 5);
}

export function restoreScript(target: BackupTarget, filename: string, opts: RestoreOptions = {}): string {
  const t = checkTarget(target);
  const parsed = checkBackupFile(t, filename);
  const polls = readyPolls(opts.readyTimeout);
  const spec = engineSpec(t.engine);
  const refusal = spec.restoreRefusal?.({ mode: t.mode, host: t.host });
  if (refusal) throw new BackupError('invalid-input', refusal);
  const source = opts.source ?? { kind: 'file' };
  if (opts.createDatabase && !spec.createsDatabases?.includes(t.mode))
    throw new BackupError(
      'invalid-input',
      `Restoring into a new ${spec.label} database${t.mode === 'container' ? ' in a container' : ''} is not supported: create it, add it to the tree, and restore into it`,
    );
  const sourceVars =
    source.kind === 's3'
      ? {
          ...awsVars(source.access),
          infrakt_s3_key: s3Key(source.access.settings.prefix, source.databaseName, filename),
        }
      : source.kind === 'stream'
        ? {
            infrakt_expected_sha256: checkSha256(source.sha256),
            infrakt_stream_size: source.sizeBytes ?? '',
          }
        : {};
  return remoteScript({
    vars: {
      ...targetVars(t),
      ...sourceVars,
      infrakt_source: source.kind,
      infrakt_holdback: RESTORE_HOLDBACK_BYTES,
      infrakt_create_db: opts.createDatabase ?? false,
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
      infrakt_restore_polls: polls,
    },
    modules: [SH.common, spec.shell, SH.pipeline, ...(source.kind === 's3' ? [SH.aws] : []), SH.restore],
    call: 'infrakt_restore',
  });
}

function checkSha256(v: string): string {
  if (!/^[0-9a-f]{64}$/.test(v))
    throw new BackupError('invalid-input', "The backup's sha256 is not 64 hex digits");
  return v;
}
