// The tree's view of a server: every backup of every database, local and in
// S3, from ONE script run (one SSH round trip per server and refresh). The
// local part is the backup module's listing; the S3 part is a subshell, so an
// S3 failure (no awscli, wrong key) is reported beside a listing that still
// shows the local files.
import type { Database, Server } from './model';
import { listLines, parseListing } from './backup/listScript';
import { backupPrefix, parseBackupName } from './backup/naming';
import { wholeScript } from './backup/shell';
import { type BackupEntry, mergeBackupLocations, parseListObjectsV2, s3DatabasePrefix } from './s3Layout';
import { type S3Credentials, s3ListSection, s3ListingError, splitS3Listing } from './s3Scripts';

const LOCAL_RC = '@@infrakt:localrc';

export type ListedDatabase = Pick<Database, 'name' | 'engine'>;

export interface ServerBackups {
  /** Per database name, newest first. */
  byDatabase: Map<string, BackupEntry[]>;
  /** No backup was ever taken on this server (its backup dir does not exist yet). */
  noBackupDir: boolean;
  /** The local listing failed (e.g. the backup dir is not readable). */
  localError?: string;
  /** 'off': no S3 settings; otherwise ok, or what went wrong listing S3. */
  s3: { state: 'off' } | { state: 'ok' } | { state: 'error'; message: string };
}

export function serverListingScript(
  server: Pick<Server, 'name' | 'backupDir'>,
  databases: readonly ListedDatabase[],
  s3?: S3Credentials,
  /** More lines for the same round trip (e.g. scheduleScript's statusLines); they must not exit. */
  extraLines: readonly string[] = [],
): string {
  const lines = ['set -u', ...listLines(server), `printf '${LOCAL_RC} %s\\n' "$?"`];
  if (s3 && databases.length) lines.push(...s3ListSection(s3, [...new Set(databases.map((d) => d.name))]));
  lines.push(...extraLines, 'exit 0');
  return wholeScript(lines);
}

export function parseServerListing(
  stdout: string,
  stderr: string,
  server: Pick<Server, 'name'>,
  databases: readonly ListedDatabase[],
  s3?: Pick<S3Credentials['settings'], 'prefix'>,
): ServerBackups {
  const local = parseListing(stdout, server.name, databases);
  const rcLine = stdout.split('\n').find((l) => l.startsWith(`${LOCAL_RC} `));
  const localRc = rcLine ? Number(rcLine.slice(LOCAL_RC.length + 1)) : NaN;
  const localError =
    localRc === 0
      ? undefined
      : `listing the backup dir failed${Number.isNaN(localRc) ? '' : ` (exit ${localRc})`}: ${
          stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300) || 'no output'
        }`;

  let s3State: ServerBackups['s3'] = { state: 'off' };
  const s3Objects = new Map<string, ReturnType<typeof parseListObjectsV2>>();
  if (s3 && databases.length) {
    const error = s3ListingError(stdout);
    const docs = splitS3Listing(stdout);
    for (const d of databases) {
      const json = docs.get(d.name);
      if (json === undefined) continue;
      try {
        s3Objects.set(d.name, parseListObjectsV2(json, s3DatabasePrefix(s3.prefix, d.name)));
      } catch (e) {
        s3State = { state: 'error', message: `unreadable S3 listing for ${d.name}: ${(e as Error).message}` };
      }
    }
    if (error) s3State = { state: 'error', message: error };
    else if (s3State.state === 'off') s3State = { state: 'ok' };
  }

  const byDatabase = new Map<string, BackupEntry[]>();
  for (const d of databases) {
    const prefix = backupPrefix(server.name, d.name, d.engine);
    // The S3 prefix is per database name; other servers' backups of a same-named database share it.
    const mine = (s3Objects.get(d.name) ?? []).filter((o) => {
      const name = o.filename.replace(/\.sha256$/, '');
      const parsed = parseBackupName(name);
      return parsed !== undefined && `${parsed.prefix}_${parsed.engine}_` === prefix;
    });
    byDatabase.set(d.name, mergeBackupLocations(local.byDatabase.get(d.name) ?? [], mine));
  }
  return { byDatabase, noBackupDir: local.noBackupDir, localError, s3: s3State };
}
