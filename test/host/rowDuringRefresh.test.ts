// A row's menu during a refresh, with the real vscode API: VS Code forgets the
// rows a refresh replaces until their parent's children are answered again, and
// a command chosen meanwhile gets no row. So while a server's next listing is
// on its way, its backup rows must be answered at once (same ids), and the
// command must resolve the row it was given — never ask for another one.
// The listing is the real listing script, run on this machine (the "server"),
// over a backup directory with a real backup file; its second run is held
// until the test lets it go, which is what a slow server does.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Server } from '../../src/core/model';
import type { RunOptions } from '../../src/core/remote/runner';
import type { TreeNode } from '../../src/core/treeRows';
import { ConfigStore } from '../../src/store/configStore';
import { ROW_NOT_HANDED_OVER } from '../../src/ui/commands/rowArgument';
import { resolveBackup } from '../../src/ui/commands/targets';
import type { Services } from '../../src/ui/services';
import { BackupCatalog } from '../../src/ui/tree/backupCatalog';
import { ServersTree } from '../../src/ui/tree/serversTree';
import { localRunner } from '../world/localRunner';
import { EXTENSION_ID } from './seedData';

const FILE = 'local_shop_postgres_20261201T020304Z.dump.zst';

/** Resolves with the value, or with 'still waiting' once `ms` have passed. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  return Promise.race([p, new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), ms))]);
}

describe('a backup row while its server is listed again', () => {
  let dir: string;
  let backupDir: string;
  let store: ConfigStore;
  let tree: ServersTree;
  let catalog: BackupCatalog;
  let services: Services;
  let server: Server;
  /** While set, every listing waits for it: the next listing "is on its way". */
  let hold: Promise<void> | undefined;
  let release = () => {};
  let listings = 0;

  before(async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-host-refresh-'));
    backupDir = path.join(dir, 'backups');
    fs.mkdirSync(backupDir, { mode: 0o700 });
    fs.writeFileSync(path.join(backupDir, FILE), 'not really zstd');
    fs.writeFileSync(path.join(backupDir, `${FILE}.sha256`), `${'0'.repeat(64)}  ${FILE}\n`);
    ({ store } = await ConfigStore.open(path.join(dir, 'infrakt.sqlite'), {
      wasmPath: path.join(ext.extensionPath, 'dist', 'sql-wasm.wasm'),
    }));
    server = store.addServer({ name: 'local', host: '127.0.0.1', user: 'root', auth: 'agent', backupDir });
    store.addDatabase({ serverId: server.id, name: 'shop', engine: 'postgres', mode: 'container' });
    const local = localRunner();
    services = {
      store,
      log: vscode.window.createOutputChannel('infrakt refresh test', { log: true }),
      runner: {
        run: async (_server: Server, script: string, o?: RunOptions) => {
          listings++;
          await hold;
          return local.run(script, o);
        },
      },
      get tree() {
        return tree;
      },
    } as unknown as Services;
    catalog = new BackupCatalog(() => services);
    tree = new ServersTree(store, catalog);
  });

  after(() => {
    release();
    tree?.dispose();
    catalog?.dispose();
    store?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A row's children as VS Code takes them: each is drawn (getTreeItem) as it arrives. */
  async function children(node?: TreeNode): Promise<TreeNode[]> {
    const rows = await tree.getChildren(node);
    for (const row of rows) tree.getTreeItem(row);
    return rows;
  }

  async function databaseNode(): Promise<Extract<TreeNode, { kind: 'database' }>> {
    const [root] = await children();
    assert.equal(root.kind, 'server');
    const db = (await children(root)).find((n) => n.kind === 'database');
    assert.ok(db && db.kind === 'database');
    return db;
  }

  /** What the tree asks VS Code to redraw until `done` settles (and 50 ms more): undefined is "all of it". */
  async function redrawsDuring(done: () => Promise<unknown>): Promise<(TreeNode[] | undefined)[]> {
    const events: (TreeNode[] | undefined)[] = [];
    const sub = tree.onDidChangeTreeData((e) => events.push(e));
    try {
      await done();
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      sub.dispose();
    }
    return events;
  }

  it('is answered at once, with the same id, while the next listing is held — and its command acts on it', async () => {
    const first = await children(await databaseNode());
    assert.deepEqual(
      first.map((n) => (n.kind === 'backup' ? n.entry.filename : `<${n.kind}>`)),
      [FILE],
      'the real listing found the backup',
    );
    const id = tree.getTreeItem(first[0]).id;
    assert.equal(id, `backup:${server.id}:${FILE}`);

    // A restore just finished: the server is listed again, and that listing takes a while.
    hold = new Promise((resolve) => (release = resolve));
    const before = listings;
    tree.reload(server.id);
    const during = await within(children(await databaseNode()), 2_000);
    assert.notEqual(during, 'still waiting', 'the backup rows wait for the new listing');
    assert.ok(Array.isArray(during));
    assert.ok(listings > before, 'the new listing is on its way');
    assert.deepEqual(
      during.map((n) => tree.getTreeItem(n).id),
      [id],
    );

    // The command run from that row gets the row, not a "Choose a database" picker.
    const target = await within(
      resolveBackup(services, during[0], 'Delete Backup', ['local', 'both']),
      2_000,
    );
    assert.notEqual(target, 'still waiting');
    assert.ok(target !== 'still waiting');
    assert.equal(target.entry.filename, FILE);
    assert.equal(target.server.id, server.id);

    // The listing lands with the same rows: nothing to redraw, so VS Code has no rows to forget.
    let redraws = 0;
    const sub = tree.onDidChangeTreeData(() => redraws++);
    release();
    hold = undefined;
    await catalog.load(server);
    await new Promise((resolve) => setTimeout(resolve, 50));
    sub.dispose();
    assert.equal(redraws, 0, 'the same listing (and "still connected") redraw nothing');
    const after = await children(await databaseNode());
    assert.deepEqual(
      after.map((n) => tree.getTreeItem(n).id),
      [id],
    );
  });

  it('a listing that finds a new backup redraws that database row — the object VS Code holds — and nothing above it', async () => {
    const db = await databaseNode();
    await children(db);
    const newer = 'local_shop_postgres_20261202T020304Z.dump.zst';
    fs.writeFileSync(path.join(backupDir, newer), 'a newer backup');
    fs.writeFileSync(path.join(backupDir, `${newer}.sha256`), `${'1'.repeat(64)}  ${newer}\n`);
    const events = await redrawsDuring(async () => {
      tree.reload(server.id);
      await catalog.load(server);
    });
    assert.ok(events.length > 0 && events.every((e) => e !== undefined), 'not the whole tree');
    const redrawn = events.flat() as TreeNode[];
    assert.ok(
      redrawn.every((n) => n === db),
      `only the database row: ${redrawn.map((n) => tree.getTreeItem(n).id).join(', ')}`,
    );
    assert.match(
      String(tree.getTreeItem(db).description),
      /2 backups/,
      'the row VS Code holds says what is new',
    );
    const rows = await children(db);
    assert.deepEqual(
      rows.map((n) => (n.kind === 'backup' ? n.entry.filename : `<${n.kind}>`)),
      [newer, FILE],
    );
  });

  it('a backup whose size changed is redrawn alone: its database and server rows stay', async () => {
    const db = await databaseNode();
    const [newest] = await children(db);
    assert.ok(newest.kind === 'backup');
    fs.appendFileSync(path.join(backupDir, newest.entry.filename), Buffer.alloc(4096));
    const events = await redrawsDuring(async () => {
      tree.reload(server.id);
      await catalog.load(server);
    });
    const redrawn = events.flat() as TreeNode[];
    assert.ok(events.every((e) => e !== undefined));
    assert.ok(redrawn.length > 0 && redrawn.every((n) => n === newest), 'only the backup row');
    assert.match(tree.getTreeItem(newest).label as string, /4\.\d+ KB|4 KB/);
  });

  it('a server whose state changes is redrawn itself; a database added redraws its server; a server added, the whole tree', async () => {
    const [row] = await children();
    let events = await redrawsDuring(async () =>
      tree.setServerState(server.id, { kind: 'error', message: 'connection refused' }),
    );
    assert.deepEqual(events, [[row]]);
    await databaseNode();
    events = await redrawsDuring(async () => {
      store.addDatabase({ serverId: server.id, name: 'crm', engine: 'postgres', mode: 'container' });
    });
    assert.ok(events[0]?.length === 1 && events[0][0] === row, 'its server row');
    events = await redrawsDuring(async () => {
      store.addServer({ name: 'other', host: '127.0.0.2', user: 'root', auth: 'agent', backupDir });
    });
    assert.deepEqual(events, [undefined]);
  });

  it('a row VS Code could not hand over is refused with what to do, not answered with a picker', async () => {
    const outcome = await within(
      resolveBackup(services, ROW_NOT_HANDED_OVER, 'Delete Backup', ['local', 'both']).then(
        () => 'resolved',
        (e: Error) => e.message,
      ),
      2_000,
    );
    assert.equal(
      outcome,
      'The tree was reloading when Delete Backup was chosen, so infrakt could not tell which row it was for — choose Delete Backup on the row again.',
    );
  });
});
