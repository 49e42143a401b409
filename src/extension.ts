import * as path from 'node:path';
import * as vscode from 'vscode';
import { Secrets } from './core/secrets';
import { createLog } from './platform/log';
import { createSshEnvironment } from './platform/sshEnvironment';
import { ConnectionPool } from './ssh/connectionPool';
import { ConfigStore } from './store/configStore';
import { COMMANDS } from './ui/commands';
import { registerCommands } from './ui/commands/registry';
import { ScheduleProblemsItem } from './ui/tree/scheduleProblems';
import { migrateKeepNewestSetting } from './ui/commands/retention';
import { registerS3SettingsSerializer } from './ui/commands/s3Settings';
import type { Services } from './ui/services';
import { BackupCatalog } from './ui/tree/backupCatalog';
import { ServersTree } from './ui/tree/serversTree';

/** `started`: when VS Code called the bundle's activate(), before this module was loaded (src/entry.ts). */
export async function activate(context: vscode.ExtensionContext, started = performance.now()): Promise<void> {
  const loaded = performance.now();
  const log = createLog();
  context.subscriptions.push(log);

  const file = path.join(context.globalStorageUri.fsPath, 'infrakt.sqlite');
  const { store, movedAside } = await ConfigStore.open(file, {
    wasmPath: context.asAbsolutePath('dist/sql-wasm.wasm'),
  });
  const storeOpened = performance.now();
  store.watch();
  context.subscriptions.push({ dispose: () => store.dispose() });
  if (movedAside) {
    log.warn(`Store could not be read (${movedAside.reason}); moved aside to ${movedAside.path}`);
    void vscode.window.showWarningMessage(
      `The infrakt settings file could not be read (${movedAside.reason}). It was kept at ${movedAside.path} and a fresh one was started.`,
    );
  }

  const secrets = new Secrets(context.secrets);
  const runner = new ConnectionPool(createSshEnvironment(store, secrets));
  context.subscriptions.push({ dispose: () => runner.dispose() });
  const catalog = new BackupCatalog(() => services);
  const tree = new ServersTree(store, catalog);
  const services: Services = { context, store, secrets, log, tree, runner, catalog };
  context.subscriptions.push(catalog, tree, vscode.window.registerTreeDataProvider('infrakt.servers', tree));
  context.subscriptions.push(new ScheduleProblemsItem(tree, store, catalog));
  registerCommands(context, services, COMMANDS);
  context.subscriptions.push(registerS3SettingsSerializer(services));
  await migrateKeepNewestSetting(services);

  const now = performance.now();
  log.info(
    `infrakt activated in ${Math.round(now - started)} ms (loading its code ${Math.round(loaded - started)} ms, opening the store ${Math.round(storeOpened - loaded)} ms; store: ${file})`,
  );
}
