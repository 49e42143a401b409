// A ScriptRunner that runs scripts on THIS machine the way the SSH transport
// runs them on a server: the same remote command line, the script on stdin.
// Abort sends SIGTERM to the shell (what a channel signal does); `dropOnAbort`
// instead closes its stdout/stderr without any signal, like a dropped SSH
// connection, so the script's own heartbeat must notice.
import { spawn } from 'node:child_process';
import type { RunOptions, RunResult, ScriptRunner } from '../../src/core/backup';

export const REMOTE_COMMAND = 'command -v bash >/dev/null 2>&1 && exec bash -s || exec sh -s';

export interface LocalRunnerOptions {
  env?: NodeJS.ProcessEnv;
  /** Shell to run instead of the remote command (e.g. ['busybox', 'ash', '-s']). */
  shell?: readonly string[];
  dropOnAbort?: boolean;
}

export interface LocalRunner extends ScriptRunner {
  /** Argv of every process started, for the "no secret in argv" checks. */
  readonly scripts: string[];
}

export function localRunner(o: LocalRunnerOptions = {}): LocalRunner {
  const scripts: string[] = [];
  return {
    scripts,
    run(script: string, opts: RunOptions = {}): Promise<RunResult> {
      scripts.push(script);
      return new Promise((resolve, reject) => {
        const [cmd, ...args] = o.shell ?? ['sh', '-c', REMOTE_COMMAND];
        const child = spawn(cmd, args, { env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8');
        child.stderr.setEncoding('utf8');
        child.stdout.on('data', (d: string) => {
          stdout += d;
          opts.onStdout?.(d);
        });
        child.stderr.on('data', (d: string) => {
          stderr += d;
          opts.onStderr?.(d);
        });
        const onAbort = () => {
          if (o.dropOnAbort) {
            child.stdout.destroy();
            child.stderr.destroy();
            child.stdin.destroy();
          } else {
            child.kill('SIGTERM');
          }
        };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        child.once('error', reject);
        child.once('exit', (code, sig) => {
          opts.signal?.removeEventListener('abort', onAbort);
          // With dropped pipes there is no 'close' to wait for.
          const finish = () => resolve({ code: code ?? (sig === 'SIGTERM' ? 143 : 128), stdout, stderr });
          if (child.stdout.destroyed) finish();
          else child.once('close', finish);
        });
        child.stdin.on('error', () => undefined);
        child.stdin.end(script);
      });
    },
  };
}
