// An independent statement of the S3 keep-newest rule, for the tests to hold
// the shell library's retention (remote/sh/retention.sh) against: keep the
// newest N verified backups of this server's database, never the one just
// uploaded, and nothing at all when that upload is not listed yet.
import { parseBackupName } from '../../src/core/backup/naming';
import type { BackupEntry } from '../../src/core/s3/layout';

export function s3RetentionVictims(
  entries: readonly BackupEntry[],
  keepNewest: number,
  justUploaded: string,
): string[] {
  if (!Number.isInteger(keepNewest) || keepNewest < 1) return [];
  const inS3 = entries
    .filter((e) => e.location !== 'local' && e.hasChecksum && parseBackupName(e.filename) !== undefined)
    .map((e) => ({ e, started: parseBackupName(e.filename)! }))
    .sort(
      (a, b) =>
        b.started.startedAt.getTime() - a.started.startedAt.getTime() ||
        b.started.sequence - a.started.sequence,
    )
    .map((x) => x.e.filename);
  if (!inS3.includes(justUploaded)) return [];
  const keep = new Set([justUploaded, ...inS3.slice(0, keepNewest)]);
  return inS3.filter((f) => !keep.has(f));
}
