// Remote work as a user action: a cancellable progress notification, every
// script's output streamed to the log (secrets redacted), the tree's server
// state updated, and the user's Cancel turned into an AbortSignal.
import * as vscode from 'vscode';
import type { Server } from '../core/model';
import { type RunOptions, type RunResult, lineSplitter, runRedacted } from '../core/remote/runner';
import type { ScriptRunner } from '../core/backup';
import type { Services } from './services';
import { UserCancelled, messageOf } from './errors';

export type ProgressReporter = vscode.Progress<{ message?: string; increment?: number }>;

export interface RemoteSession {
  /** Runs scripts on the session's server, logged and cancelled with the notification. */
  runner: ScriptRunner;
  progress: ProgressReporter;
  signal: AbortSignal;
}

export interface SessionOptions {
  title: string;
  /** Values redacted from the log and errors (passwords, the S3 secret). */
  secrets?: readonly string[];
  timeoutMs?: number;
}

/** Wraps the SSH runner for one server: log every line, track the server's state. */
export function loggedRunner(
  services: Services,
  server: Server,
  defaults: { signal?: AbortSignal; secrets?: readonly string[]; timeoutMs?: number } = {},
): ScriptRunner {
  return {
    async run(script: string, o: RunOptions = {}): Promise<RunResult> {
      const secrets = [...(defaults.secrets ?? []), ...(o.secrets ?? [])];
      // The output reaches these callbacks already redacted, line by line. The
      // script's own lines (protocol marks, awscli's JSON) are for tracing; the
      // commands log one readable line per action and result.
      const logOut = lineSplitter((line) => services.log.trace(`[${server.name}] ${line}`));
      const logErr = lineSplitter((line) => services.log.debug(`[${server.name}] ! ${line}`));
      try {
        const r = await runRedacted(
          {
            signal: o.signal ?? defaults.signal,
            timeoutMs: o.timeoutMs ?? defaults.timeoutMs,
            secrets,
            onStdout: (chunk) => {
              logOut(chunk);
              o.onStdout?.(chunk);
            },
            onStderr: (chunk) => {
              logErr(chunk);
              o.onStderr?.(chunk);
            },
          },
          (redacting) => services.runner.run(server, script, redacting),
        );
        services.tree.setServerState(server.id, { kind: 'connected' });
        // What a failure's message points at ("see the Infrakt log"): there at the default level.
        const said = failureExcerpt(r);
        if (said) services.log.warn(`[${server.name}] the script exited with ${r.code}; it said:\n${said}`);
        return r;
      } catch (err) {
        if (!(o.signal ?? defaults.signal)?.aborted)
          services.tree.setServerState(server.id, { kind: 'error', message: messageOf(err) });
        throw err;
      }
    },
  };
}

/** The last lines a failed run wrote to stderr (already redacted), or nothing when it succeeded. */
function failureExcerpt(r: RunResult, lines = 12): string | undefined {
  if (r.code === 0) return undefined;
  const text = r.stderr.trim();
  return text ? text.split('\n').slice(-lines).join('\n') : undefined;
}

export async function withRemote<T>(
  services: Services,
  server: Server,
  opts: SessionOptions,
  work: (session: RemoteSession) => Promise<T>,
): Promise<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: opts.title, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      services.log.info(`[${server.name}] ${opts.title}`);
      const runner = loggedRunner(services, server, {
        signal: abort.signal,
        secrets: opts.secrets,
        timeoutMs: opts.timeoutMs,
      });
      try {
        return await work({ runner, progress, signal: abort.signal });
      } catch (err) {
        if (token.isCancellationRequested) throw new UserCancelled();
        throw err;
      } finally {
        sub.dispose();
      }
    },
  );
}

export interface RemoteAction extends SessionOptions {
  script: string;
  /** Each stdout line as it arrives (progress markers etc.). */
  onLine?: (line: string, progress: ProgressReporter) => void;
}

/** One script as one user action. */
export function runRemote(services: Services, server: Server, action: RemoteAction): Promise<RunResult> {
  return withRemote(services, server, action, ({ runner, progress }) =>
    runner.run(action.script, { onStdout: lineSplitter((line) => action.onLine?.(line, progress)) }),
  );
}
