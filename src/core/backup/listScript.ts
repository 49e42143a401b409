// List and Delete. One script per server lists the backups of all its
// databases in one pass over the backup dir (one `find`, `stat` on its
// batches of names: nothing parses `ls`, and the cost is linear in the number
// of files); a pure parser groups them per database, newest first. Partials
// and unknown files are never backups.
import type { Engine } from '../model';
import type { LocalBackupFile } from '../s3/layout';
import { BackupError } from './errors';
import { CHECKSUM_EXT, type ParsedBackupName, parseBackupName } from './naming';
import { z } from 'zod';
import { MARKS, parseResultLine } from '../remote/protocol';
import { SH } from '../remote/modules';
import { type ShellVars, remoteScript } from '../remote/script';
import { checkServer } from './serverCheck';

export interface LocalBackup extends LocalBackupFile, ParsedBackupName {
  /** Database name taken from the file name. */
  database: string;
}

/** The listing's variables (remote/sh/list.sh): the backup dir and this server's name pattern. */
export function listVars(server: { name: string; backupDir: string }): ShellVars {
  const s = checkServer(server);
  // The server name has no glob characters (validated), so only `_*` is a pattern.
  return {
    infrakt_list_dir: { value: s.backupDir, field: 'Backup directory' },
    infrakt_list_pattern: `${s.name}_*`,
  };
}

export function listScript(server: { name: string; backupDir: string }): string {
  return remoteScript({ vars: listVars(server), modules: [SH.list], call: 'infrakt_list' });
}

export interface ServerListing {
  /** The backup dir does not exist yet (no backup was ever taken): not an error. */
  noBackupDir: boolean;
  /** Per database name, newest first. Databases without backups have an empty list. */
  byDatabase: Map<string, LocalBackup[]>;
  /** Backups whose database is not (or no longer) configured. */
  unknown: LocalBackup[];
}

function newestFirst(a: LocalBackup, b: LocalBackup): number {
  return (
    b.startedAt.getTime() - a.startedAt.getTime() ||
    b.sequence - a.sequence ||
    b.modified.getTime() - a.modified.getTime() ||
    b.filename.localeCompare(a.filename)
  );
}

/** Groups listScript output by database (`<server>_<db>_<engine>_` prefix). */
export function parseListing(
  stdout: string,
  serverName: string,
  databases: readonly { name: string; engine: Engine }[],
): ServerListing {
  const files = new Map<string, { size: number; mtime: number }>();
  let noBackupDir = false;
  for (const line of stdout.split('\n')) {
    if (line === MARKS.nodir) noBackupDir = true;
    if (!line.startsWith(`${MARKS.file} `)) continue;
    // find prints `./<name>`; a name never holds `/`.
    const m = /^(\d+) (\d+) (?:\.\/)?([^/]+)$/.exec(line.slice(MARKS.file.length + 1));
    if (m) files.set(m[3], { size: Number(m[1]), mtime: Number(m[2]) });
  }
  const byDatabase = new Map<string, LocalBackup[]>(databases.map((d) => [d.name, []]));
  const unknown: LocalBackup[] = [];
  const known = new Set(databases.map((d) => `${d.name}\0${d.engine}`));
  for (const [name, st] of files) {
    const parsed = parseBackupName(name);
    if (!parsed || !parsed.prefix.startsWith(`${serverName}_`)) continue;
    const database = parsed.prefix.slice(serverName.length + 1);
    if (database === '') continue;
    const backup: LocalBackup = {
      ...parsed,
      database,
      sizeBytes: st.size,
      modified: new Date(st.mtime * 1000),
      hasChecksum: files.has(`${name}${CHECKSUM_EXT}`),
    };
    if (known.has(`${database}\0${parsed.engine}`)) byDatabase.get(database)?.push(backup);
    else unknown.push(backup);
  }
  for (const list of byDatabase.values()) list.sort(newestFirst);
  unknown.sort(newestFirst);
  return { noBackupDir, byDatabase, unknown };
}

/** Validates that a file name is a backup of this server; throws before any script exists. */
export function checkServerBackupFile(serverName: string, filename: string): ParsedBackupName {
  const parsed = parseBackupName(filename);
  if (!parsed || filename.includes('/') || !parsed.prefix.startsWith(`${serverName}_`)) {
    throw new BackupError('invalid-input', `"${filename}" is not a backup file of ${serverName}`);
  }
  return parsed;
}

/** Deletes one backup and its checksum. Deleting a file that is already gone is not an error. */
export function deleteScript(server: { name: string; backupDir: string }, filename: string): string {
  const s = checkServer(server);
  checkServerBackupFile(s.name, filename);
  return remoteScript({
    vars: { infrakt_file: `${s.backupDir}/${filename}`, infrakt_name: filename },
    modules: [SH.list],
    call: 'infrakt_delete_local',
  });
}

/** Reads the `.sha256` recorded beside a backup (see parseChecksum). */
export function checksumScript(server: { name: string; backupDir: string }, filename: string): string {
  const s = checkServer(server);
  checkServerBackupFile(s.name, filename);
  return remoteScript({
    vars: { infrakt_file: `${s.backupDir}/${filename}` },
    modules: [SH.common, SH.list],
    call: 'infrakt_checksum',
  });
}

const checksumResult = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The key an encrypted backup was encrypted for ('' when its .sha256 does not say). */
  recipient: z.string().optional(),
});

/** The checksum checksumScript read, or undefined when there is none (or it is not one). */
export function parseChecksum(stdout: string): z.infer<typeof checksumResult> | undefined {
  return parseResultLine(stdout, checksumResult);
}
