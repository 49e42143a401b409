// Exit codes our scripts use, and the typed errors they map to. Messages name
// the cause and the next step; they never include a secret (scripts never
// print one, and stderr excerpts are only the tool's own words).
import { humanSize } from '../format';
import { EXIT, MARKS, markValue } from '../remote/protocol';

export { EXIT } from '../remote/protocol';

export type BackupErrorKind =
  | 'invalid-input'
  | 'tool-missing'
  | 'dump-failed'
  | 'checksum-mismatch'
  | 'not-found'
  | 'no-checksum'
  | 'decrypt'
  | 'sink-failed'
  | 'restore-failed'
  | 'database-exists'
  | 'backup-dir'
  | 'no-space'
  | 'cancelled'
  | 'unexpected';

export class BackupError extends Error {
  override readonly name = 'BackupError';
  constructor(
    readonly kind: BackupErrorKind,
    message: string,
    readonly details: {
      tool?: string;
      stage?: string;
      exitCode?: number;
      stderr?: string;
      /** decrypt: the key the backup was encrypted for, when its .sha256 says. */
      recipient?: string;
    } = {},
  ) {
    super(message);
  }
}

export interface ScriptOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Last meaningful lines of stderr, short enough for a notification. */
export function stderrExcerpt(stderr: string, max = 400): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('sending REPLCONF') && !l.startsWith('SYNC sent'));
  const text = lines.slice(-3).join(' | ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export interface ErrorContext {
  serverName: string;
  /** What was being done, for the message: "Backup of shop", "Restore of shop". */
  action: string;
  filename?: string;
  /** The run was aborted by the user (cancel): report cancellation, not a failure. */
  aborted?: boolean;
}

/** A public key short enough for a sentence: `age1qyqs…x7d3`, `ssh-ed25519 AAAA…x7d3 me@laptop`. */
export function shortKey(key: string): string {
  const [kind, body, ...rest] = key.split(' ');
  if (!body) return kind.length > 20 ? `${kind.slice(0, 9)}…${kind.slice(-6)}` : kind;
  return [kind, `${body.slice(0, 8)}…${body.slice(-6)}`, ...rest].join(' ');
}

/** Maps a failed script run to a typed error. */
export function errorFromOutcome(r: ScriptOutcome, ctx: ErrorContext): BackupError {
  const excerpt = stderrExcerpt(r.stderr);
  const detail = { exitCode: r.code, stderr: excerpt };
  if (ctx.aborted || r.code === EXIT.interrupted || r.code === EXIT.terminated || r.code === EXIT.hangup) {
    return new BackupError(
      'cancelled',
      `${ctx.action} on ${ctx.serverName} was cancelled; no backup file was left behind`,
      detail,
    );
  }
  switch (r.code) {
    case EXIT.toolMissing: {
      const raw = markValue(r.stdout, MARKS.missing) ?? 'a required tool';
      const [tool, where] = raw.split(' @ ');
      const place = where ? ` ${where} on ${ctx.serverName}` : ` on ${ctx.serverName}`;
      return new BackupError('tool-missing', `${tool} not found${place} — run Provision Server`, {
        ...detail,
        tool,
      });
    }
    case EXIT.stageFailed: {
      const failed = markValue(r.stdout, MARKS.failed) ?? '';
      // "<stage words> <exit code>": the stage may contain spaces ("pg_dump in container x").
      const m = /^(.*) (\d+)$/.exec(failed);
      const stage = m ? m[1] : failed;
      const code = m ? m[2] : '';
      const why = excerpt ? `: ${excerpt}` : '';
      return new BackupError(
        'dump-failed',
        `${ctx.action} on ${ctx.serverName} failed in ${stage || 'the dump'}${code ? ` (exit ${code})` : ''}${why}. No backup file was kept.`,
        { ...detail, stage },
      );
    }
    case EXIT.checksumMismatch:
      return new BackupError(
        'checksum-mismatch',
        `Checksum mismatch for ${ctx.filename ?? 'the backup'}: the backup is damaged; restore refused, database untouched`,
        detail,
      );
    case EXIT.notFound:
      return new BackupError(
        'not-found',
        `${ctx.filename ?? 'The backup'} is not on ${ctx.serverName} any more — refresh the tree`,
        detail,
      );
    case EXIT.noChecksum:
      return new BackupError(
        'no-checksum',
        `${ctx.filename ?? 'The backup'} has no .sha256 beside it, so it cannot be verified; restore refused, database untouched`,
        detail,
      );
    case EXIT.decrypt: {
      const recipient = markValue(r.stdout, MARKS.recipient);
      const file = ctx.filename ?? 'The backup';
      const why = recipient
        ? `${file} was encrypted for key ${shortKey(recipient)}, which is not on this computer`
        : `${file} is encrypted and none of the recovery keys on this computer opens it${excerpt ? ` (${excerpt})` : ''}`;
      const next = recipient?.startsWith('ssh-')
        ? 'restore it with that SSH key’s private key file'
        : 'import its recovery key (Infrakt: Import Recovery Key…)';
      return new BackupError('decrypt', `${why} — ${next}; the database was not touched`, {
        ...detail,
        recipient,
      });
    }
    case EXIT.databaseExists:
      return new BackupError(
        'database-exists',
        `A database of that name already exists on ${ctx.serverName} — choose another name; nothing was restored`,
        detail,
      );
    case EXIT.restoreFailed:
    case EXIT.notReady:
      return new BackupError(
        'restore-failed',
        `${ctx.action} on ${ctx.serverName} failed${excerpt ? `: ${excerpt}` : ''}`,
        detail,
      );
    case EXIT.backupDir:
      return new BackupError(
        'backup-dir',
        `Cannot use the backup directory on ${ctx.serverName}${excerpt ? `: ${excerpt}` : ''} — check the server's backup directory setting or run Provision Server`,
        detail,
      );
    case EXIT.noSpace: {
      const [need, free, last] = (markValue(r.stdout, MARKS.nospace) ?? '').split(' ').map(Number);
      const numbers =
        need > 0 && free >= 0
          ? `: about ${humanSize(need)} is needed (the last backup took ${humanSize(last)}) and ${humanSize(free)} is free`
          : '';
      return new BackupError(
        'no-space',
        `Not enough free space for a backup on ${ctx.serverName}${numbers} — free some space in the backup directory (delete old backups) and try again. Nothing was written.`,
        detail,
      );
    }
    case EXIT.nameTaken:
      return new BackupError(
        'unexpected',
        `Could not claim a free backup file name on ${ctx.serverName}`,
        detail,
      );
    default:
      if (r.code === 127 && /command not found|not found/.test(r.stderr)) {
        const tool = /(\S+): (?:command )?not found/.exec(r.stderr)?.[1];
        return new BackupError(
          'tool-missing',
          `${tool ?? 'A required tool'} not found on ${ctx.serverName} — run Provision Server`,
          { ...detail, tool },
        );
      }
      return new BackupError(
        'unexpected',
        `${ctx.action} on ${ctx.serverName} failed (exit ${r.code})${excerpt ? `: ${excerpt}` : ''}`,
        detail,
      );
  }
}
