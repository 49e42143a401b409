import { newestVerification } from '../../core/backup/verification';
import { effectiveScheduleVerify } from '../../core/schedule/script';
import * as vscode from 'vscode';
import type { ConfigStore } from '../../store/configStore';
import type { Database, Server } from '../../core/model';
import { type ScheduleView, scheduleView } from '../../core/schedule/cron';
import {
  type DatabaseSummary,
  type ServerState,
  type TreeNode,
  rowFor,
  s3ProblemRow,
} from '../../core/treeRows';
import { messageOf } from '../errors';
import type { CatalogEntry } from '../services';
import type { BackupCatalog } from './backupCatalog';

/**
 * Servers → databases (from the store; refreshes when the store changes, in
 * any window) → backups (from the catalog: one listing per server, loaded
 * when the server is expanded).
 */
export class ServersTree implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly states = new Map<string, ServerState>();
  private readonly subscription: { dispose(): void };

  private readonly catalogSubscription: { dispose(): void };

  constructor(
    private readonly store: ConfigStore,
    private readonly catalog: BackupCatalog,
  ) {
    this.subscription = store.onDidChange(() => this.refresh());
    this.catalogSubscription = catalog.onDidChange(() => this.refresh());
  }

  /** Lists every server again (Refresh): concurrently, a bounded number at a time. */
  reload(serverId?: string): void {
    this.catalog.invalidate(serverId);
    this.refresh();
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  /**
   * Redraws only when the state changed: every refresh makes VS Code forget the
   * rows until they are answered again (see backupRows), and most runs only
   * confirm "connected".
   */
  setServerState(serverId: string, state: ServerState): void {
    const before = this.states.get(serverId);
    this.states.set(serverId, state);
    if (JSON.stringify(before) !== JSON.stringify(state)) this.refresh();
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const row = rowFor(node);
    const item = new vscode.TreeItem(
      row.label,
      row.collapsible === 'none'
        ? vscode.TreeItemCollapsibleState.None
        : row.collapsible === 'expanded'
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed,
    );
    item.id = row.id;
    item.description = row.description;
    item.tooltip = row.tooltip;
    item.contextValue = row.contextValue;
    item.iconPath = new vscode.ThemeIcon(
      row.icon.id,
      row.icon.color ? new vscode.ThemeColor(row.icon.color) : undefined,
    );
    return item;
  }

  async getChildren(node?: TreeNode): Promise<TreeNode[]> {
    try {
      if (!node) {
        return this.store.listServers().map((server) => {
          return {
            kind: 'server',
            server,
            state: this.states.get(server.id) ?? { kind: 'idle' },
            tools: this.catalog.toolsOf(server.id),
          };
        });
      }
      if (node.kind === 'server') return this.serverChildren(node.server);
      if (node.kind === 'database') return await this.backupRows(node);
      return [];
    } catch (err) {
      return [
        { kind: 'message', id: 'load-error', text: `Could not load: ${messageOf(err)}`, isError: true },
      ];
    }
  }

  private serverChildren(server: Server): TreeNode[] {
    const dbs = this.store.listDatabases(server.id);
    if (dbs.length === 0) {
      return [
        {
          kind: 'message',
          id: `${server.id}:empty`,
          text: 'No databases yet — use Add Database',
          isError: false,
        },
      ];
    }
    // Start the listing now (in the background); rows show "listing…" until it lands,
    // or what the last listing said while the next one loads.
    const current = this.catalog.peek(server.id);
    if (!current) void this.catalog.load(server);
    const entry =
      current && current.state !== 'loading' ? current : (this.catalog.previous(server.id) ?? current);
    const rows: TreeNode[] = [];
    if (entry?.state === 'error') {
      rows.push({
        kind: 'message',
        id: `${server.id}:list-error`,
        text: `Could not list backups: ${entry.message}`,
        detail: `${entry.message}\nUse Refresh to try again, or Test Connection on the server.`,
        isError: true,
      });
    } else if (entry?.state === 'ok' && entry.s3Problem) {
      rows.push(s3ProblemRow(server, entry.s3Problem));
    }
    for (const database of dbs) {
      let backups: DatabaseSummary = { state: 'loading' };
      if (entry?.state === 'ok') {
        const list = entry.listing.byDatabase.get(database.name) ?? [];
        backups = {
          state: 'listed',
          count: list.length,
          newest: list[0]?.modified,
          verified: newestVerification(list.map((b) => b.verification)),
        };
      } else if (entry?.state === 'error') backups = { state: 'listed', count: 0 };
      rows.push({ kind: 'database', server, database, backups, schedule: this.scheduleOf(database, entry) });
    }
    return rows;
  }

  /** Schedules the listed servers show as failed, stale or broken ("shop on web-1"), for the status bar. */
  scheduleProblems(): string[] {
    const out: string[] = [];
    for (const server of this.store.listServers()) {
      const entry = this.catalog.peek(server.id);
      if (entry?.state !== 'ok') continue;
      for (const database of this.store.listDatabases(server.id))
        if (this.scheduleOf(database, entry)?.problem) out.push(`${database.name} on ${server.name}`);
    }
    return out;
  }

  private scheduleOf(database: Database, entry: CatalogEntry | undefined): ScheduleView | undefined {
    const schedule = this.store.getSchedule(database.id);
    if (!schedule) return undefined;
    const listed = entry?.state === 'ok' ? entry.schedules : undefined;
    const encrypted = this.store.getEncryption() !== undefined;
    return scheduleView(
      {
        ...schedule,
        retention: database.retention,
        verify: effectiveScheduleVerify(schedule.verify, database, encrypted),
      },
      listed && {
        installed: listed.cron.has(database.id),
        status: listed.status.get(database.name),
        unreadable: listed.unreadable.get(database.name),
      },
      new Date(),
    );
  }

  /**
   * A database's backup rows. While a new listing loads, the last one's rows are
   * answered at once: VS Code forgets every row a refresh replaces until its
   * parent's children arrive, and a menu command chosen on a row in that time
   * would get no row at all. The finished listing redraws them.
   */
  private async backupRows(node: Extract<TreeNode, { kind: 'database' }>): Promise<TreeNode[]> {
    const current = this.catalog.peek(node.server.id);
    const previous = this.catalog.previous(node.server.id);
    if ((!current || current.state === 'loading') && previous) {
      void this.catalog.load(node.server);
      return this.rowsOf(node, previous);
    }
    return this.rowsOf(node, await this.catalog.load(node.server));
  }

  private rowsOf(node: Extract<TreeNode, { kind: 'database' }>, entry: CatalogEntry): TreeNode[] {
    const id = `${node.database.id}`;
    if (entry.state === 'error')
      return [
        {
          kind: 'message',
          id: `${id}:list-error`,
          text: `Could not list backups: ${entry.message}`,
          isError: true,
        },
      ];
    if (entry.state !== 'ok') return [];
    const list = entry.listing.byDatabase.get(node.database.name) ?? [];
    if (list.length === 0)
      return [
        { kind: 'message', id: `${id}:none`, text: 'No backups yet — use Back Up Now', isError: false },
      ];
    return list.map((e) => ({ kind: 'backup', server: node.server, database: node.database, entry: e }));
  }

  dispose(): void {
    this.subscription.dispose();
    this.catalogSubscription.dispose();
    this.changed.dispose();
  }
}
