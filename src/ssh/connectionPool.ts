// One ssh2 connection per server, opened on first use and shared by every
// operation; concurrent callers share one connection attempt; closed after an
// idle period and on dispose; reopened transparently after a drop.
// Remote work is one script on stdin of one channel.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { Server } from '../core/model';
import { type RemoteRunner, type RunOptions, type RunResult, redact } from '../core/remote';

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

const PGID_MARK = '@@infrakt:pgid ';

/**
 * The remote command: bash when the server has it (pipefail), else the POSIX
 * shell. It first reports its process group (sshd makes the session's shell a
 * group leader), so a cancel can end everything the script started.
 */
export const REMOTE_SHELL = `printf '${PGID_MARK}%s\\n' "$$" >&2; command -v bash >/dev/null 2>&1 && exec bash -s || exec sh -s`;

export function sha256Fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function keyTypeOf(key: Buffer): string {
  const len = key.readUInt32BE(0);
  return key.subarray(4, 4 + len).toString('ascii');
}

interface Entry {
  client: Client;
  ready: Promise<Client>;
  idle?: NodeJS.Timeout;
  busy: number;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?(transferred: number, total: number): void;
}

export class ConnectionPool implements RemoteRunner {
  private readonly entries = new Map<string, Entry>();
  /** For benchmarks and tests. */
  readonly stats = { connections: 0, channels: 0 };

  constructor(private readonly env: SshEnvironment) {}

  private key(server: Server): string {
    return `${server.id}|${server.user}@${server.host}:${server.port}|${server.auth}|${server.keyPath ?? ''}`;
  }

  async run(server: Server, script: string, opts: RunOptions = {}): Promise<RunResult> {
    if (opts.signal?.aborted) throw new SshError('cancelled', 'Cancelled');
    const entry = await this.acquire(server);
    entry.busy++;
    this.clearIdle(entry);
    try {
      return await this.exec(server, entry.client, script, opts);
    } finally {
      entry.busy--;
      this.scheduleIdle(server, entry);
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
    if (opts.signal?.aborted) throw new SshError('cancelled', 'Cancelled');
    const entry = await this.acquire(server);
    entry.busy++;
    this.clearIdle(entry);
    try {
      return await new Promise<number>((resolve, reject) => {
        entry.client.sftp((err, sftp) => {
          if (err) {
            reject(new SshError('other', `SFTP is not available on ${server.name}: ${err.message}`));
            return;
          }
          this.stats.channels++;
          let total = 0;
          const onAbort = () => {
            sftp.end();
            reject(new SshError('cancelled', 'Cancelled'));
          };
          opts.signal?.addEventListener('abort', onAbort, { once: true });
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
              opts.signal?.removeEventListener('abort', onAbort);
              sftp.end();
              if (opts.signal?.aborted) return;
              if (e)
                reject(
                  new SshError('other', `Download of ${remotePath} from ${server.name} failed: ${e.message}`),
                );
              else resolve(total);
            },
          );
        });
      });
    } finally {
      entry.busy--;
      this.scheduleIdle(server, entry);
    }
  }

  private clearIdle(e: Entry): void {
    if (e.idle) clearTimeout(e.idle);
    e.idle = undefined;
  }

  private scheduleIdle(server: Server, e: Entry): void {
    if (e.busy > 0) return;
    this.clearIdle(e);
    e.idle = setTimeout(() => this.close(server), this.env.idleMs());
    e.idle.unref?.();
  }

  close(server: Server): void {
    const k = this.key(server);
    const e = this.entries.get(k);
    if (!e) return;
    this.entries.delete(k);
    this.clearIdle(e);
    e.client.end();
  }

  /** Closes every connection of this server (e.g. after it was edited or removed). */
  forget(serverId: string): void {
    for (const [k, e] of this.entries) {
      if (k.startsWith(`${serverId}|`)) {
        this.entries.delete(k);
        this.clearIdle(e);
        e.client.end();
      }
    }
  }

  dispose(): void {
    for (const e of this.entries.values()) {
      this.clearIdle(e);
      e.client.end();
    }
    this.entries.clear();
  }

  private acquire(server: Server): Promise<Entry> {
    const k = this.key(server);
    const existing = this.entries.get(k);
    if (existing) return existing.ready.then(() => existing);
    const client = new Client();
    const entry: Entry = { client, busy: 0, ready: Promise.resolve(client) };
    entry.ready = this.connect(server, client).catch((err: unknown) => {
      if (this.entries.get(k) === entry) this.entries.delete(k);
      throw err;
    });
    // A drop (or an idle close by the server) forgets the connection; the next run reconnects.
    const forgetThis = () => {
      if (this.entries.get(k) === entry) this.entries.delete(k);
      this.clearIdle(entry);
    };
    client.on('close', forgetThis);
    client.on('end', forgetThis);
    // After the handshake a socket error (ECONNRESET when the server drops us)
    // must not go unhandled: it would take the extension host down. Running
    // channels see the close and fail with "dropped"; the next run reconnects.
    client.on('error', forgetThis);
    this.entries.set(k, entry);
    return entry.ready.then(() => entry);
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

  private async connect(server: Server, client: Client): Promise<Client> {
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

  private handshake(server: Server, client: Client, config: ConnectConfig): Promise<void> {
    let hostKeyProblem: SshError | undefined;
    const tried: string[] = [];
    return new Promise<void>((resolve, reject) => {
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onError = (err: Error & { level?: string; code?: string }) => {
        cleanup();
        reject(hostKeyProblem ?? this.mapError(server, err, tried));
      };
      const cleanup = () => {
        client.off('ready', onReady);
        client.off('error', onError);
      };
      client.on('ready', onReady);
      client.on('error', onError);
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

  private mapError(
    server: Server,
    err: Error & { level?: string; code?: string },
    tried: string[],
  ): SshError {
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

  private exec(server: Server, client: Client, script: string, opts: RunOptions): Promise<RunResult> {
    const secrets = opts.secrets ?? [];
    return new Promise<RunResult>((resolve, reject) => {
      client.exec(REMOTE_SHELL, (err, channel: ClientChannel) => {
        if (err) {
          reject(
            new SshError(
              'dropped',
              `Could not open a channel to ${server.name}: ${redact(err.message, secrets)} — try again`,
            ),
          );
          return;
        }
        this.stats.channels++;
        let stdout = '';
        let stderr = '';
        let pgid: number | undefined;
        let pending = ''; // stderr until the pgid line has been seen
        let settled = false;
        let timer: NodeJS.Timeout | undefined;
        const stop = (why: SshError) => {
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          // End the script's whole process group from a second channel, then close this one.
          if (pgid !== undefined && pgid > 1) {
            client.exec(
              `kill -TERM -- -${pgid} 2>/dev/null; sleep 3; kill -KILL -- -${pgid} 2>/dev/null; true`,
              (e, killer) => {
                if (!e) killer.resume().stderr.resume();
              },
            );
          }
          channel.close();
          reject(why);
        };
        const onAbort = () => stop(new SshError('cancelled', 'Cancelled'));
        opts.signal?.addEventListener('abort', onAbort, { once: true });
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
        channel.on('data', (d: Buffer) => {
          const s = d.toString('utf8');
          stdout += s;
          opts.onStdout?.(s);
        });
        channel.stderr.on('data', (d: Buffer) => {
          let s = d.toString('utf8');
          if (pgid === undefined) {
            pending += s;
            const nl = pending.indexOf('\n');
            if (nl < 0) return;
            const m = new RegExp(`^${PGID_MARK}(\\d+)$`).exec(pending.slice(0, nl));
            pgid = m ? Number(m[1]) : -1;
            s = m ? pending.slice(nl + 1) : pending;
            pending = '';
            if (s === '') return;
          }
          stderr += s;
          opts.onStderr?.(s);
        });
        channel.on('close', (code: number | null, signal?: string) => {
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          if (code === null || code === undefined) {
            reject(
              new SshError(
                'dropped',
                `The connection to ${server.name} dropped while it was working${signal ? ` (${signal})` : ''} — try again`,
              ),
            );
            return;
          }
          resolve({ code, stdout, stderr });
        });
        channel.end(script);
      });
    });
  }
}
