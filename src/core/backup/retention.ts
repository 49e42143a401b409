// Retention: which backups of a database are kept, on the server's disk and in
// S3. The policy is the database's (set with Set Retention…, or the Schedule
// Backups questions); the one implementation is the shell library's
// (remote/sh/retention.sh), run by the backup pipeline right after each
// backup it commits — Back Up Now and the scheduled run alike.
import { z } from 'zod';
import { type RetentionPolicy, parseReadable, retentionPolicy } from '../model';
import { COMPRESSIONS } from './naming';
import { engineSpec, type Engine } from '../engines';
import { MARKS, markValues } from '../remote/protocol';
import { SH } from '../remote/modules';
import type { ShellModule, ShellVars } from '../remote/script';

export type { RetentionPolicy };

/** The default for a database scheduled without a policy: a week on the server, everything in S3. */
export const DEFAULT_SCHEDULED_LOCAL_DAYS = 7;

/** "local backups kept 7 days; newest 5 kept in S3" (or that all are kept). */
export function describeRetention(p: RetentionPolicy | undefined): string {
  const local = p?.localDays ? `local backups kept ${p.localDays} days` : 'local backups kept until deleted';
  const s3 = p?.s3KeepNewest ? `newest ${p.s3KeepNewest} kept in S3` : 'all kept in S3';
  return `${local}; ${s3}`;
}

/** The retention module and its variables for a backup of this engine, or nothing when the policy keeps all. */
export function retentionParts(
  policy: RetentionPolicy | undefined,
  engine: Engine,
): { vars: ShellVars; modules: ShellModule[] } | undefined {
  if (!policy) return undefined;
  const p = parseReadable(retentionPolicy, policy, 'Retention');
  if (!p.localDays && !p.s3KeepNewest) return undefined;
  return {
    vars: {
      infrakt_ret_days: p.localDays ?? 0,
      infrakt_ret_keep: p.s3KeepNewest ?? 0,
      // "<format>.<ext>" endings a backup of this engine may have (the same rule as parseBackupName).
      infrakt_ret_tails: engineSpec(engine)
        .formats.flatMap((f) => COMPRESSIONS.map((c) => `${f}.${c}`))
        .join(' '),
    },
    modules: [SH.retention],
  };
}

const outcome = z.object({ deletedLocal: z.number().int(), deletedS3: z.number().int(), error: z.string() });

export interface RetentionOutcome {
  /** What was deleted: file names on the server, keys in S3. */
  deletedLocal: string[];
  deletedS3: string[];
  /** Why a part of it did not run or did not finish (nothing else was lost). */
  error?: string;
}

/** What the pipeline's retention did, from the backup's output; undefined when it did not run. */
export function parseRetention(stdout: string): RetentionOutcome | undefined {
  const line = markValues(stdout, MARKS.retention).pop();
  if (line === undefined) return undefined;
  let parsed: z.infer<typeof outcome>;
  try {
    parsed = outcome.parse(JSON.parse(line));
  } catch {
    return { deletedLocal: [], deletedS3: [], error: 'the retention outcome was unreadable' };
  }
  const deleted = markValues(stdout, MARKS.deleted);
  return {
    deletedLocal: deleted.filter((d) => d.startsWith('local ')).map((d) => d.slice(6)),
    deletedS3: deleted.filter((d) => d.startsWith('s3 ')).map((d) => d.slice(3)),
    error: parsed.error || undefined,
  };
}

/** One sentence for the message after a backup: what retention deleted, or why it stopped. */
export function summariseRetention(r: RetentionOutcome | undefined): string {
  if (!r) return '';
  const parts: string[] = [];
  if (r.deletedLocal.length) parts.push(`${r.deletedLocal.length} old backup(s) on the server`);
  if (r.deletedS3.length) parts.push(`${r.deletedS3.length} in S3`);
  const done = parts.length ? ` Retention deleted ${parts.join(' and ')}.` : '';
  return r.error ? `${done} Retention did not finish: ${r.error}.` : done;
}
