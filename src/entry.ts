// The bundle's entry (dist/extension.js). VS Code loads this file before it calls activate();
// everything else — the modules of src/extension.ts and the packages they use — is evaluated
// inside activate(), so the time the extension logs for its activation includes them.
// ssh2 is not among them: it loads on the first SSH connection (src/ssh/connectionPool.ts).
import type * as vscode from 'vscode';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const started = performance.now();
  const extension = await import('./extension');
  await extension.activate(context, started);
}

export function deactivate(): void {}
