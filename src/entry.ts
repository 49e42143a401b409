// The bundle VS Code loads (dist/extension.js): activate() registers what VS Code asks for
// (commands, the Servers view's provider, the settings page's serializer; src/ui/deferred.ts)
// and returns. The extension itself (src/extension.ts, dist/main.js) is loaded right after, and
// those registrations wait for it: the store opens without holding the workbench.
import type * as vscode from 'vscode';
import { registerDeferred } from './ui/deferred';

export function activate(context: vscode.ExtensionContext): void {
  const started = performance.now();
  let returned = started;
  const ready = Promise.resolve().then(async () =>
    (await import('./extension')).start(context, { started, returned: () => returned }),
  );
  registerDeferred(context, ready);
  returned = performance.now();
}

export function deactivate(): void {}
