// A command can be run on a tree row or from the palette; with no row, ask.
import { humanAge, humanSize } from '../../core/format';
import { type BackupLocation, type Database, type Server, usable } from '../../core/model';
import { type BackupEntry, LOCATION_LABELS } from '../../core/s3/layout';
import type { TreeNode } from '../../core/treeRows';
import { ENGINE_LABELS } from '../../core/model';
import type { Services } from '../services';
import { pickOne } from '../input';
import { ROW_NOT_HANDED_OVER, rowNotHandedOver } from './rowArgument';

function isNode(arg: unknown): arg is TreeNode {
  return typeof arg === 'object' && arg !== null && 'kind' in arg;
}

/** A row's menu whose row VS Code lost to a refresh: say so rather than ask for another target. */
function refuseLostRow(arg: unknown, title: string): void {
  if (arg === ROW_NOT_HANDED_OVER) throw rowNotHandedOver(title);
}

/** Whether the command may act on a stored row that fails its schema (only editing and removing it may). */
export interface ResolveOptions {
  broken?: 'refuse' | 'allow';
}

function refuseBroken<T extends { problem?: string }>(row: T, opts: ResolveOptions): T {
  if (row.problem && opts.broken !== 'allow') throw new Error(row.problem);
  return row;
}

/** The rows a picker offers: with `broken: 'refuse'`, only usable ones (none usable: the first one's problem). */
function offered<T extends { problem?: string }>(rows: readonly T[], opts: ResolveOptions): T[] {
  if (opts.broken === 'allow' || rows.length === 0) return [...rows];
  const ok = usable(rows);
  if (ok.length === 0) throw new Error(rows[0].problem);
  return ok;
}

export async function resolveServer(
  services: Services,
  arg: unknown,
  title: string,
  opts: ResolveOptions = {},
): Promise<Server> {
  refuseLostRow(arg, title);
  if (isNode(arg) && (arg.kind === 'server' || arg.kind === 'database')) {
    const fresh = services.store.getServer(arg.server.id);
    if (fresh) return refuseBroken(fresh, opts);
  }
  const servers = offered(services.store.listServers(), opts);
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
  opts: ResolveOptions = {},
): Promise<{ server: Server; database: Database }> {
  refuseLostRow(arg, title);
  if (isNode(arg) && arg.kind === 'database') {
    const database = services.store.getDatabase(arg.database.id);
    const server = services.store.getServer(arg.server.id);
    if (database && server) {
      refuseBroken(server, opts);
      return { server, database: refuseBroken(database, opts) };
    }
  }
  const servers = new Map(services.store.listServers().map((s) => [s.id, s]));
  const databases = offered(
    services.store
      .listDatabases()
      .map((d) =>
        servers.get(d.serverId)?.problem ? { ...d, problem: servers.get(d.serverId)?.problem } : d,
      ),
    opts,
  );
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
  const database = services.store.getDatabase(picked.database.id) ?? picked.database;
  return { server, database };
}

/** A backup from its tree row, or picked from a database's listing (palette). */
export async function resolveBackup(
  services: Services,
  arg: unknown,
  title: string,
  locations: readonly BackupLocation[] = ['local', 's3', 'both'],
): Promise<{ server: Server; database: Database; entry: BackupEntry }> {
  refuseLostRow(arg, title);
  if (isNode(arg) && arg.kind === 'backup') {
    const database = services.store.getDatabase(arg.database.id);
    const server = services.store.getServer(arg.server.id);
    if (!database || !server) throw new Error('That backup’s database or server was removed.');
    return { server: refuseBroken(server, {}), database: refuseBroken(database, {}), entry: arg.entry };
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
