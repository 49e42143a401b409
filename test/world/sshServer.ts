// A real OpenSSH server on 127.0.0.1 for integration tests:
// its own host key, root login by key, on a free port in a temp dir; stopped
// (and its files removed) by stop(), which tests call in after() hooks.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export interface SshServer {
  port: number;
  dir: string;
  clientKeyPath: string;
  hostKeyFingerprint: string;
  /** Accepted connections so far (from sshd's log). */
  connectionCount(): number;
  /** Kills every session process of this sshd (the listener stays): simulates a dropped connection. */
  dropSessions(): void;
  /** Replaces the host key and restarts (a "reinstalled" server). */
  rotateHostKey(): Promise<string>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function fingerprint(pubPath: string): string {
  return execFileSync('ssh-keygen', ['-lf', pubPath, '-E', 'sha256'], { encoding: 'utf8' }).split(' ')[1];
}

export interface SshServerOptions {
  /** Also accept password logins, for this local account (created if missing, password set). */
  passwordUser?: { name: string; password: string };
  /**
   * A fixed directory instead of a fresh temp dir (the sandbox): created if missing; its host
   * and client keys are generated only when missing, so they survive restarts.
   */
  dir?: string;
  /** Listen on this port instead of a free one. */
  port?: number;
  /** Environment of every session (sshd's SetEnv), e.g. a TMPDIR of the test's own. */
  env?: Record<string, string>;
}

/** A local account with a password (the test machine runs as root; CI machines are throwaway). */
function ensurePasswordUser(name: string, password: string): void {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', name]);
  }
  execFileSync('chpasswd', { input: `${name}:${password}\n` });
}

export async function startSshServer(opts: SshServerOptions = {}): Promise<SshServer> {
  if (opts.passwordUser) ensurePasswordUser(opts.passwordUser.name, opts.passwordUser.password);
  let dir: string;
  if (opts.dir) {
    dir = path.resolve(opts.dir);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-sshd-'));
  }
  const port = opts.port ?? (await freePort());
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'client_ed25519');
  const keygen = (file: string) => {
    if (opts.dir && fs.existsSync(file) && fs.existsSync(`${file}.pub`)) return;
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.pub`, { force: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  };
  keygen(hostKey);
  keygen(clientKey);
  fs.copyFileSync(`${clientKey}.pub`, path.join(dir, 'authorized_keys'));
  fs.chmodSync(path.join(dir, 'authorized_keys'), 0o600);
  const log = path.join(dir, 'sshd.log');
  if (opts.dir) fs.rmSync(log, { force: true }); // connectionCount() counts this run only
  fs.writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `PasswordAuthentication ${opts.passwordUser ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'UsePAM no',
      'LogLevel VERBOSE',
      'MaxSessions 50',
      'Subsystem sftp internal-sftp',
      ...Object.entries(opts.env ?? {}).map(([k, v]) => `SetEnv ${k}=${v}`),
      '',
    ].join('\n'),
  );
  try {
    fs.mkdirSync('/run/sshd', { recursive: true });
  } catch (err) {
    // Only root's sshd needs its privilege separation directory.
    if (process.getuid?.() === 0) throw err;
  }
  let child: ChildProcess;
  const start = async () => {
    child = spawn('/usr/sbin/sshd', ['-D', '-f', path.join(dir, 'sshd_config'), '-E', log], {
      stdio: 'ignore',
    });
    const c = child;
    // An sshd that cannot start (bad config, port taken) says why in its log, not after a timeout.
    const exited = new Promise<never>((_, reject) =>
      c.once('exit', (code, signal) => {
        const why = fs.existsSync(log)
          ? fs.readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n')
          : '';
        reject(
          new Error(`sshd exited (${signal ?? code}) before listening on ${port}${why ? `: ${why}` : ''}`),
        );
      }),
    );
    await Promise.race([waitForPort(port), exited]);
  };
  await start();
  const server: SshServer = {
    port,
    dir,
    clientKeyPath: clientKey,
    hostKeyFingerprint: fingerprint(`${hostKey}.pub`),
    connectionCount: () =>
      fs.existsSync(log)
        ? (fs.readFileSync(log, 'utf8').match(/Accepted (publickey|password|keyboard-interactive)/g) ?? [])
            .length
        : 0,
    dropSessions() {
      // Every sshd process serving a connection: the privileged monitor (a child of the
      // listener) and the network child it forked ("sshd: root@notty"), which holds the
      // socket and the session's pipes. Killing the monitor alone leaves the connection up.
      const procs = execFileSync('ps', ['-eo', 'pid=,ppid=,comm='], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm }));
      const victims: number[] = [];
      const walk = (parent: number) => {
        for (const p of procs.filter((x) => x.ppid === parent && x.comm === 'sshd')) {
          victims.push(p.pid);
          walk(p.pid);
        }
      };
      walk(child.pid ?? -1);
      for (const pid of victims) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
    async rotateHostKey() {
      await server.stop();
      fs.rmSync(hostKey);
      fs.rmSync(`${hostKey}.pub`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
      server.hostKeyFingerprint = fingerprint(`${hostKey}.pub`);
      await start();
      return server.hostKeyFingerprint;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
  return server;
}
