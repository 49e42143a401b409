import { engineSpec } from '../../core/engines';
import * as vscode from 'vscode';
import {
  DEFAULT_PORTS,
  ENGINE_LABELS,
  ENGINES,
  type Database,
  type DatabaseInput,
  type DatabaseMode,
  type Engine,
  type Server,
  databaseInput,
  parseReadable,
  containerName,
  databaseName,
  remoteFile,
  fieldValidator,
  hostName,
  port,
  userName,
} from '../../core/model';
import { secretKeys } from '../../core/secrets';
import type { Services } from '../services';
import { askText, confirmModal, pickOne } from '../input';
import { resolveDatabase, resolveServer } from './targets';
import { checkDatabase, discoverDatabases, suggestName } from '../../core/backup';
import { humanSize } from '../../core/format';
import { isCancellation, messageOf } from '../errors';
import { askAfterFailure } from './connectionCheck';
import { withRemote } from '../remote';

const containerValidator = fieldValidator(containerName);

const askDatabaseName = (title: string, value?: string) =>
  askText({
    title,
    prompt: 'Name (used in backup file names)',
    placeHolder: 'app',
    value,
    validate: fieldValidator(databaseName),
  });

export async function addDatabase(services: Services, arg?: unknown): Promise<void> {
  const server = await resolveServer(services, arg, 'Add Database');
  const title = `Add Database to ${server.name}`;
  const { engine } = await pickOne(
    ENGINES.map((e) => ({ label: ENGINE_LABELS[e], engine: e })),
    { title, placeHolder: 'Which engine?' },
  );
  if (engineSpec(engine).location === 'file') {
    await addFileDatabase(services, server, engine);
    return;
  }
  const { mode } = await pickOne<vscode.QuickPickItem & { mode: DatabaseMode }>(
    [
      {
        label: '$(package) Docker container',
        description: 'credentials read from the container’s environment',
        mode: 'container',
      },
      {
        label: '$(server-process) Installed on the server',
        description: 'host, port and user; password kept in SecretStorage',
        mode: 'host',
      },
    ],
    { title, placeHolder: 'Where does it run?' },
  );
  if (mode === 'host') {
    await addHostDatabase(services, server, engine);
    return;
  }
  let name: string | undefined;
  let container: string | undefined;
  for (;;) {
    name = await askDatabaseName(title, name);
    container = await askText({
      title,
      prompt: 'Container name',
      value: container ?? `infrakt-db-${name}`,
      validate: containerValidator,
    });
    const input = { serverId: server.id, name, engine, mode, container } as const;
    const checked = await checkBeforeSaving(services, server, input);
    if (checked.decision === 'edit') continue;
    const db = services.store.addDatabase(input);
    added(services, server, db, `container ${db.container}`, checked);
    return;
  }
}

/** A database that is a file on the server (SQLite): a name and the file's path. */
async function addFileDatabase(services: Services, server: Server, engine: Engine): Promise<void> {
  const title = `Add Database to ${server.name}`;
  let name: string | undefined;
  let dbPath: string | undefined;
  for (;;) {
    name = await askDatabaseName(title, name);
    dbPath = await askText({
      title,
      prompt: `Path of the ${engineSpec(engine).label} database file on ${server.name}`,
      placeHolder: '/srv/app/data.db',
      value: dbPath,
      validate: fieldValidator(remoteFile),
    });
    const input = { serverId: server.id, name, engine, mode: 'host', dbPath } as const;
    const checked = await checkBeforeSaving(services, server, input);
    if (checked.decision === 'edit') continue;
    const db = services.store.addDatabase(input);
    added(services, server, db, dbPath, checked);
    return;
  }
}

/** The host-mode questions (also used by Discover Databases for a service it found listening). */
async function addHostDatabase(
  services: Services,
  server: Server,
  engine: Engine,
  suggested?: string,
  found?: { port: number },
): Promise<void> {
  const title = `Add Database to ${server.name}`;
  const spec = engineSpec(engine);
  let name = suggested;
  let dbHost = '127.0.0.1';
  let dbPort = String(found?.port ?? DEFAULT_PORTS[engine]);
  let dbUser: string | undefined = spec.namedDatabases ? spec.suggestedUser : undefined;
  let dbName: string | undefined;
  let askName = suggested === undefined;
  for (;;) {
    if (askName) name = await askDatabaseName(title, name);
    askName = true;
    dbHost = await askText({
      title,
      prompt: 'Database host, as seen from the server',
      value: dbHost,
      validate: fieldValidator(hostName),
    });
    dbPort = await askText({ title, prompt: 'Database port', value: dbPort, validate: fieldValidator(port) });
    if (spec.namedDatabases) {
      dbUser = await askText({
        title,
        prompt: 'Database user',
        value: dbUser,
        validate: fieldValidator(userName),
      });
      dbName = await askText({
        title,
        prompt: 'Database name on the server',
        value: dbName ?? name,
        validate: fieldValidator(databaseName),
      });
    }
    const password = await askText({
      title,
      prompt: 'Password (leave blank for peer/trust auth or no password); kept in SecretStorage',
      password: true,
    });
    const input = {
      serverId: server.id,
      name: name ?? engine,
      engine,
      mode: 'host',
      dbHost,
      dbPort: Number(dbPort),
      dbUser,
      dbName,
    } as const;
    const checked = await checkBeforeSaving(services, server, input, password);
    if (checked.decision === 'edit') continue;
    const db = services.store.addDatabase(input);
    if (password) await services.secrets.set(secretKeys.database(db.id), password);
    added(services, server, db, `${dbHost}:${dbPort}`, checked);
    return;
  }
}

function added(services: Services, server: Server, db: Database, where: string, checked: Saved): void {
  const message = `Added ${ENGINE_LABELS[db.engine]} database ${db.name} (${where}) on ${server.name}: ${checked.note}`;
  services.log.info(message);
  if (checked.passed) void vscode.window.showInformationMessage(message);
  else void vscode.window.showWarningMessage(message);
}

type Saved = { decision: 'save'; passed: boolean; note: string };
type CheckDecision = Saved | { decision: 'edit' };

/**
 * Before a database is saved: its dump tool is there and it answers
 * (core/backup/databaseCheck). A failure asks Save Anyway / Edit / Cancel.
 */
async function checkBeforeSaving(
  services: Services,
  server: Server,
  input: DatabaseInput,
  password?: string,
): Promise<CheckDecision> {
  if (services.store.listDatabases(server.id).some((d) => d.name === input.name))
    throw new Error(
      `A database named "${input.name}" already exists on ${server.name}; choose another name.`,
    );
  try {
    const database = parseReadable(databaseInput, input, 'Database');
    const result = await withRemote(
      services,
      server,
      { title: `Checking ${database.name} on ${server.name}…`, secrets: password ? [password] : [] },
      ({ runner, signal }) =>
        checkDatabase(
          runner,
          {
            server: { name: server.name, backupDir: server.backupDir },
            database,
            password: password ? { kind: 'inline', password } : { kind: 'none' },
          },
          signal,
        ),
    );
    const size = result.sizeBytes !== undefined ? ` (${humanSize(result.sizeBytes)})` : '';
    return {
      decision: 'save',
      passed: true,
      note:
        result.answered === 'yes'
          ? `${result.tool} found, and the database answered${size}.`
          : `${result.tool} found; whether the database answers cannot be asked before a backup — the first backup will tell.`,
    };
  } catch (err) {
    const message = isCancellation(err) ? 'The check was cancelled.' : messageOf(err);
    services.log.warn(`Check of ${input.name} on ${server.name}: ${message}`);
    const choice = await askAfterFailure(
      `${input.name} on ${server.name} did not pass its check.`,
      message,
      'database',
    );
    return choice === 'save'
      ? {
          decision: 'save',
          passed: false,
          note: `saved without a passing check (${message.replace(/\.$/, '')}).`,
        }
      : { decision: 'edit' };
  }
}

export async function removeDatabase(services: Services, arg?: unknown): Promise<void> {
  const { server, database } = await resolveDatabase(services, arg, 'Remove Database', {
    broken: 'allow',
  });
  await confirmModal(
    `Remove database "${database.name}" from ${server.name}?`,
    'infrakt forgets this database and its stored password. The database itself and its backups on the server are not touched.',
    'Remove',
  );
  services.store.removeDatabase(database.id);
  await services.secrets.delete(secretKeys.database(database.id));
  services.log.info(`Removed database ${database.name} from ${server.name}`);
}

interface DiscoveredItem extends vscode.QuickPickItem {
  add: () => Promise<void>;
}

/** A database name from a container name: `infrakt-db-shop` → `shop`. */
export async function discoverDatabasesCommand(services: Services, arg?: unknown): Promise<void> {
  const server = await resolveServer(services, arg, 'Discover Databases');
  const found = await withRemote(
    services,
    server,
    { title: `Looking for databases on ${server.name}` },
    ({ runner, signal }) => discoverDatabases(runner, server.name, signal),
  );
  const existing = services.store.listDatabases(server.id);
  const knownContainers = new Set(existing.map((d) => d.container).filter(Boolean));
  const knownHost = new Set(existing.filter((d) => d.mode === 'host').map((d) => `${d.engine}:${d.dbPort}`));
  const items: DiscoveredItem[] = [];
  for (const c of found.containers) {
    if (knownContainers.has(c.container)) continue;
    const name = suggestName(c.container);
    items.push({
      label: `$(package) ${c.container}`,
      description: `${ENGINE_LABELS[c.engine]} · ${c.image} · ${c.state}`,
      detail: `container mode — credentials read from the container at run time; added as "${name}"`,
      add: async () => {
        services.store.addDatabase({
          serverId: server.id,
          name,
          engine: c.engine,
          mode: 'container',
          container: c.container,
        });
      },
    });
  }
  for (const h of found.hostServices) {
    if (!h.listening || knownHost.has(`${h.engine}:${h.port}`)) continue;
    items.push({
      label: `$(server-process) ${ENGINE_LABELS[h.engine]} on port ${h.port}`,
      description: h.tools.length
        ? `tools: ${h.tools.join(', ')}`
        : 'no dump tools found — run Provision Server',
      detail: 'installed on the server — you will be asked for its name, user and password',
      add: () => addHostDatabase(services, server, h.engine, h.engine, h),
    });
  }
  const docker =
    found.docker === 'missing'
      ? ' Docker is not installed there.'
      : found.docker === 'error'
        ? ` Docker did not answer: ${found.dockerError ?? 'unknown error'}.`
        : '';
  if (items.length === 0) {
    void vscode.window.showInformationMessage(
      `No new databases found on ${server.name} (no database containers running, no known database port listening).${docker} Use Add Database to add one by hand.`,
    );
    return;
  }
  const picked = await vscode.window.showQuickPick(items, {
    title: `Discover Databases on ${server.name}`,
    placeHolder: `Choose the databases to add${docker}`,
    canPickMany: true,
    ignoreFocusOut: true,
  });
  if (!picked || picked.length === 0) return;
  for (const item of picked) await item.add();
  services.log.info(`Discover Databases on ${server.name}: added ${picked.map((p) => p.label).join(', ')}`);
}
