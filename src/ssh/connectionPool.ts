// One ssh2 connection per server, opened on first use and shared by every
// operation; concurrent callers share one connection attempt; closed after an
// idle period and on dispose; reopened transparently after a drop.
// Remote work is one script on stdin of one channel.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { ConnectConfig, SFTPWrapper } from 'ssh2';
import type { Server } from '../core/model';
import { type RemoteRunner, type RunOptions, type RunResult, redact } from '../core/remote/runner';
import { shellQuote } from '../core/remote/script';
import { type ClientError, SshError, cancelled, mapSshError } from './errors';
import { type ExecChannel, REMOTE_SHELL, type SshClientLike, driveScript } from './scriptChannel';

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
  systemKnownKeys?(
    host: string,
    port: number,
  ): readonly { keyType: string; fingerprint: string; revoked?: boolean }[];
  /** First contact: show the fingerprint and ask. True = trust (and remember). */
  confirmNewHost(info: HostKeyInfo): Promise<boolean>;
  trustHost(info: HostKeyInfo): void;
  connectTimeoutMs(): number;
  idleMs(): number;
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

export interface RelayOptions {
  signal?: AbortSignal;
  onProgress?(copied: number): void;
}

/** What relay() accepts: an absolute path of plain name characters, and a restore's stream-in FIFO. */
const RELAY_PATH = /^\/[A-Za-z0-9._@+=,/-]+$/;
const RELAY_FIFO = /^\/[A-Za-z0-9._/-]+\/infrakt\.[A-Za-z0-9]+\/in$/;

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

/**
 * ssh2 is loaded on the first connection, not when the extension activates: it is about a
 * third of the extension's code, and the tree's first render needs no SSH. (The packaged
 * extension has it as a bundle of its own, dist/ssh2.js: esbuild.config.mjs.)
 */
function newSsh2Client(): SshClientLike {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require('ssh2') as typeof import('ssh2');
  return new Client();
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
    this.createClient = options.createClient ?? newSsh2Client;
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

  /**
   * Copies a file from one server into a FIFO on another through this
   * computer: `cat` of the file on the source's pooled connection piped into
   * `cat >` the FIFO on the target's (flow-controlled by the two SSH windows; no
   * file here). Both paths are checked, then single-quoted. Resolves with the
   * bytes copied; an abort closes both channels.
   */
  async relay(
    from: Server,
    fromPath: string,
    to: Server,
    toFifo: string,
    opts: RelayOptions = {},
  ): Promise<number> {
    const signal = opts.signal;
    if (signal?.aborted) throw cancelled();
    if (!RELAY_PATH.test(fromPath) || fromPath.includes('/../'))
      throw new SshError('other', `Not a backup path to send: ${fromPath}`);
    if (!RELAY_FIFO.test(toFifo)) throw new SshError('other', `Not a restore's input: ${toFifo}`);
    const entries = [this.acquire(from), this.acquire(to)];
    for (const e of entries) {
      e.busy++;
      this.clearIdle(e);
    }
    const opened: ExecChannel[] = [];
    try {
      const [src, dst] = await Promise.all(entries.map((e) => abortable(e.ready, signal)));
      const open = (client: SshClientLike, server: Server, command: string) =>
        abortable(
          new Promise<ExecChannel>((resolve, reject) => {
            try {
              client.exec(command, (err, ch) => {
                if (err)
                  reject(
                    new SshError('dropped', `Could not open a channel to ${server.name}: ${err.message}`),
                  );
                else {
                  this.stats.channels++;
                  opened.push(ch);
                  resolve(ch);
                }
              });
            } catch (e) {
              reject(
                new SshError(
                  'dropped',
                  `Could not open a channel to ${server.name}: ${(e as Error).message}`,
                ),
              );
            }
          }),
          signal,
        );
      const sink = await open(dst, to, `exec cat > ${shellQuote(toFifo)}`);
      const source = await open(src, from, `exec cat -- ${shellQuote(fromPath)}`);
      return await new Promise<number>((resolve, reject) => {
        const input = source as unknown as Readable;
        const output = sink as unknown as Writable;
        let copied = 0;
        let sourceErr = '';
        let sourceCode: number | null | undefined;
        let settled = false;
        const fail = (e: Error) => {
          if (settled) return;
          settled = true;
          input.unpipe(output);
          for (const ch of opened) ch.close();
          reject(e);
        };
        const onAbort = () => fail(cancelled());
        signal?.addEventListener('abort', onAbort, { once: true });
        source.stderr.on('data', (d: Buffer) => {
          sourceErr = (sourceErr + d.toString('utf8')).slice(-400);
        });
        // Read to its end (nothing comes), or the channel never closes.
        sink.resume();
        sink.stderr.resume();
        input.on('data', (d: Buffer) => {
          copied += d.length;
          opts.onProgress?.(copied);
        });
        source.on('close', (code: number | null) => {
          sourceCode = code;
          if (code !== 0)
            fail(
              new SshError(
                'other',
                `Reading ${fromPath} on ${from.name} failed${sourceErr ? `: ${sourceErr.trim()}` : ''}`,
              ),
            );
        });
        sink.on('close', (code: number | null) => {
          signal?.removeEventListener('abort', onAbort);
          if (settled) return;
          if (code === 0 && sourceCode === 0) {
            settled = true;
            resolve(copied);
          } else
            fail(
              new SshError('other', `${to.name} stopped taking the backup's bytes (the restore there ended)`),
            );
        });
        input.pipe(output);
      });
    } finally {
      for (const e of entries) {
        e.busy--;
        this.scheduleIdle(e);
      }
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
    // A stored row that fails its schema is shown in the tree, never connected to.
    if (server.problem) throw new Error(server.problem);
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
        reject(hostKeyProblem ?? mapSshError(server, err, tried));
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
          const system = this.env.systemKnownKeys?.(server.host, server.port) ?? [];
          if (system.some((k) => k.revoked && k.fingerprint === info.fingerprint)) {
            hostKeyProblem = new SshError(
              'host-key-revoked',
              `The host key of ${server.name} (${server.host}:${server.port}), ${info.fingerprint}, is marked @revoked in ~/.ssh/known_hosts: it must not be trusted. Connection refused. If the server has a new key, check it with the server's administrator.`,
            );
            return verify(false);
          }
          const trusted = system.filter((k) => !k.revoked);
          const known = this.env.knownFingerprint(server.host, server.port);
          if (known) {
            if (known === info.fingerprint) return verify(true);
            hostKeyProblem = new SshError(
              'host-key-changed',
              `The host key of ${server.name} (${server.host}:${server.port}) has CHANGED. Remembered: ${known}; now offered: ${info.fingerprint}. This can mean the server was reinstalled — or that someone is intercepting the connection. Connection refused. If you know why it changed, run "Infrakt: Forget Host Key" for ${server.name} and connect again to re-trust it.`,
            );
            return verify(false);
          }
          if (trusted.some((k) => k.fingerprint === info.fingerprint)) {
            this.env.trustHost(info); // ssh already trusts it: remember, do not ask
            return verify(true);
          }
          if (trusted.some((k) => k.keyType === info.keyType)) {
            hostKeyProblem = new SshError(
              'host-key-changed',
              `The host key of ${server.name} (${server.host}:${server.port}) differs from the one in ~/.ssh/known_hosts (${trusted
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
        driveScript(
          { stopFallbackMs: this.stopFallbackMs },
          server,
          client,
          channel,
          script,
          opts,
          resolve,
          reject,
        );
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
}
