import * as vscode from 'vscode';

/** The "Infrakt" log channel. Callers redact secrets before logging. */
export function createLog(): vscode.LogOutputChannel {
  return vscode.window.createOutputChannel('Infrakt', { log: true });
}
