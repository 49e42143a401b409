import { engineSpec } from '../../core/engines';
import * as vscode from 'vscode';
import {
  DEFAULT_PORTS,
  ENGINE_LABELS,
  ENGINES,
  type DatabaseMode,
  type Engine,
  type Server,
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
import { discoverDatabases, suggestName } from '../../core/backup';
import { withRemote } from '../remote';

const containerValidator = fieldValidator(containerName);

const askDatabaseName = (title: string) =>
  askText({
    title,
    prompt: 'Name (used in backup file names)',
    placeHolder: 'app',
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
  const name = await askDatabaseName(title);

  if (mode === 'container') {
    const container = await askText({
      title,
      prompt: 'Container name',
      value: `infrakt-db-${name}`,
      validate: containerValidator,
    });
    const db = services.store.addDatabase({ serverId: server.id, name, engine, mode, container });
    services.log.info(
      `Added ${ENGINE_LABELS[engine]} database ${db.name} (container ${db.container}) on ${server.name}`,
    );
    return;
  }

  await addHostDatabase(services, server, engine, name);
}

/** A database that is a file on the server (SQLite): a name and the file's path. */
async function addFileDatabase(services: Services, server: Server, engine: Engine): Promise<void> {
  const title = `Add Database to ${server.name}`;
  const name = await askDatabaseName(title);
  const dbPath = await askText({
    title,
    prompt: `Path of the ${engineSpec(engine).label} database file on ${server.name}`,
    placeHolder: '/srv/app/data.db',
    validate: fieldValidator(remoteFile),
  });
  const db = services.store.addDatabase({ serverId: server.id, name, engine, mode: 'host', dbPath });
  services.log.info(`Added ${ENGINE_LABELS[engine]} database ${db.name} (${dbPath}) on ${server.name}`);
}

/** The host-mode questions (also used by Discover Databases for a service it found listening). */
async function addHostDatabase(
  services: Services,
  server: Server,
  engine: Engine,
  name: string,
  found?: { port: number },
): Promise<void> {
  const title = `Add Database to ${server.name}`;
  const dbHost = await askText({
    title,
    prompt: 'Database host, as seen from the server',
    value: '127.0.0.1',
    validate: fieldValidator(hostName),
  });
  const dbPort = await askText({
    title,
    prompt: 'Database port',
    value: String(found?.port ?? DEFAULT_PORTS[engine]),
    validate: fieldValidator(port),
  });
  let dbUser: string | undefined;
  let dbName: string | undefined;
  if (engineSpec(engine).namedDatabases) {
    dbUser = await askText({
      title,
      prompt: 'Database user',
      value: engineSpec(engine).suggestedUser,
      validate: fieldValidator(userName),
    });
    dbName = await askText({
      title,
      prompt: 'Database name on the server',
      value: name,
      validate: fieldValidator(databaseName),
    });
  }
  const password = await askText({
    title,
    prompt: 'Password (leave blank for peer/trust auth or no password); kept in SecretStorage',
    password: true,
  });
  const db = services.store.addDatabase({
    serverId: server.id,
    name,
    engine,
    mode: 'host',
    dbHost,
    dbPort: Number(dbPort),
    dbUser,
    dbName,
  });
  if (password) await services.secrets.set(secretKeys.database(db.id), password);
  services.log.info(
    `Added ${ENGINE_LABELS[engine]} database ${db.name} (${dbHost}:${dbPort}) on ${server.name}`,
  );
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
