import type * as vscode from 'vscode';
import type { ConfigStore } from '../store/configStore';
import type { Secrets } from '../core/secrets';
import type { RemoteRunner } from '../core/remote';
import type { BackupCatalog } from './tree/backupCatalog';
import type { ServersTree } from './tree/serversTree';

/** What every command handler may use; built once in extension.ts. */
export interface Services {
  readonly context: vscode.ExtensionContext;
  readonly store: ConfigStore;
  readonly secrets: Secrets;
  readonly log: vscode.LogOutputChannel;
  readonly tree: ServersTree;
  readonly runner: RemoteRunner;
  /** Each server's backups (local + S3), listed once per refresh. */
  readonly catalog: BackupCatalog;
}
