// The SSH transport against a real OpenSSH server on 127.0.0.1.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Server } from '../../src/core/model';
import {
  ConnectionPool,
  type HostKeyInfo,
  type SshEnvironment,
  SshError,
} from '../../src/ssh/connectionPool';
import { startSshServer, type SshServer } from '../world/sshServer';

function testEnv(
  overrides: Partial<SshEnvironment> = {},
): SshEnvironment & { asked: HostKeyInfo[]; known: Map<string, string> } {
  const known = new Map<string, string>();
  const asked: HostKeyInfo[] = [];
  return {
    asked,
    known,
    getPassword: async () => undefined,
    getPassphrase: async () => undefined,
    knownFingerprint: (host, port) => known.get(`${host}:${port}`),
    confirmNewHost: async (info) => {
      asked.push(info);
      return true;
    },
    trustHost: (info) => known.set(`${info.host}:${info.port}`, info.fingerprint),
    connectTimeoutMs: () => 10_000,
    idleMs: () => 60_000,
    ...overrides,
  };
}

function pgrepCount(pattern: string): number {
  try {
    return execFileSync('pgrep', ['-fc', pattern], { encoding: 'utf8' }).trim() === ''
      ? 0
      : Number(execFileSync('pgrep', ['-fc', pattern], { encoding: 'utf8' }).trim());
  } catch {
    return 0;
  }
}

describe('SSH connection pool (real sshd on 127.0.0.1)', function () {
  this.timeout(60_000);
  let sshd: SshServer;
  let server: Server;

  before(async () => {
    sshd = await startSshServer();
    server = {
      id: 'srv-1',
      name: 'web-1',
      host: '127.0.0.1',
      port: sshd.port,
      user: 'root',
      auth: 'key',
      keyPath: sshd.clientKeyPath,
      backupDir: '/opt/infrakt/backups',
      createdAt: '',
      updatedAt: '',
    };
  });
  after(async () => {
    await sshd.stop();
  });

  it('asks on first contact with the host key fingerprint, then runs a script on stdin', async () => {
    const env = testEnv();
    const pool = new ConnectionPool(env);
    try {
      const r = await pool.run(server, 'echo "hello $(id -un)"; echo err >&2; exit 3');
      assert.equal(r.code, 3);
      assert.equal(r.stdout, 'hello root\n');
      assert.equal(r.stderr, 'err\n');
      assert.equal(env.asked.length, 1);
      assert.equal(env.asked[0].fingerprint, sshd.hostKeyFingerprint);
      assert.equal(env.known.get(`127.0.0.1:${sshd.port}`), sshd.hostKeyFingerprint);
    } finally {
      pool.dispose();
    }
  });

  it('refuses when the user does not trust the host', async () => {
    const pool = new ConnectionPool(testEnv({ confirmNewHost: async () => false }));
    try {
      await assert.rejects(pool.run(server, 'true'), (e: SshError) => e.kind === 'host-key-rejected');
    } finally {
      pool.dispose();
    }
  });

  it('20 operations reuse one connection; concurrent callers share one attempt', async () => {
    const pool = new ConnectionPool(testEnv());
    const before = sshd.connectionCount();
    try {
      await Promise.all(Array.from({ length: 5 }, () => pool.run(server, 'true')));
      for (let i = 0; i < 15; i++) await pool.run(server, `echo ${i}`);
      assert.equal(sshd.connectionCount() - before, 1);
      assert.equal(pool.stats.connections, 1);
      assert.equal(pool.stats.channels, 20);
    } finally {
      pool.dispose();
    }
  });

  it('reconnects transparently after the server dropped the connection', async () => {
    const pool = new ConnectionPool(testEnv());
    try {
      await pool.run(server, 'true');
      sshd.dropSessions();
      // the client notices the drop (close event) before or during the next run
      let r;
      for (let i = 0; i < 2; i++) {
        try {
          r = await pool.run(server, 'echo back');
          break;
        } catch (e) {
          assert.equal((e as SshError).kind, 'dropped');
        }
      }
      assert.equal(r?.stdout, 'back\n');
      assert.equal(pool.stats.connections, 2);
    } finally {
      pool.dispose();
    }
  });

  it('cancel ends a remote sleep 600 within 2 s', async () => {
    const pool = new ConnectionPool(testEnv());
    const marker = `sleep 600 # infrakt-cancel-${process.pid}`;
    try {
      const abort = new AbortController();
      const running = pool.run(server, `sh -c 'sleep 600 # infrakt-cancel-${process.pid}'\n`, {
        signal: abort.signal,
      });
      const deadline = Date.now() + 10_000;
      while (pgrepCount(`infrakt-cancel-${process.pid}`) === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(pgrepCount(`infrakt-cancel-${process.pid}`) > 0, 'the remote sleep should be running');
      const t0 = Date.now();
      abort.abort();
      await assert.rejects(running, (e: Error) => e.name === 'AbortError');
      while (pgrepCount(`infrakt-cancel-${process.pid}`) > 0 && Date.now() - t0 < 5000)
        await new Promise((r) => setTimeout(r, 50));
      const gone = Date.now() - t0;
      assert.equal(pgrepCount(`infrakt-cancel-${process.pid}`), 0, `${marker} still running`);
      assert.ok(gone < 2000, `took ${gone} ms`);
    } finally {
      pool.dispose();
    }
  });

  it('a canary secret in the script never shows in the process list', async () => {
    const pool = new ConnectionPool(testEnv());
    const canary = `CANARY-${Date.now()}-SECRET`;
    try {
      const running = pool.run(server, `export INFRAKT_CANARY='${canary}'\nsleep 1.5\necho done\n`, {
        secrets: [canary],
      });
      const seen: string[] = [];
      const t0 = Date.now();
      while (Date.now() - t0 < 1200) {
        seen.push(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }));
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = await running;
      assert.equal(r.stdout, 'done\n');
      assert.ok(seen.length > 5);
      assert.equal(seen.filter((s) => s.includes(canary)).length, 0);
    } finally {
      pool.dispose();
    }
  });

  it('a wrong key is rejected with a message naming the cause', async () => {
    const other = `${sshd.dir}/other_ed25519`;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const pool = new ConnectionPool(testEnv());
    try {
      await assert.rejects(pool.run({ ...server, keyPath: other }, 'true'), (e: SshError) => {
        assert.equal(e.kind, 'auth');
        assert.match(e.message, /Authentication rejected by web-1 .*tried: publickey/);
        return true;
      });
      await assert.rejects(
        pool.run({ ...server, keyPath: '/nonexistent/key' }, 'true'),
        (e: SshError) => e.kind === 'key-unreadable' && /ENOENT/.test(e.message),
      );
      await assert.rejects(pool.run({ ...server, port: 1 }, 'true'), (e: SshError) => e.kind === 'refused');
    } finally {
      pool.dispose();
    }
  });

  it('a changed host key is refused with both fingerprints', async () => {
    const env = testEnv();
    const pool = new ConnectionPool(env);
    try {
      await pool.run(server, 'true');
      pool.dispose();
      const old = sshd.hostKeyFingerprint;
      const fresh = await sshd.rotateHostKey();
      await assert.rejects(pool.run(server, 'true'), (e: SshError) => {
        assert.equal(e.kind, 'host-key-changed');
        assert.ok(e.message.includes(old) && e.message.includes(fresh));
        assert.match(e.message, /Forget Host Key/);
        return true;
      });
    } finally {
      pool.dispose();
    }
  });
});
