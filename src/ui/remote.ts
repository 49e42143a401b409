// Runs one remote script as a user action: a cancellable progress
// notification, output streamed to the log (secrets redacted), the tree's
// server state updated, and the user's Cancel turned into an AbortSignal.
import * as vscode from 'vscode';
import type { Server } from '../core/model';
import { type RunResult, lineSplitter, redact } from '../core/remote';
import type { Services } from './services';
import { UserCancelled, messageOf } from './errors';

export interface RemoteAction {
  title: string;
  script: string;
  secrets?: readonly string[];
  /** Each stdout line as it arrives (progress markers etc.). */
  onLine?: (line: string, progress: vscode.Progress<{ message?: string }>) => void;
  timeoutMs?: number;
}

export async function runRemote(
  services: Services,
  server: Server,
  action: RemoteAction,
): Promise<RunResult> {
  const secrets = action.secrets ?? [];
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: action.title, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      const log = (stream: string) =>
        lineSplitter((line) => services.log.info(`[${server.name}] ${stream}${redact(line, secrets)}`));
      const stdoutLines = lineSplitter((line) => action.onLine?.(line, progress));
      const logOut = log('');
      const logErr = log('! ');
      services.log.info(`[${server.name}] ${action.title}`);
      try {
        const result = await services.runner.run(server, action.script, {
          signal: abort.signal,
          timeoutMs: action.timeoutMs,
          secrets,
          onStdout: (chunk) => {
            logOut(chunk);
            stdoutLines(chunk);
          },
          onStderr: logErr,
        });
        services.tree.setServerState(server.id, { kind: 'connected' });
        return result;
      } catch (err) {
        if (token.isCancellationRequested) throw new UserCancelled();
        services.tree.setServerState(server.id, { kind: 'error', message: redact(messageOf(err), secrets) });
        throw err;
      } finally {
        sub.dispose();
      }
    },
  );
}
