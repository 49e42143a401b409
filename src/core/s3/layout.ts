// Where backups live on S3 (the seed's key layout) and how a server's local
// listing and its S3 listing merge into one list with a location per backup.
import type { Verification } from '../backup/verification';
import type { BackupLocation } from '../model';

/** s3://<bucket>/<prefix><db>/<filename> — prefix is already normalised ("" or ending in "/"). */
export function s3Key(prefix: string, databaseName: string, filename: string): string {
  return `${prefix}${databaseName}/${filename}`;
}

export function s3DatabasePrefix(prefix: string, databaseName: string): string {
  return `${prefix}${databaseName}/`;
}

export interface S3Object {
  key: string;
  filename: string;
  sizeBytes: number;
  modified: Date;
}

export interface LocalBackupFile {
  filename: string;
  sizeBytes: number;
  modified: Date;
  hasChecksum: boolean;
}

export interface BackupEntry {
  filename: string;
  sizeBytes: number;
  modified: Date;
  location: BackupLocation;
  hasChecksum: boolean;
  /** Its newest verification (Verify Backup's record beside it on the server), when there is one. */
  verification?: Verification;
}

const CHECKSUM_SUFFIX = '.sha256';

/**
 * Merge by filename into local | s3 | both; newest first. In S3 an object is a
 * backup only once its `.sha256` object exists (the commit mark, written last):
 * an object without one is an unfinished or failed upload — never listed,
 * never counted by retention (the next backup run sweeps it).
 */
export function mergeBackupLocations(
  local: readonly LocalBackupFile[],
  s3: readonly S3Object[],
): BackupEntry[] {
  const s3Sums = new Set(s3.filter((o) => o.filename.endsWith(CHECKSUM_SUFFIX)).map((o) => o.filename));
  const s3Backups = s3.filter(
    (o) => !o.filename.endsWith(CHECKSUM_SUFFIX) && s3Sums.has(`${o.filename}${CHECKSUM_SUFFIX}`),
  );
  const byName = new Map<string, BackupEntry>();
  for (const f of local) {
    byName.set(f.filename, { ...f, location: 'local' });
  }
  for (const o of s3Backups) {
    const existing = byName.get(o.filename);
    if (existing) {
      existing.location = 'both';
    } else {
      byName.set(o.filename, {
        filename: o.filename,
        sizeBytes: o.sizeBytes,
        modified: o.modified,
        location: 's3',
        hasChecksum: true,
      });
    }
  }
  return [...byName.values()].sort(
    (a, b) => b.modified.getTime() - a.modified.getTime() || b.filename.localeCompare(a.filename),
  );
}

export const LOCATION_LABELS: Record<BackupLocation, string> = {
  local: 'Local',
  s3: 'S3',
  both: 'S3 + Local',
};
