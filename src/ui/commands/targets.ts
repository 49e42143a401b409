// A command can be run on a tree row or from the palette; with no row, ask.
import { humanAge, humanSize } from '../../core/format';
import type { BackupLocation, Database, Server } from '../../core/model';
import { type BackupEntry, LOCATION_LABELS } from '../../core/s3/layout';
import type { TreeNode } from '../../core/treeRows';
import { ENGINE_LABELS } from '../../core/model';
import type { Services } from '../services';
import { pickOne } from '../input';

function isNode(arg: unknown): arg is TreeNode {
  return typeof arg === 'object' && arg !== null && 'kind' in arg;
}

export async function resolveServer(services: Services, arg: unknown, title: string): Promise<Server> {
  if (isNode(arg) && (arg.kind === 'server' || arg.kind === 'database')) {
    const fresh = services.store.getServer(arg.server.id);
    if (fresh) return fresh;
  }
  const servers = services.store.listServers();
  if (servers.length === 0) throw new Error('No servers yet — run "Infrakt: Add Server" first.');
  if (servers.length === 1) return servers[0];
  const picked = await pickOne(
    servers.map((s) => ({ label: s.name, description: `${s.user}@${s.host}:${s.port}`, server: s })),
    { title, placeHolder: 'Choose a server' },
  );
  return picked.server;
}

export async function resolveDatabase(
  services: Services,
  arg: unknown,
  title: string,
): Promise<{ server: Server; database: Database }> {
  if (isNode(arg) && arg.kind === 'database') {
    const database = services.store.getDatabase(arg.database.id);
    const server = services.store.getServer(arg.server.id);
    if (database && server) return { server, database };
  }
  const servers = new Map(services.store.listServers().map((s) => [s.id, s]));
  const databases = services.store.listDatabases();
  if (databases.length === 0) throw new Error('No databases yet — run "Infrakt: Add Database" first.');
  const picked = await pickOne(
    databases.map((d) => ({
      label: d.name,
      description: `${ENGINE_LABELS[d.engine]} on ${servers.get(d.serverId)?.name ?? '?'}`,
      database: d,
    })),
    { title, placeHolder: 'Choose a database' },
  );
  const server = servers.get(picked.database.serverId);
  if (!server) throw new Error('That database’s server no longer exists.');
  return { server, database: picked.database };
}

/** A backup from its tree row, or picked from a database's listing (palette). */
export async function resolveBackup(
  services: Services,
  arg: unknown,
  title: string,
  locations: readonly BackupLocation[] = ['local', 's3', 'both'],
): Promise<{ server: Server; database: Database; entry: BackupEntry }> {
  if (isNode(arg) && arg.kind === 'backup') {
    const database = services.store.getDatabase(arg.database.id);
    const server = services.store.getServer(arg.server.id);
    if (!database || !server) throw new Error('That backup’s database or server was removed.');
    return { server, database, entry: arg.entry };
  }
  const { server, database } = await resolveDatabase(services, arg, title);
  const listed = await services.catalog.load(server);
  if (listed.state === 'error')
    throw new Error(`Could not list backups on ${server.name}: ${listed.message}`);
  const entries = (listed.state === 'ok' ? (listed.listing.byDatabase.get(database.name) ?? []) : []).filter(
    (e) => locations.includes(e.location),
  );
  if (entries.length === 0)
    throw new Error(`${database.name} on ${server.name} has no backups for ${title} yet.`);
  const picked = await pickOne(
    entries.map((e) => ({
      label: e.filename,
      description: `${humanSize(e.sizeBytes)} · ${humanAge(e.modified)} · ${LOCATION_LABELS[e.location]}`,
      entry: e,
    })),
    { title, placeHolder: `Choose a backup of ${database.name} (newest first)` },
  );
  return { server, database, entry: picked.entry };
}
