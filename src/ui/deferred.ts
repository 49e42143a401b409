// What VS Code asks of the extension while it activates — its commands, the
// Servers view's data provider, the settings page's serializer — answered
// before the extension's code is loaded: each waits for `ready` (the store
// open, the services built) and then hands over. So activate() returns at
// once and the workbench is never held by the store's opening; the view's
// first render and a command run as soon as `ready` resolves.
import * as vscode from 'vscode';

export interface Started {
  tree: vscode.TreeDataProvider<unknown>;
  /** Runs one of the extension's commands (the one error handling of the registry). */
  run(id: string, args: unknown[]): Promise<unknown>;
  /** Every command id the extension handles, including those package.json does not list. */
  ids: readonly string[];
  revive(panel: vscode.WebviewPanel): void;
}

export const S3_SETTINGS_VIEW_TYPE = 'infrakt.s3Settings';

interface Manifest {
  contributes?: { commands?: { command: string }[] };
}

export function registerDeferred(context: vscode.ExtensionContext, ready: Promise<Started>): void {
  let failure: string | undefined;
  ready.catch((err: unknown) => {
    failure = `infrakt could not start: ${err instanceof Error ? err.message : String(err)}`;
    void vscode.window.showErrorMessage(failure);
  });
  const registered = new Set<string>();
  const register = (id: string) => {
    registered.add(id);
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => (await ready).run(id, args)),
    );
  };
  for (const c of (context.extension.packageJSON as Manifest).contributes?.commands ?? [])
    register(c.command);
  void ready.then((s) => s.ids.filter((id) => !registered.has(id)).forEach(register));

  const changed = new vscode.EventEmitter<unknown>();
  void ready.then((s) => {
    const sub = s.tree.onDidChangeTreeData?.((e) => changed.fire(e));
    if (sub) context.subscriptions.push(sub);
  });
  const provider: vscode.TreeDataProvider<unknown> = {
    onDidChangeTreeData: changed.event,
    getTreeItem: async (node) => (await ready).tree.getTreeItem(node),
    getChildren: async (node) => {
      if (failure) throw new Error(failure);
      return (await ready).tree.getChildren(node);
    },
  };
  context.subscriptions.push(
    changed,
    vscode.window.registerTreeDataProvider('infrakt.servers', provider),
    vscode.window.registerWebviewPanelSerializer(S3_SETTINGS_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel) => (await ready).revive(panel),
    }),
  );
}
