// One ssh2 connection per server, opened on first use and shared by every
// operation; concurrent callers share one connection attempt; closed after an
// idle period and on dispose; reopened transparently after a drop.
// Remote work is one script on stdin of one channel.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import type { Server } from '../core/model';
import { type RemoteRunner, type RunOptions, type RunResult, redact } from '../core/remote/runner';

export type SshErrorKind =
  | 'refused'
  | 'timeout'
  | 'dns'
  | 'auth'
  | 'key-unreadable'
  | 'passphrase'
  | 'host-key-changed'
  | 'host-key-rejected'
  | 'dropped'
  | 'cancelled'
  | 'other';

export class SshError extends Error {
  override readonly name: string;
  constructor(
    readonly kind: SshErrorKind,
    message: string,
  ) {
    super(message);
    this.name = kind === 'cancelled' ? 'AbortError' : 'SshError';
  }
}

const cancelled = () => new SshError('cancelled', 'Cancelled');

export interface HostKeyInfo {
  host: string;
  port: number;
  keyType: string;
  fingerprint: string;
}

/** What the pool needs from the outside: secrets, prompts and the known-hosts table. */
export interface SshEnvironment {
  getPassword(server: Server): Promise<string | undefined>;
  /** Asked only when the key is encrypted; `retry` is true after a wrong one. */
  getPassphrase(server: Server, retry: boolean): Promise<string | undefined>;
  /** Called after a passphrase worked (the VS Code side offers to remember it). */
  passphraseAccepted?(server: Server, passphrase: string): Promise<void>;
  knownFingerprint(host: string, port: number): string | undefined;
  /** Keys the user's own ~/.ssh/known_hosts holds for this host (optional). */
  systemKnownKeys?(host: string, port: number): readonly { keyType: string; fingerprint: string }[];
  /** First contact: show the fingerprint and ask. True = trust (and remember). */
  confirmNewHost(info: HostKeyInfo): Promise<boolean>;
  trustHost(info: HostKeyInfo): void;
  connectTimeoutMs(): number;
  idleMs(): number;
}

type ClientError = Error & { level?: string; code?: string };

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

export interface PoolOptions {
  /** Makes the ssh2 client of each new connection (tests inject a fake). */
  createClient?: () => SshClientLike;
  /**
   * How long a stop (cancel or timeout) waits for the kill command to report that the
   * script's process group got TERM before the channel is closed anyway.
   */
  stopFallbackMs?: number;
}

const PGID_MARK = '@@infrakt:pgid ';
const TERM_SENT = '@@infrakt:term-sent';

/**
 * The remote command: bash when the server has it (pipefail), else the POSIX
 * shell. It first reports its process group (sshd makes the session's shell a
 * group leader), so a cancel can end everything the script started.
 */
export const REMOTE_SHELL = `printf '${PGID_MARK}%s\\n' "$$" >&2; command -v bash >/dev/null 2>&1 && exec bash -s || exec sh -s`;

/**
 * Run on a second channel to stop a script: TERM to its whole group, a line saying so
 * (the main channel is closed only then), and KILL for stragglers. The grace period
 * lets the script's own clean-up finish (removing its .partial, aborting an unfinished
 * S3 upload: a few awscli calls).
 */
export function killCommand(pgid: number): string {
  return `kill -TERM -- -${pgid} 2>/dev/null; echo '${TERM_SENT}'; sleep 10; kill -KILL -- -${pgid} 2>/dev/null; true`;
}

export function sha256Fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function keyTypeOf(key: Buffer): string {
  const len = key.readUInt32BE(0);
  return key.subarray(4, 4 + len).toString('ascii');
}

interface Entry {
  key: string;
  client: SshClientLike;
  ready: Promise<SshClientLike>;
  idle?: NodeJS.Timeout;
  busy: number;
  /** Dropped, closed or forgotten: never reused, never given an idle timer. */
  dead: boolean;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?(transferred: number, total: number): void;
}

/** Follows `p`, but rejects with "cancelled" as soon as the signal fires. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export class ConnectionPool implements RemoteRunner {
  private readonly entries = new Map<string, Entry>();
  /** For benchmarks and tests. */
  readonly stats = { connections: 0, channels: 0 };
  private readonly createClient: () => SshClientLike;
  private readonly stopFallbackMs: number;

  constructor(
    private readonly env: SshEnvironment,
    options: PoolOptions = {},
  ) {
    this.createClient = options.createClient ?? (() => new Client());
    this.stopFallbackMs = options.stopFallbackMs ?? 10_000;
  }

  private key(server: Server): string {
    return `${server.id}|${server.user}@${server.host}:${server.port}|${server.auth}|${server.keyPath ?? ''}`;
  }

  async run(server: Server, script: string, opts: RunOptions = {}): Promise<RunResult> {
    if (opts.signal?.aborted) throw cancelled();
    const entry = this.acquire(server);
    // Busy from the start, so no idle timer can close the connection while we wait for it.
    entry.busy++;
    this.clearIdle(entry);
    try {
      const client = await abortable(entry.ready, opts.signal);
      return await this.exec(server, client, script, opts);
    } finally {
      entry.busy--;
      this.scheduleIdle(entry);
    }
  }

  /**
   * SFTP download of one file over the server's pooled connection, with
   * progress; an abort closes the SFTP session and the partial local file is
   * the caller's to remove.
   */
  async download(
    server: Server,
    remotePath: string,
    localPath: string,
    opts: DownloadOptions = {},
  ): Promise<number> {
    const signal = opts.signal;
    if (signal?.aborted) throw cancelled();
    const entry = this.acquire(server);
    entry.busy++;
    this.clearIdle(entry);
    try {
      const client = await abortable(entry.ready, signal);
      return await new Promise<number>((resolve, reject) => {
        let gaveUp = false; // aborted before the SFTP session opened
        const onEarlyAbort = () => {
          gaveUp = true;
          reject(cancelled());
        };
        signal?.addEventListener('abort', onEarlyAbort, { once: true });
        const onSftp = (err: Error | undefined, sftp?: SFTPWrapper) => {
          signal?.removeEventListener('abort', onEarlyAbort);
          if (err || !sftp) {
            if (!gaveUp)
              reject(
                new SshError(
                  'other',
                  `SFTP is not available on ${server.name}: ${err?.message ?? 'no session'}`,
                ),
              );
            return;
          }
          this.stats.channels++;
          if (gaveUp) {
            sftp.end();
            return;
          }
          let total = 0;
          const onAbort = () => {
            sftp.end();
            reject(cancelled());
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          sftp.fastGet(
            remotePath,
            localPath,
            {
              step: (transferred, _chunk, size) => {
                total = size;
                opts.onProgress?.(transferred, size);
              },
            },
            (e) => {
              signal?.removeEventListener('abort', onAbort);
              sftp.end();
              if (signal?.aborted) return;
              if (e)
                reject(
                  new SshError('other', `Download of ${remotePath} from ${server.name} failed: ${e.message}`),
                );
              else resolve(total);
            },
          );
        };
        try {
          client.sftp(onSftp);
        } catch (e) {
          // ssh2 throws "Not connected" when the connection is already gone.
          signal?.removeEventListener('abort', onEarlyAbort);
          reject(
            new SshError(
              'dropped',
              `Could not open SFTP to ${server.name}: ${(e as Error).message} — try again`,
            ),
          );
        }
      });
    } finally {
      entry.busy--;
      this.scheduleIdle(entry);
    }
  }

  private clearIdle(e: Entry): void {
    if (e.idle) clearTimeout(e.idle);
    e.idle = undefined;
  }

  /** Arms the idle close of this entry (and only this one) once nobody uses it. */
  private scheduleIdle(e: Entry): void {
    if (e.busy > 0 || e.dead) return;
    this.clearIdle(e);
    e.idle = setTimeout(() => {
      e.idle = undefined;
      // A run may have started since; a timer never closes a busy connection.
      if (e.busy > 0 || e.dead) return;
      this.closeEntry(e);
    }, this.env.idleMs());
    e.idle.unref?.();
  }

  /** Ends this entry's client; the map key is dropped only if it still names this entry. */
  private closeEntry(e: Entry): void {
    this.forgetEntry(e);
    e.client.end();
  }

  private forgetEntry(e: Entry): void {
    e.dead = true;
    this.clearIdle(e);
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
  }

  close(server: Server): void {
    const e = this.entries.get(this.key(server));
    if (e) this.closeEntry(e);
  }

  /** Closes every connection of this server (e.g. after it was edited or removed). */
  forget(serverId: string): void {
    for (const [k, e] of [...this.entries]) {
      if (k.startsWith(`${serverId}|`)) this.closeEntry(e);
    }
  }

  dispose(): void {
    for (const e of [...this.entries.values()]) this.closeEntry(e);
  }

  /** The live entry for this server, or a new one whose connection attempt has started. */
  private acquire(server: Server): Entry {
    const k = this.key(server);
    const existing = this.entries.get(k);
    if (existing) return existing;
    const client = this.createClient();
    const entry: Entry = { key: k, client, busy: 0, dead: false, ready: Promise.resolve(client) };
    entry.ready = this.connect(server, client).catch((err: unknown) => {
      this.forgetEntry(entry);
      throw err;
    });
    // Every caller may have given up (cancel during connect): the failure is theirs to ignore.
    entry.ready.catch(() => undefined);
    // A drop (or an idle close by the server) forgets the connection; the next run reconnects.
    const forgetThis = () => this.forgetEntry(entry);
    client.on('close', forgetThis);
    client.on('end', forgetThis);
    // After the handshake a socket error (ECONNRESET when the server drops us)
    // must not go unhandled: it would take the extension host down. Running
    // channels see the close and fail with "dropped"; the next run reconnects.
    client.on('error', forgetThis);
    this.entries.set(k, entry);
    return entry;
  }

  private async connectConfig(server: Server, passphrase?: string): Promise<ConnectConfig> {
    const base: ConnectConfig = {
      host: server.host,
      port: server.port,
      username: server.user,
      readyTimeout: this.env.connectTimeoutMs(),
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
    };
    if (server.auth === 'agent') {
      const agent = process.env.SSH_AUTH_SOCK;
      if (!agent) {
        throw new SshError(
          'auth',
          `No ssh-agent is running for ${server.name} (SSH_AUTH_SOCK is not set) — start ssh-agent and add your key, or run Edit Server to use a key file`,
        );
      }
      return { ...base, agent };
    }
    if (server.auth === 'password') {
      const password = await this.env.getPassword(server);
      if (!password)
        throw new SshError('auth', `No password stored for ${server.name} — run Edit Server to enter it`);
      return { ...base, password, tryKeyboard: true };
    }
    let privateKey: Buffer;
    try {
      privateKey = fs.readFileSync(server.keyPath ?? '');
    } catch (err) {
      throw new SshError(
        'key-unreadable',
        `Cannot read the private key ${server.keyPath} for ${server.name}: ${(err as NodeJS.ErrnoException).code ?? String(err)} — check the path or run Edit Server`,
      );
    }
    return { ...base, privateKey, passphrase };
  }

  private async connect(server: Server, client: SshClientLike): Promise<SshClientLike> {
    let passphrase: string | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const config = await this.connectConfig(server, passphrase);
      try {
        await this.handshake(server, client, config);
        if (passphrase) await this.env.passphraseAccepted?.(server, passphrase);
        this.stats.connections++;
        return client;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (
          server.auth === 'key' &&
          /encrypted private key|passphrase|Bad passphrase|bad decrypt|Cannot parse privateKey/i.test(msg)
        ) {
          const encrypted = /encrypted|passphrase|decrypt/i.test(msg);
          if (!encrypted)
            throw new SshError(
              'key-unreadable',
              `The key ${server.keyPath} is not a private key ssh2 can read (${msg}) — choose another key with Edit Server`,
            );
          passphrase = await this.env.getPassphrase(server, passphrase !== undefined);
          if (passphrase === undefined) throw new SshError('cancelled', 'Cancelled');
          continue;
        }
        throw err;
      }
    }
    throw new SshError('passphrase', `Wrong passphrase for ${server.keyPath} (3 attempts) — try again`);
  }

  private handshake(server: Server, client: SshClientLike, config: ConnectConfig): Promise<void> {
    let hostKeyProblem: SshError | undefined;
    const tried: string[] = [];
    return new Promise<void>((resolve, reject) => {
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onError = (err: ClientError) => {
        cleanup();
        reject(hostKeyProblem ?? this.mapError(server, err, tried));
      };
      // Ended before it was ready (an idle close or dispose while connecting): no error
      // event follows, and waiting callers must not hang.
      const onClose = () => {
        cleanup();
        reject(
          hostKeyProblem ??
            new SshError(
              'dropped',
              `The connection to ${server.name} closed before it was ready — try again`,
            ),
        );
      };
      const cleanup = () => {
        client.off('ready', onReady);
        client.off('error', onError);
        client.off('close', onClose);
      };
      client.on('ready', onReady);
      client.on('error', onError);
      client.on('close', onClose);
      client.connect({
        ...config,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          const info: HostKeyInfo = {
            host: server.host,
            port: server.port,
            keyType: keyTypeOf(key),
            fingerprint: sha256Fingerprint(key),
          };
          const known = this.env.knownFingerprint(server.host, server.port);
          if (known) {
            if (known === info.fingerprint) return verify(true);
            hostKeyProblem = new SshError(
              'host-key-changed',
              `The host key of ${server.name} (${server.host}:${server.port}) has CHANGED. Remembered: ${known}; now offered: ${info.fingerprint}. This can mean the server was reinstalled — or that someone is intercepting the connection. Connection refused. If you know why it changed, run "Infrakt: Forget Host Key" for ${server.name} and connect again to re-trust it.`,
            );
            return verify(false);
          }
          const system = this.env.systemKnownKeys?.(server.host, server.port) ?? [];
          if (system.some((k) => k.fingerprint === info.fingerprint)) {
            this.env.trustHost(info); // ssh already trusts it: remember, do not ask
            return verify(true);
          }
          if (system.some((k) => k.keyType === info.keyType)) {
            hostKeyProblem = new SshError(
              'host-key-changed',
              `The host key of ${server.name} (${server.host}:${server.port}) differs from the one in ~/.ssh/known_hosts (${system
                .filter((k) => k.keyType === info.keyType)
                .map((k) => k.fingerprint)
                .join(
                  ', ',
                )}); now offered: ${info.fingerprint}. Connection refused. If the server was reinstalled, fix ~/.ssh/known_hosts (ssh-keygen -R) and connect again.`,
            );
            return verify(false);
          }
          this.env.confirmNewHost(info).then(
            (ok) => {
              if (ok) this.env.trustHost(info);
              else
                hostKeyProblem = new SshError(
                  'host-key-rejected',
                  `You did not trust the host key of ${server.name}; not connected.`,
                );
              verify(ok);
            },
            () => verify(false),
          );
        },
      });
      if (config.password) tried.push('password');
      if (config.privateKey) tried.push('publickey');
      if (config.agent) tried.push('publickey (agent)');
    });
  }

  private mapError(server: Server, err: ClientError, tried: string[]): SshError {
    const where = `${server.user}@${server.host}:${server.port}`;
    if (err.level === 'client-authentication') {
      return new SshError(
        'auth',
        `Authentication rejected by ${server.name} (${where}; tried: ${tried.join(', ') || 'none'}) — check the user and ${server.auth === 'password' ? 'password' : 'key'}, or run Edit Server`,
      );
    }
    if (err.level === 'client-timeout' || /Timed out while waiting for handshake/.test(err.message)) {
      return new SshError(
        'timeout',
        `Timed out connecting to ${server.name} (${where}) — check the host and port, and that the server is up`,
      );
    }
    switch (err.code) {
      case 'ECONNREFUSED':
        return new SshError(
          'refused',
          `Connection refused by ${server.name} (${where}) — is sshd running on port ${server.port}?`,
        );
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new SshError('dns', `Cannot resolve ${server.host} for ${server.name} — check the host name`);
      case 'ETIMEDOUT':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new SshError(
          'timeout',
          `Cannot reach ${server.name} (${where}): ${err.code} — check the network and firewall`,
        );
      case 'ECONNRESET':
        return new SshError('dropped', `${server.name} closed the connection (${where}) — try again`);
    }
    return new SshError('other', `SSH to ${server.name} (${where}) failed: ${err.message}`);
  }

  private exec(server: Server, client: SshClientLike, script: string, opts: RunOptions): Promise<RunResult> {
    const secrets = opts.secrets ?? [];
    const signal = opts.signal;
    return new Promise<RunResult>((resolve, reject) => {
      if (signal?.aborted) {
        reject(cancelled());
        return;
      }
      let gaveUp = false; // aborted before the channel opened
      const onEarlyAbort = () => {
        gaveUp = true;
        reject(cancelled());
      };
      signal?.addEventListener('abort', onEarlyAbort, { once: true });
      const noChannel = (message: string) =>
        new SshError(
          'dropped',
          `Could not open a channel to ${server.name}: ${redact(message, secrets)} — try again`,
        );
      const onChannel = (err: Error | undefined, channel: ExecChannel) => {
        signal?.removeEventListener('abort', onEarlyAbort);
        if (err) {
          if (!gaveUp) reject(noChannel(err.message));
          return;
        }
        this.stats.channels++;
        if (gaveUp) {
          // The script was never sent: closing now means nothing of it runs.
          channel.close();
          return;
        }
        this.drive(server, client, channel, script, opts, resolve, reject);
      };
      try {
        client.exec(REMOTE_SHELL, onChannel);
      } catch (e) {
        // ssh2 throws "Not connected" when the connection is already gone.
        signal?.removeEventListener('abort', onEarlyAbort);
        reject(noChannel((e as Error).message));
      }
    });
  }

  /**
   * Sends the script on an open channel and collects its output until it ends.
   * A cancel or timeout first gets TERM to the script's process group (over a
   * second channel), and only then closes this one: closing first would let the
   * script notice the lost channel and race the kill (its cleanup ends a pipe,
   * and a streaming upload would finish with a truncated object). The promise
   * rejects once this channel is closed, so "Cancelled" means the work was signalled.
   */
  private drive(
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
      }, this.stopFallbackMs);
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
}
