import * as vscode from 'vscode';
import {
  DEFAULT_PORTS,
  ENGINE_LABELS,
  ENGINES,
  type DatabaseMode,
  databaseName,
  fieldValidator,
  hostName,
  port,
  userName,
} from '../../core/model';
import { secretKeys } from '../../core/secrets';
import type { Services } from '../services';
import { askText, confirmModal, pickOne } from '../input';
import { resolveDatabase, resolveServer } from './targets';

const containerValidator = (v: string) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(v)
    ? undefined
    : 'Container name may use letters, digits, _ . - (as Docker allows)';

export async function addDatabase(services: Services, arg?: unknown): Promise<void> {
  const server = await resolveServer(services, arg, 'Add Database');
  const title = `Add Database to ${server.name}`;
  const { engine } = await pickOne(
    ENGINES.map((e) => ({ label: ENGINE_LABELS[e], engine: e })),
    { title, placeHolder: 'Which engine?' },
  );
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
  const name = await askText({
    title,
    prompt: 'Name (used in backup file names)',
    placeHolder: 'app',
    validate: fieldValidator(databaseName),
  });

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

  const dbHost = await askText({
    title,
    prompt: 'Database host, as seen from the server',
    value: '127.0.0.1',
    validate: fieldValidator(hostName),
  });
  const dbPort = await askText({
    title,
    prompt: 'Database port',
    value: String(DEFAULT_PORTS[engine]),
    validate: fieldValidator(port),
  });
  let dbUser: string | undefined;
  let dbName: string | undefined;
  if (engine !== 'redis') {
    dbUser = await askText({
      title,
      prompt: 'Database user',
      value: engine === 'postgres' ? 'postgres' : 'root',
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
    mode,
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
  const { server, database } = await resolveDatabase(services, arg, 'Remove Database');
  await confirmModal(
    `Remove database "${database.name}" from ${server.name}?`,
    'infrakt forgets this database and its stored password. The database itself and its backups on the server are not touched.',
    'Remove',
  );
  services.store.removeDatabase(database.id);
  await services.secrets.delete(secretKeys.database(database.id));
  services.log.info(`Removed database ${database.name} from ${server.name}`);
}
