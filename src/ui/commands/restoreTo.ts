// Restore To… (backup row): into the same database (Restore Backup), a new
// database on the same server (created first), or a database of the same
// engine on any server in the tree. On another server the bytes go server to
// server: from S3 when the backup is there (the target streams it into the
// restore and checks its sha256), else from the source server through this
// computer's two SSH connections (no file here). A restore over an existing
// database takes a safety backup first unless the user says otherwise.
import * as vscode from 'vscode';
import type { z } from 'zod';
import {
  type BackupResult,
  type RestoreSource,
  checksumScript,
  parseChecksum,
  restoreBackup,
  restoreRelayed,
} from '../../core/backup';
import { engineSpec } from '../../core/engines';
import { humanSize } from '../../core/format';
import { type Database, type Server, databaseName, remoteFile } from '../../core/model';
import { LOCATION_LABELS } from '../../core/s3/layout';
import { backupTarget, s3Access } from '../credentials';
import { ActionableError, OPEN_S3_SETTINGS } from '../errors';
import { askText, pickOne } from '../input';
import { loggedRunner, withRemote } from '../remote';
import type { Services } from '../services';
import { explainBackupError, restoreFromBackup, takeSafetyBackup, withRecoveryKeys } from './backup';
import { resolveBackup } from './targets';

type Choice = { kind: 'same' } | { kind: 'new' } | { kind: 'existing'; server: Server; database: Database };

/**
 * What is wrong with a new database's name (or, file-based engines, its file)
 * in one sentence — its form, or a database of the tree on this server has it
 * already; undefined when fine.
 */
function newDatabaseProblem(
  schema: z.ZodType<string>,
  value: string,
  taken: readonly string[],
  instead: string,
): string | undefined {
  const r = schema.safeParse(value);
  if (!r.success) return r.error.issues[0]?.message;
  if (taken.includes(r.data))
    return `${r.data} is already a database in the tree on this server — choose ${instead}`;
  return undefined;
}

export async function restoreBackupTo(services: Services, arg?: unknown): Promise<void> {
  const title = 'Restore To…';
  const { server, database, entry } = await resolveBackup(services, arg, title);
  const spec = engineSpec(database.engine);
  const servers = new Map(services.store.listServers().map((s) => [s.id, s]));
  const others = services.store
    .listDatabases()
    .filter((d) => d.engine === database.engine && d.id !== database.id && !d.problem)
    .flatMap((d) => {
      const s = servers.get(d.serverId);
      return s && !s.problem ? [{ server: s, database: d }] : [];
    });
  const picked = await pickOne<vscode.QuickPickItem & { choice: Choice }>(
    [
      {
        label: `$(history) ${database.name} on ${server.name}`,
        description: 'the same database (replaced)',
        choice: { kind: 'same' },
      },
      ...(spec.createsDatabases?.includes(database.mode)
        ? [
            {
              label: `$(add) A new database on ${server.name}…`,
              description: 'created first; the source is not touched',
              choice: { kind: 'new' } as Choice,
            },
          ]
        : []),
      ...others.map((o) => ({
        label: `$(database) ${o.database.name} on ${o.server.name}`,
        description: `${spec.label} (replaced)`,
        choice: { kind: 'existing', ...o } as Choice,
      })),
    ],
    { title, placeHolder: `Restore ${entry.filename} into…` },
  );
  const choice = picked.choice;
  if (choice.kind === 'same') {
    await restoreFromBackup(services, arg ?? { kind: 'backup', server, database, entry });
    return;
  }
  let targetServer = server;
  let targetDb: Database;
  if (choice.kind === 'new' && spec.location === 'file') {
    const taken = services.store
      .listDatabases()
      .filter((d) => d.serverId === server.id && d.dbPath)
      .map((d) => d.dbPath as string);
    const file = await askText({
      title: `${title} a new database file on ${server.name}`,
      prompt: `Absolute path of the new ${spec.label} database file on ${server.name} (it must not exist yet; its directory must)`,
      value: (database.dbPath ?? '/var/lib/app/data.db').replace(/(\.[A-Za-z0-9]+)?$/, '-restored$1'),
      validate: (v) => newDatabaseProblem(remoteFile, v, taken, 'a file that does not exist yet'),
    });
    targetDb = { ...database, dbPath: file };
  } else if (choice.kind === 'new') {
    const taken = services.store
      .listDatabases()
      .filter((d) => d.serverId === server.id)
      .map((d) => d.dbName ?? d.name);
    const name = await askText({
      title: `${title} a new database on ${server.name}`,
      prompt: `Name of the new ${spec.label} database (it must not exist on ${server.name} yet)`,
      value: `${database.dbName ?? database.name}_restored`,
      validate: (v) => newDatabaseProblem(databaseName, v, taken, 'a name that is not in use'),
    });
    targetDb = { ...database, name, dbName: name };
  } else {
    targetServer = choice.server;
    targetDb = choice.database;
  }
  const sameServer = targetServer.id === server.id;
  const inS3 = entry.location === 's3' || entry.location === 'both';
  const onServer = entry.location === 'local' || entry.location === 'both';
  const s3 = await s3Access(services);
  const creds = s3.state === 'ready' ? s3.creds : undefined;
  // Where the bytes come from: the file when it is on the target's server, else S3 when it is there, else the source server.
  const from: 'file' | 's3' | 'relay' = sameServer && onServer ? 'file' : inS3 && creds ? 's3' : 'relay';
  if (from === 'relay' && !onServer)
    throw new ActionableError(
      `${entry.filename} is only in S3, and ${s3.state === 'no-secret' ? s3.message : 'S3 storage is not configured'}.`,
      [OPEN_S3_SETTINGS],
    );
  if (from === 'relay' && !entry.hasChecksum)
    throw new ActionableError(
      `${entry.filename} has no .sha256 beside it on ${server.name}, so a copy streamed to ${targetServer.name} could not be verified — take a new backup and restore that one.`,
      [],
    );
  const relay = services.runner.relay?.bind(services.runner);
  if (from === 'relay' && !relay) throw new Error('Streaming between servers needs the SSH transport.');

  // A file-based engine's database is its file.
  const targetName = spec.location === 'file' ? (targetDb.dbPath ?? targetDb.name) : targetDb.name;
  const targetText =
    choice.kind === 'new'
      ? `a new database ${targetName} on ${targetServer.name}`
      : `${targetName} on ${targetServer.name}`;
  const how = {
    file: `It is read from ${server.name}'s backup directory; its sha256 is checked before anything is touched.`,
    s3: `${targetServer.name} streams it from S3 straight into the restore, hashing it on the way; when the sha256 does not match, the restore is stopped before it finishes${spec.id === 'postgres' ? ' (one transaction, rolled back)' : ''}.`,
    relay: `It is streamed from ${server.name} to ${targetServer.name} through this computer's two SSH connections (nothing is stored here) and hashed on the way; when the sha256 does not match, the restore is stopped before it finishes.`,
  }[from];
  const detail = [
    `${entry.filename} (${humanSize(entry.sizeBytes)}, ${LOCATION_LABELS[entry.location]}) of ${database.name} on ${server.name} is restored into ${targetText}.`,
    how,
    choice.kind === 'new'
      ? `${targetName} is created first; if the restore does not finish it is removed again.`
      : `The data now in ${targetName} is replaced. A safety backup of it is taken first unless you choose otherwise.`,
  ].join('\n\n');
  const withSafety = 'Restore (safety backup first)';
  const without = 'Restore without safety backup';
  const create = 'Create and Restore';
  const buttons = choice.kind === 'new' ? [create] : [withSafety, without];
  const answer = await vscode.window.showWarningMessage(
    `Restore ${entry.filename} into ${targetText}?`,
    { modal: true, detail },
    ...buttons,
  );
  if (!answer || !buttons.includes(answer)) return;

  let safety: BackupResult | undefined;
  await withRemote(
    services,
    targetServer,
    { title: `Restoring ${entry.filename} into ${targetText}` },
    async (session) => {
      const { runner, progress, signal } = session;
      try {
        if (answer === withSafety) {
          progress.report({ message: `taking a safety backup of ${targetDb.name}…` });
          safety = await takeSafetyBackup(services, session, targetServer, targetDb);
        }
        const { target, secrets } = await backupTarget(services, targetServer, targetDb);
        const base = { signal, createDatabase: choice.kind === 'new' };
        const targetRunner = {
          // The restore's own secrets (the recovery keys) stay redacted beside the target's.
          run: (script: string, o: Parameters<typeof runner.run>[1]) =>
            runner.run(script, {
              ...o,
              secrets: [...(o?.secrets ?? []), ...secrets, ...(creds ? [creds.secretKey] : [])],
            }),
        };
        const restore = async (identities: readonly string[]) => {
          const opts = { ...base, identities };
          if (from === 'relay' && relay) {
            progress.report({ message: `reading ${entry.filename}'s sha256 on ${server.name}…` });
            const sum = await loggedRunner(services, server, { signal }).run(
              checksumScript(server, entry.filename),
            );
            const sha256 = parseChecksum(sum.stdout)?.sha256;
            if (sum.code !== 0 || !sha256)
              throw new Error(
                `${entry.filename} has no checksum on ${server.name}; not restored (it cannot be verified).`,
              );
            const source: RestoreSource = { kind: 'stream', sha256, sizeBytes: entry.sizeBytes };
            let shown = 0;
            await restoreRelayed(
              targetRunner,
              target,
              entry.filename,
              (fifo, relaySignal) =>
                relay(server, `${server.backupDir}/${entry.filename}`, targetServer, fifo, {
                  signal: relaySignal,
                  onProgress: (n) => {
                    const pct = entry.sizeBytes ? Math.floor((n / entry.sizeBytes) * 100) : 0;
                    if (pct > shown) {
                      progress.report({
                        increment: pct - shown,
                        message: `${humanSize(n)} of ${humanSize(entry.sizeBytes)} from ${server.name}`,
                      });
                      shown = pct;
                    }
                  },
                }),
              { ...opts, source },
            );
          } else {
            progress.report({
              message:
                from === 's3'
                  ? `streaming ${entry.filename} from S3 into the restore…`
                  : `restoring ${entry.filename}…`,
            });
            const source: RestoreSource =
              from === 's3' && creds
                ? { kind: 's3', access: creds, databaseName: database.name }
                : { kind: 'file' };
            await restoreBackup(targetRunner, target, entry.filename, { ...opts, source });
          }
        };
        await withRecoveryKeys(services, progress, entry.filename, restore);
      } catch (err) {
        throw explainBackupError(err, targetServer);
      } finally {
        services.tree.reload(targetServer.id);
      }
    },
  );
  const msg = `Restored ${entry.filename} into ${targetText}.${
    safety ? ` Safety backup of the previous data: ${safety.file}.` : ''
  }`;
  services.log.info(msg);
  void vscode.window.showInformationMessage(msg);
}
