import * as vscode from 'vscode';
import type { ConfigStore } from '../../store/configStore';
import { type ServerState, type TreeNode, rowFor } from '../../core/treeRows';
import { messageOf } from '../errors';

/** Servers → databases, straight from the store; refreshes when the store changes (any window). */
export class ServersTree implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly states = new Map<string, ServerState>();
  private readonly subscription: { dispose(): void };

  constructor(private readonly store: ConfigStore) {
    this.subscription = store.onDidChange(() => this.refresh());
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  setServerState(serverId: string, state: ServerState): void {
    this.states.set(serverId, state);
    this.refresh();
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

  getChildren(node?: TreeNode): TreeNode[] {
    try {
      if (!node) {
        return this.store.listServers().map((server) => ({
          kind: 'server',
          server,
          state: this.states.get(server.id) ?? { kind: 'idle' },
        }));
      }
      if (node.kind === 'server') {
        const dbs = this.store.listDatabases(node.server.id);
        if (dbs.length === 0) {
          return [
            {
              kind: 'message',
              id: `${node.server.id}:empty`,
              text: 'No databases yet — use Add Database',
              isError: false,
            },
          ];
        }
        return dbs.map((database) => ({ kind: 'database', server: node.server, database }));
      }
      return [];
    } catch (err) {
      return [
        { kind: 'message', id: 'load-error', text: `Could not load: ${messageOf(err)}`, isError: true },
      ];
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
