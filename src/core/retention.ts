// S3 retention: keep the newest N backups of a database in S3. Applied only
// after a successful upload, and it never touches the backup just uploaded
// (so the newest good backup always survives), nor another server's files.
// Only verified backups count: an S3 entry is one only with its .sha256 object
// (mergeBackupLocations drops the rest), so an unfinished upload can never be
// kept in place of a real backup.
import type { BackupEntry } from './s3Layout';
import { parseBackupName } from './backup/naming';

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
  if (!inS3.includes(justUploaded)) return []; // the upload is not visible yet: do nothing
  const keep = new Set([justUploaded, ...inS3.slice(0, keepNewest)]);
  return inS3.filter((f) => !keep.has(f));
}
