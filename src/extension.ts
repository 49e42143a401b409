import * as path from 'node:path';
import * as vscode from 'vscode';
import { Secrets } from './core/secrets';
import { createLog } from './platform/log';
import { createSshEnvironment } from './platform/sshEnvironment';
import { ConnectionPool } from './ssh/connectionPool';
import { ConfigStore } from './store/configStore';
import { COMMANDS } from './ui/commands';
import { commandRunner } from './ui/commands/registry';
import { ScheduleProblemsItem } from './ui/tree/scheduleProblems';
import { migrateKeepNewestSetting } from './ui/commands/retention';
import type { Started } from './ui/deferred';
import { S3SettingsPanel } from './ui/webview/s3SettingsPanel';
import type { Services } from './ui/services';
import { BackupCatalog } from './ui/tree/backupCatalog';
import { ServersTree } from './ui/tree/serversTree';

/**
 * Opens the store and builds the services; src/entry.ts hands VS Code's requests over once this
 * resolves. `started`: when VS Code called activate(); `returned`: when activate() returned.
 */
export async function start(
  context: vscode.ExtensionContext,
  times: { started: number; returned: () => number },
): Promise<Started> {
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
  context.subscriptions.push(catalog, tree, new ScheduleProblemsItem(tree, store, catalog));
  await migrateKeepNewestSetting(services);

  const now = performance.now();
  const since = (t: number) => Math.round(t - times.started);
  log.info(
    `infrakt activated in ${since(times.returned())} ms, ready in ${since(now)} ms (loading its code ${Math.round(loaded - times.started)} ms, opening the store ${Math.round(storeOpened - loaded)} ms; store: ${file})`,
  );
  return {
    tree,
    run: commandRunner(services, COMMANDS),
    ids: Object.keys(COMMANDS),
    revive: (panel) => void S3SettingsPanel.revive(panel, services),
  };
}
