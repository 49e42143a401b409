// Restore to This Computer (backup row): downloaded over SFTP (sha256
// checked, decrypted here when encrypted) into a private temp dir, then
// restored with the local client tools into a database this computer
// reaches; the temp dir goes whatever happens.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  type LocalTarget,
  findOnPath,
  localRestoreTools,
  runLocalRestore,
} from '../../core/backup/localRestore';
import { parseBackupName } from '../../core/backup';
import { engineSpec } from '../../core/engines';
import { humanSize } from '../../core/format';
import { databaseName, hostName, port, userName } from '../../core/model';
import { recoveryKeys } from '../credentials';
import { UserCancelled } from '../errors';
import { askText } from '../input';
import { withRemote } from '../remote';
import type { Services } from '../services';
import { fetchVerified } from './backup';
import { resolveBackup } from './targets';

const problem =
  (schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } }) =>
  (v: string) => {
    const r = schema.safeParse(v);
    return r.success ? undefined : r.error?.issues[0]?.message;
  };

/** Each needed tool on PATH, or the file the user points at; what is missing is named. */
async function resolveTools(groups: string[][]): Promise<string[]> {
  const found: string[] = [];
  for (const group of groups) {
    const onPath = group.map((t) => findOnPath(t)).find(Boolean);
    if (onPath) {
      found.push(onPath);
      continue;
    }
    const names = group.join(' or ');
    const locate = 'Locate…';
    const answer = await vscode.window.showWarningMessage(
      `${names} is not on this computer's PATH; Restore to This Computer needs it. Install it (PostgreSQL's, MariaDB's, Redis's or SQLite's client package, or zstd) or locate the program.`,
      { modal: true },
      locate,
    );
    if (answer !== locate) throw new UserCancelled();
    const picked = await vscode.window.showOpenDialog({ title: `Locate ${names}`, canSelectMany: false });
    const file = picked?.[0]?.fsPath;
    if (!file) throw new UserCancelled();
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      throw new Error(`${file} is not an executable program — choose the ${names} program itself.`);
    }
    found.push(file);
  }
  return found;
}

export async function restoreToThisComputer(services: Services, arg?: unknown): Promise<void> {
  const title = 'Restore to This Computer';
  const { server, database, entry } = await resolveBackup(services, arg, title, ['local', 'both']);
  const parsed = parseBackupName(entry.filename);
  if (!parsed) throw new Error(`${entry.filename} is not an infrakt backup file name.`);
  const spec = engineSpec(parsed.engine);
  const groups = localRestoreTools(parsed);
  const found = await resolveTools(groups);
  const toolFor = (name: string) => found[groups.findIndex((g) => g.includes(name))];
  const restoreTool = found[0];
  const tools = { restore: restoreTool, zstd: toolFor('zstd'), redisServer: toolFor('redis-server') };
  let target: LocalTarget;
  if (spec.location === 'file') {
    const file = await askText({
      title,
      prompt: `Absolute path of the ${spec.label} database file on this computer (replaced by the backup)`,
      value: path.join(os.homedir(), `${database.name}.sqlite`),
      validate: (v) =>
        path.isAbsolute(v) ? undefined : 'Enter an absolute path, such as /home/me/app.sqlite',
    });
    target = { host: '', port: 0, user: '', database: file };
  } else {
    const host = await askText({
      title,
      prompt: `Host of the ${spec.label} server this computer reaches`,
      value: '127.0.0.1',
      validate: problem(hostName),
    });
    const p = await askText({
      title,
      prompt: 'Port',
      value: String(spec.defaultPort),
      validate: problem(port),
    });
    // Redis: an ACL user, or none for its default user.
    const optionalUser = !spec.namedDatabases;
    const user = await askText({
      title,
      prompt: optionalUser ? 'ACL user (empty: the default user)' : 'User',
      value: spec.defaultUser,
      validate: (v) => (optionalUser && v === '' ? undefined : problem(userName)(v)),
    });
    // Redis has no named database: its whole dataset is replaced.
    const db = spec.namedDatabases
      ? await askText({
          title,
          prompt: `Database to restore into (it must exist; its data is replaced)`,
          value: database.dbName ?? database.name,
          validate: problem(databaseName),
        })
      : '';
    const password = await askText({
      title,
      prompt: `Password${user ? ` of ${user}` : ''} (empty: none, or your client's own settings); used for this restore only, never stored`,
      password: true,
      validate: () => undefined,
    });
    target = { host, port: Number(p), user, database: db, password: password || undefined };
  }
  const where =
    spec.location === 'file'
      ? target.database
      : spec.namedDatabases
        ? `${target.database} on ${target.host}:${target.port} (this computer)`
        : `the ${spec.label} at ${target.host}:${target.port} (this computer)`;
  const action = 'Restore Here';
  const answer = await vscode.window.showWarningMessage(
    `Restore ${entry.filename} into ${where}?`,
    {
      modal: true,
      detail: `The backup (${humanSize(entry.sizeBytes)}) is downloaded from ${server.name} over SFTP into a private temp dir here, checked against its sha256${
        parsed.encrypted ? ', decrypted here' : ''
      }, then ${
        tools.redisServer
          ? `loaded by a temporary redis-server here, which the Redis replicates from; its whole dataset is replaced`
          : `restored with ${path.basename(restoreTool)}; the data now in ${target.database} is replaced`
      }. The temp copy is removed afterwards.`,
    },
    action,
  );
  if (answer !== action) return;
  const identities = parsed.encrypted ? await recoveryKeys(services) : undefined;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-local-restore-'));
  try {
    await withRemote(
      services,
      server,
      { title: `Restoring ${entry.filename} into ${where}` },
      async (session) => {
        const local = path.join(work, entry.filename.replace(/\.age$/, ''));
        const stillEncrypted = await fetchVerified(
          services,
          session,
          server,
          entry.filename,
          local,
          identities,
        );
        if (stillEncrypted)
          throw new Error(
            `${entry.filename} is encrypted for an SSH key, which cannot be opened on this computer — restore it on a server (Restore To…) or download it (Download…) and decrypt it with age -d -i <your key>`,
          );
        let shown = 0;
        session.progress.report({ message: `restoring with ${path.basename(restoreTool)}…` });
        await runLocalRestore(local, parsed, target, tools, {
          signal: session.signal,
          workDir: work,
          onProgress: (read, total) => {
            const pct = total ? Math.floor((read / total) * 100) : 0;
            if (pct > shown) {
              session.progress.report({
                message: `restoring: ${humanSize(read)} of ${humanSize(total)} read`,
              });
              shown = pct;
            }
          },
        });
      },
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const msg = `Restored ${entry.filename} into ${where} (sha256 verified${parsed.encrypted ? ', decrypted here' : ''}).`;
  services.log.info(msg);
  void vscode.window.showInformationMessage(msg);
}
