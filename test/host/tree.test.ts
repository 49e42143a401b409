// The Servers tree provider, with the real vscode API, over the store file the
// launcher seeded in the extension's globalStorage before code-server started.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TreeNode } from '../../src/core/treeRows';
import { ConfigStore } from '../../src/store/configStore';
import type { Services } from '../../src/ui/services';
import { BackupCatalog } from '../../src/ui/tree/backupCatalog';
import { ServersTree } from '../../src/ui/tree/serversTree';
import { ENV_STORE, EXTENSION_ID, SEED_DATABASES, SEED_SERVERS } from './seedData';

function label(item: vscode.TreeItem): string {
  const l = item.label;
  return typeof l === 'string' ? l : (l?.label ?? '');
}

describe('Servers tree over a seeded store', () => {
  let storeFile: string;
  let store: ConfigStore;
  let tree: ServersTree;
  let catalog: BackupCatalog;

  before(async function () {
    const file = process.env[ENV_STORE];
    if (!file) throw new Error(`${ENV_STORE} is not set: run this suite through out/test/e2e/run.js host`);
    storeFile = file;
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    await ext.activate();
    ({ store } = await ConfigStore.open(storeFile, {
      wasmPath: path.join(ext.extensionPath, 'dist', 'sql-wasm.wasm'),
    }));
    // The seeded servers do not exist: every listing fails the way a refused connection does.
    const services = {
      store,
      log: vscode.window.createOutputChannel('infrakt tree test', { log: true }),
      runner: {
        run: async (server: { name: string }) => {
          throw new Error(`Connection refused by ${server.name}`);
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
    tree?.dispose();
    catalog?.dispose();
    store?.dispose();
  });

  it('the extension opened the seeded file as it was (not moved aside as corrupt)', () => {
    assert.ok(fs.existsSync(storeFile));
    const aside = fs.readdirSync(path.dirname(storeFile)).filter((f) => f.includes('.corrupt-'));
    assert.deepEqual(aside, []);
  });

  it('returns one collapsed server row per seeded server', async () => {
    const roots = await tree.getChildren();
    assert.deepEqual(
      roots.map((n) => (n.kind === 'server' ? n.server.name : `<${n.kind}>`)).sort(),
      SEED_SERVERS.map((s) => s.name).sort(),
    );
    const web = roots.find((n) => n.kind === 'server' && n.server.name === 'seed-web');
    assert.ok(web);
    const item = tree.getTreeItem(web);
    assert.equal(label(item), 'seed-web');
    assert.equal(item.description, 'deploy@10.0.0.5:2222');
    assert.equal(item.contextValue, 'infrakt.server.idle');
    assert.equal(item.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
    assert.ok(item.iconPath instanceof vscode.ThemeIcon);
  });

  it('returns the database rows of a server, with engine and mode', async () => {
    const web = (await tree.getChildren()).find((n) => n.kind === 'server' && n.server.name === 'seed-web');
    assert.ok(web);
    const children: TreeNode[] = await tree.getChildren(web);
    assert.deepEqual(
      children.map((n) => (n.kind === 'database' ? n.database.name : `<${n.kind}>`)).sort(),
      SEED_DATABASES.map((d) => d.name).sort(),
    );
    const items = new Map(children.map((n) => [label(tree.getTreeItem(n)), tree.getTreeItem(n)]));
    assert.equal(items.get('shop')?.contextValue, 'infrakt.database.postgres');
    assert.equal(items.get('shop')?.description, 'PostgreSQL · listing…');
    assert.equal(items.get('cache')?.contextValue, 'infrakt.database.redis');
    assert.equal(items.get('cache')?.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
  });

  it('an unreachable server gets an error row and its state, not a thrown error', async () => {
    const web = (await tree.getChildren()).find((n) => n.kind === 'server' && n.server.name === 'seed-web');
    assert.ok(web && web.kind === 'server');
    await catalog.load(web.server);
    const children = await tree.getChildren(web);
    const first = tree.getTreeItem(children[0]);
    assert.equal(first.contextValue, 'infrakt.error');
    assert.match(label(first), /^Could not list backups: Connection refused by seed-web/);
    const db = children.find((n) => n.kind === 'database');
    assert.ok(db);
    const rows = await tree.getChildren(db);
    assert.match(label(tree.getTreeItem(rows[0])), /^Could not list backups/);
    const again = (await tree.getChildren()).find((n) => n.kind === 'server' && n.server.name === 'seed-web');
    assert.ok(again);
    assert.equal(tree.getTreeItem(again).contextValue, 'infrakt.server.error');
  });

  it('shows a hint row under a server without databases', async () => {
    const empty = (await tree.getChildren()).find(
      (n) => n.kind === 'server' && n.server.name === 'seed-empty',
    );
    assert.ok(empty);
    const children = await tree.getChildren(empty);
    assert.equal(children.length, 1);
    assert.equal(children[0].kind, 'message');
    assert.match(label(tree.getTreeItem(children[0])), /No databases yet/);
  });

  it('fires a change when the store changes', async () => {
    const changed = new Promise<void>((resolve) => {
      const sub = tree.onDidChangeTreeData(() => {
        sub.dispose();
        resolve();
      });
    });
    const server = store.addServer({ name: 'seed-added', host: '10.0.0.9', user: 'root', auth: 'agent' });
    await changed;
    assert.ok((await tree.getChildren()).some((n) => n.kind === 'server' && n.server.id === server.id));
    store.removeServer(server.id);
  });
});
