// One script on one exec channel: the remote shell that reports its process
// group, the script sent on stdin, its output collected, and a cancel or
// timeout that TERMs the group (over a second channel) before this one closes.
import type { ConnectConfig, SFTPWrapper } from 'ssh2';
import type { Server } from '../core/model';
import { MARKS } from '../core/remote/protocol';
import type { RunOptions, RunResult } from '../core/remote/runner';
import { type ClientError, SshError, cancelled } from './errors';

/** The parts of an ssh2 exec channel the pool uses (narrow, so a unit test can stand in for it). */
export interface ExecChannel {
  readonly stderr: { on(event: 'data', listener: (data: Buffer) => void): unknown; resume(): unknown };
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'close', listener: (code: number | null, signal?: string) => void): unknown;
  end(data?: string): unknown;
  close(): unknown;
  resume(): unknown;
}

/** The parts of an ssh2 Client the pool uses; `new Client()` is one. */
export interface SshClientLike {
  connect(config: ConnectConfig): unknown;
  exec(command: string, callback: (err: Error | undefined, channel: ExecChannel) => void): unknown;
  sftp(callback: (err: Error | undefined, sftp?: SFTPWrapper) => void): unknown;
  end(): unknown;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'error', listener: (err: ClientError) => void): unknown;
  off(event: 'ready', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  off(event: 'error', listener: (err: ClientError) => void): unknown;
}

// The transport's own marks: the process group (on stderr, before the script
// runs) and the kill command's acknowledgement.
const PGID_MARK = `${MARKS.pgid} `;
const TERM_SENT = MARKS.termSent;

/**
 * The remote command: bash when the server has it (pipefail), else the POSIX
 * shell. It first reports its process group (sshd makes the session's shell a
 * group leader), so a cancel can end everything the script started.
 */
export const REMOTE_SHELL = `printf '${PGID_MARK}%s\\n' "$$" >&2; command -v bash >/dev/null 2>&1 && exec bash -s || exec sh -s`;

/**
 * Run on a second channel (an exec command line, not a script; the group is
 * a number read back from the server) to stop a script: TERM to its whole group, a line saying so
 * (the main channel is closed only then), and KILL for stragglers. The grace period
 * lets the script's own clean-up finish (removing its .partial, aborting an unfinished
 * S3 upload: a few awscli calls).
 */
export function killCommand(pgid: number): string {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) throw new Error(`not a process group: ${pgid}`);
  return `kill -TERM -- -${pgid} 2>/dev/null; echo '${TERM_SENT}'; sleep 10; kill -KILL -- -${pgid} 2>/dev/null; true`;
}

/**
 * Sends the script on an open channel and collects its output until it ends.
 * A cancel or timeout first gets TERM to the script's process group (over a
 * second channel), and only then closes this one: closing first would let the
 * script notice the lost channel and race the kill (its cleanup ends a pipe,
 * and a streaming upload would finish with a truncated object). The promise
 * rejects once this channel is closed, so "Cancelled" means the work was signalled.
 */
export function driveScript(
  ctx: { stopFallbackMs: number },
  server: Server,
  client: SshClientLike,
  channel: ExecChannel,
  script: string,
  opts: RunOptions,
  resolve: (r: RunResult) => void,
  reject: (e: SshError) => void,
): void {
  const signal = opts.signal;
  const markLine = new RegExp(`^${PGID_MARK}(\\d+)$`);
  let stdout = '';
  let stderr = '';
  let pgid: number | undefined; // known once the mark line arrived
  let pending = ''; // stderr before the mark line
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  // Stopping state: why, and the two things a stop waits for.
  let stopping: SshError | undefined;
  let termDone = false; // the group got TERM (or no kill is possible)
  let mainClosed = false;
  let closeRequested = false;
  let fallback: NodeJS.Timeout | undefined;

  const finish = (why: SshError) => {
    if (settled) return;
    settled = true;
    if (fallback) clearTimeout(fallback);
    reject(why);
  };
  const maybeFinish = () => {
    // Closed before the mark line: the shell died before the script could start.
    if (stopping && mainClosed && (termDone || pgid === undefined)) finish(stopping);
  };
  const closeMain = () => {
    if (closeRequested || mainClosed) return;
    closeRequested = true;
    channel.close();
  };
  const termSent = () => {
    if (termDone) return;
    termDone = true;
    closeMain();
    maybeFinish();
  };
  const kill = (group: number) => {
    if (group <= 1) {
      termSent();
      return;
    }
    const onKiller = (e: Error | undefined, killer: ExecChannel) => {
      if (e) {
        termSent(); // nothing more can be done from here; close the channel after all
        return;
      }
      let out = '';
      killer.on('data', (d: Buffer) => {
        out += d.toString('utf8');
        if (out.includes(TERM_SENT)) termSent();
      });
      killer.stderr.resume();
      killer.on('close', termSent);
    };
    try {
      client.exec(killCommand(group), onKiller);
    } catch {
      termSent();
    }
  };
  const stop = (why: SshError) => {
    if (settled || stopping) return;
    stopping = why;
    if (timer) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    // Bounded: a kill that never reports (a wedged server) must not hold the cancel forever.
    fallback = setTimeout(() => {
      closeMain();
      finish(why);
    }, ctx.stopFallbackMs);
    fallback.unref?.();
    // Without the group yet (the script was sent, the mark line not seen) the kill waits for it.
    if (pgid !== undefined) kill(pgid);
  };
  const onAbort = () => stop(cancelled());
  signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.timeoutMs) {
    timer = setTimeout(
      () =>
        stop(
          new SshError(
            'timeout',
            `${server.name} did not finish within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s — the remote work was stopped`,
          ),
        ),
      opts.timeoutMs,
    );
  }
  const emitStderr = (s: string) => {
    if (s === '') return;
    stderr += s;
    opts.onStderr?.(s);
  };
  channel.on('data', (d: Buffer) => {
    const s = d.toString('utf8');
    stdout += s;
    opts.onStdout?.(s);
  });
  channel.stderr.on('data', (d: Buffer) => {
    if (pgid !== undefined) {
      emitStderr(d.toString('utf8'));
      return;
    }
    // Lines before the mark (a noisy ~/.bashrc) pass through; the mark itself is ours.
    pending += d.toString('utf8');
    let out = '';
    let nl: number;
    while (pgid === undefined && (nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const m = markLine.exec(line);
      if (m) pgid = Number(m[1]);
      else out += `${line}\n`;
    }
    if (pgid !== undefined) {
      out += pending;
      pending = '';
    }
    emitStderr(out);
    if (pgid !== undefined && stopping && !settled) kill(pgid);
  });
  channel.on('close', (code: number | null, sig?: string) => {
    mainClosed = true;
    emitStderr(pending);
    pending = '';
    if (stopping) {
      maybeFinish();
      return;
    }
    if (settled) return;
    settled = true;
    if (timer) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    if (code === null || code === undefined) {
      reject(
        new SshError(
          'dropped',
          `The connection to ${server.name} dropped while it was working${sig ? ` (${sig})` : ''} — try again`,
        ),
      );
      return;
    }
    resolve({ code, stdout, stderr });
  });
  channel.end(script);
}
