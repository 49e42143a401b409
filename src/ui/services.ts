import type * as vscode from 'vscode';
import type { ConfigStore } from '../store/configStore';
import type { Secrets } from '../core/secrets';
import type { RemoteRunner } from '../core/remote/runner';
import type { Server } from '../core/model';
import type { S3ListingProblem, ServerState } from '../core/treeRows';
import type { ServerBackups } from '../core/backup/serverListing';
import type { ScheduleStatusListing } from '../core/schedule/script';

/** What commands ask of the Servers view (ServersTree). */
export interface TreeControl {
  /** Re-lists one server (or all) and redraws. */
  reload(serverId?: string): void;
  setServerState(serverId: string, state: ServerState): void;
}

/** One server's backups as the catalog holds them. */
export type CatalogEntry =
  | { state: 'loading'; promise: Promise<void> }
  | { state: 'ok'; listing: ServerBackups; s3Problem?: S3ListingProblem; schedules: ScheduleStatusListing }
  | { state: 'error'; message: string };

/** What commands ask of the backup catalog (BackupCatalog). */
export interface CatalogControl {
  load(server: Server): Promise<CatalogEntry>;
}

/** What every command handler may use; built once in extension.ts. */
export interface Services {
  readonly context: vscode.ExtensionContext;
  readonly store: ConfigStore;
  readonly secrets: Secrets;
  readonly log: vscode.LogOutputChannel;
  readonly tree: TreeControl;
  readonly runner: RemoteRunner;
  /** Each server's backups (local + S3), listed once per refresh. */
  readonly catalog: CatalogControl;
}
