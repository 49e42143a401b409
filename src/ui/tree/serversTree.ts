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
  nodeId,
  rowFor,
  s3ProblemRow,
} from '../../core/treeRows';
import { messageOf } from '../errors';
import type { CatalogEntry } from '../services';
import type { BackupCatalog } from './backupCatalog';

/** The parent id of the top rows (the servers) in `given`. */
const ROOT = '';

/**
 * Servers → databases (from the store; refreshes when the store changes, in
 * any window) → backups (from the catalog: one listing per server, loaded
 * when the server is expanded).
 *
 * A change redraws only the rows it changed. VS Code forgets the rows below
 * every row it redraws until they are answered again, and a menu command
 * chosen on a forgotten row gets no row at all: so a listing that changes a
 * database's backups redraws that database row and its backups, never its
 * server or the whole tree. VS Code knows a row by the object it was given:
 * each row id keeps one object, updated in place by every change.
 */
export class ServersTree implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode[] | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly states = new Map<string, ServerState>();
  private readonly subscription: { dispose(): void };
  private readonly catalogSubscription: { dispose(): void };
  /** The one object per row id that VS Code was given. */
  private readonly shown = new Map<string, TreeNode>();
  /** The ids of the children VS Code was last given, by parent id (ROOT: the servers). */
  private readonly given = new Map<string, string[]>();
  /** Each row as VS Code last drew it. */
  private readonly drawn = new Map<string, string>();

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

  /** Redraws what changed since VS Code last drew it (see the class comment). */
  refresh(): void {
    let servers: TreeNode[];
    try {
      servers = this.serverRows();
    } catch {
      servers = [];
    }
    const top = this.given.get(ROOT);
    if (!top || !sameIds(top, servers)) {
      this.given.clear();
      this.changed.fire(undefined);
      return;
    }
    const redraw: TreeNode[] = [];
    this.collect(servers, redraw);
    if (redraw.length) this.changed.fire(redraw);
  }

  /** Adds to `redraw` each row (of `fresh`, or below) that VS Code draws otherwise than it now is. */
  private collect(fresh: readonly TreeNode[], redraw: TreeNode[]): void {
    for (const node of fresh) {
      const id = nodeId(node);
      const row = this.keep(node);
      const below = this.given.has(id) ? this.childrenNow(row) : [];
      if (
        this.drawn.get(id) !== JSON.stringify(rowFor(row)) ||
        (below && !sameIds(this.given.get(id) ?? [], below))
      ) {
        this.forgetBelow(id);
        redraw.push(row);
      } else if (below) this.collect(below, redraw);
    }
  }

  /**
   * A row's children as they are now, without waiting: undefined while a
   * database's first listing loads (its end redraws it).
   */
  private childrenNow(node: TreeNode): TreeNode[] | undefined {
    if (node.kind === 'server') return this.serverChildren(node.server);
    if (node.kind !== 'database') return [];
    const current = this.catalog.peek(node.server.id);
    const entry = current && current.state !== 'loading' ? current : this.catalog.previous(node.server.id);
    return entry ? this.rowsOf(node, entry) : undefined;
  }

  /** The object VS Code knows for this row, updated to `fresh`. */
  private keep(fresh: TreeNode): TreeNode {
    const id = nodeId(fresh);
    const known = this.shown.get(id);
    if (!known) {
      this.shown.set(id, fresh);
      return fresh;
    }
    if (known !== fresh) {
      for (const key of Object.keys(known)) delete (known as Record<string, unknown>)[key];
      Object.assign(known, fresh);
    }
    return known;
  }

  /** VS Code forgets the rows below a row it redraws: so do we, until it asks again. */
  private forgetBelow(id: string): void {
    for (const child of this.given.get(id) ?? []) this.forget(child);
    this.given.delete(id);
  }

  /** A row VS Code no longer holds, and those below it. */
  private forget(id: string): void {
    this.forgetBelow(id);
    this.shown.delete(id);
    this.drawn.delete(id);
  }

  /** The rows VS Code is given as `parent`'s children: the objects it knows, updated. */
  private give(parent: TreeNode | undefined, fresh: readonly TreeNode[]): TreeNode[] {
    const parentId = parent ? nodeId(parent) : ROOT;
    const ids = fresh.map(nodeId);
    for (const id of this.given.get(parentId) ?? []) if (!ids.includes(id)) this.forget(id);
    this.given.set(parentId, ids);
    return fresh.map((node) => this.keep(node));
  }

  /**
   * Redraws only when the state changed: most runs only confirm "connected".
   */
  setServerState(serverId: string, state: ServerState): void {
    const before = this.states.get(serverId);
    this.states.set(serverId, state);
    if (JSON.stringify(before) !== JSON.stringify(state)) this.refresh();
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const row = rowFor(node);
    this.drawn.set(row.id, JSON.stringify(row));
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
    let rows: TreeNode[];
    try {
      if (!node) rows = this.serverRows();
      else if (node.kind === 'server') rows = this.serverChildren(node.server);
      else if (node.kind === 'database') rows = await this.backupRows(node);
      else rows = [];
    } catch (err) {
      rows = [
        { kind: 'message', id: 'load-error', text: `Could not load: ${messageOf(err)}`, isError: true },
      ];
    }
    return this.give(node, rows);
  }

  private serverRows(): TreeNode[] {
    return this.store.listServers().map((server) => ({
      kind: 'server',
      server,
      state: this.states.get(server.id) ?? { kind: 'idle' },
      tools: this.catalog.toolsOf(server.id),
    }));
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

function sameIds(ids: readonly string[], nodes: readonly TreeNode[]): boolean {
  return ids.length === nodes.length && nodes.every((n, i) => nodeId(n) === ids[i]);
}
