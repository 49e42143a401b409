// The pool's own logic — idle timers, drops, cancel at each stage, kill before
// close — with a stand-in for the ssh2 client (no network). The real transport
// against a real sshd is test/integration/sshPool.test.ts.
import * as assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ConnectConfig } from 'ssh2';
import type { Server } from '../../src/core/model';
import { ConnectionPool, type SshEnvironment } from '../../src/ssh/connectionPool';
import { SshError } from '../../src/ssh/errors';
import { type ExecChannel, REMOTE_SHELL, type SshClientLike } from '../../src/ssh/scriptChannel';

const IDLE_MS = 40;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lets pending promise callbacks run. */
const tick = () => new Promise((r) => setImmediate(r));

class FakeStream extends EventEmitter {
  resume(): this {
    return this;
  }
}

class FakeChannel extends EventEmitter {
  readonly stderr = new FakeStream();
  written: string | undefined;
  closeCalls = 0;
  end(data?: string): this {
    this.written = data;
    return this;
  }
  close(): void {
    this.closeCalls++;
  }
  resume(): this {
    return this;
  }
  /** What the remote shell prints first. */
  sendPgid(pgid: number): void {
    this.stderr.emit('data', Buffer.from(`@@infrakt:pgid ${pgid}\n`));
  }
  exit(code: number | null): void {
    this.emit('close', code);
  }
}

type ExecCallback = (err: Error | undefined, channel: ExecChannel) => void;

class FakeClient extends EventEmitter implements SshClientLike {
  connected = false;
  ended = false;
  readonly execs: { command: string; callback: ExecCallback }[] = [];
  connect(_config: ConnectConfig): this {
    this.connected = true;
    return this;
  }
  exec(command: string, callback: ExecCallback): this {
    this.execs.push({ command, callback });
    return this;
  }
  sftp(callback: (err: Error | undefined) => void): this {
    setImmediate(() => callback(new Error('no sftp in the fake')));
    return this;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  ready(): void {
    this.emit('ready');
  }
  /** The server dropped us. */
  drop(): void {
    this.emit('close');
  }
  /** Opens the n-th exec'd channel and returns it. */
  open(n = this.execs.length - 1): FakeChannel {
    const ch = new FakeChannel();
    this.execs[n].callback(undefined, ch);
    return ch;
  }
}

const server: Server = {
  id: 'srv-1',
  name: 'web-1',
  host: '127.0.0.1',
  port: 22,
  user: 'root',
  auth: 'password',
  backupDir: '/var/backups',
  createdAt: '',
  updatedAt: '',
};

const env: SshEnvironment = {
  getPassword: async () => 'pw',
  getPassphrase: async () => undefined,
  knownFingerprint: () => undefined,
  confirmNewHost: async () => true,
  trustHost: () => undefined,
  connectTimeoutMs: () => 1000,
  idleMs: () => IDLE_MS,
};

function makePool(stopFallbackMs?: number): { pool: ConnectionPool; clients: FakeClient[] } {
  const clients: FakeClient[] = [];
  const pool = new ConnectionPool(env, {
    stopFallbackMs,
    createClient: () => {
      const c = new FakeClient();
      clients.push(c);
      return c;
    },
  });
  return { pool, clients };
}

/** Waits until the pool has asked this client for `n` channels (connect is async). */
async function execsOf(c: FakeClient, n: number): Promise<void> {
  for (let i = 0; i < 50 && c.execs.length < n; i++) await tick();
  assert.equal(c.execs.length, n, `${n} exec call(s) expected`);
}

async function connected(clients: FakeClient[], n: number): Promise<FakeClient> {
  for (let i = 0; i < 50 && !clients[n - 1]?.connected; i++) await tick();
  assert.ok(clients[n - 1]?.connected, `client ${n} should be connecting`);
  return clients[n - 1];
}

const isCancelled = (e: unknown) => e instanceof SshError && e.kind === 'cancelled';

describe('connection pool logic (fake ssh2 client)', () => {
  it('runs the script on stdin of one channel and resolves with its output', async () => {
    const { pool, clients } = makePool();
    const running = pool.run(server, 'echo hi');
    const c = await connected(clients, 1);
    c.ready();
    await execsOf(c, 1);
    assert.equal(c.execs[0].command, REMOTE_SHELL);
    const ch = c.open();
    assert.equal(ch.written, 'echo hi');
    ch.stderr.emit('data', Buffer.from('bashrc noise\n@@infrakt:pgid 4'));
    ch.stderr.emit('data', Buffer.from('2\nreal err\n'));
    ch.emit('data', Buffer.from('hi\n'));
    ch.exit(0);
    assert.deepEqual(await running, { code: 0, stdout: 'hi\n', stderr: 'bashrc noise\nreal err\n' });
    pool.dispose();
  });

  it('after the last run ends, the connection closes after idleMs (not before)', async () => {
    const { pool, clients } = makePool();
    const a = pool.run(server, 'a');
    const b = pool.run(server, 'b');
    const c = await connected(clients, 1);
    c.ready();
    await execsOf(c, 2);
    const chA = c.open(0);
    const chB = c.open(1);
    chA.exit(0);
    await a;
    await sleep(IDLE_MS * 2);
    assert.equal(c.ended, false, 'b is still running');
    chB.exit(0);
    await b;
    await sleep(IDLE_MS / 4);
    assert.equal(c.ended, false, 'not before idleMs');
    await sleep(IDLE_MS * 2);
    assert.equal(c.ended, true, 'closed once idle');
    assert.equal(clients.length, 1);
    pool.dispose();
  });

  it('a busy connection is not closed when the idle time passes', async () => {
    const { pool, clients } = makePool();
    const first = pool.run(server, 'first');
    const c = await connected(clients, 1);
    c.ready();
    await execsOf(c, 1);
    c.open().exit(0);
    await first;
    // The idle timer is armed; a new run starts just before it fires and outlives it.
    await sleep(IDLE_MS / 2);
    const long = pool.run(server, 'long');
    await execsOf(c, 2);
    const ch = c.open();
    await sleep(IDLE_MS * 3);
    assert.equal(c.ended, false, 'busy: must not be closed as idle');
    ch.exit(0);
    await long;
    await sleep(IDLE_MS * 2);
    assert.equal(c.ended, true);
    pool.dispose();
  });

  it("after a drop, the old connection's idle timer never ends the new one", async () => {
    const { pool, clients } = makePool();
    // An idle timer is pending on the first connection when it drops.
    const warm = pool.run(server, 'warm');
    const c1 = await connected(clients, 1);
    c1.ready();
    await execsOf(c1, 1);
    c1.open().exit(0);
    await warm;
    // A run is in flight on it when the server drops us.
    const old = pool.run(server, 'old');
    await execsOf(c1, 2);
    const oldCh = c1.open();
    c1.drop();
    // The replacement: a backup started right after the drop.
    const backup = pool.run(server, 'backup');
    const c2 = await connected(clients, 2);
    c2.ready();
    await execsOf(c2, 1);
    const ch2 = c2.open();
    // The old run ends only now (its finally used to arm a timer that closed the new client).
    oldCh.exit(null);
    await assert.rejects(old, (e: SshError) => e.kind === 'dropped');
    await sleep(IDLE_MS * 3);
    assert.equal(c2.ended, false, 'the replacement is busy and must stay open');
    ch2.exit(0);
    assert.equal((await backup).code, 0);
    await sleep(IDLE_MS * 2);
    assert.equal(c2.ended, true, 'and is closed once it is idle itself');
    pool.dispose();
  });

  it('abort during connect rejects "cancelled" and never calls exec', async () => {
    const { pool, clients } = makePool();
    const abort = new AbortController();
    const running = pool.run(server, 'touch /restore', { signal: abort.signal });
    const c = await connected(clients, 1);
    abort.abort();
    await assert.rejects(running, isCancelled);
    c.ready(); // the handshake finishes after the cancel
    await sleep(IDLE_MS / 4);
    assert.equal(c.execs.length, 0);
    await sleep(IDLE_MS * 2);
    assert.equal(c.ended, true, 'the unused connection is closed once idle');
    pool.dispose();
  });

  it('abort before the channel opens closes it without writing the script', async () => {
    const { pool, clients } = makePool();
    const abort = new AbortController();
    const running = pool.run(server, 'touch /restore', { signal: abort.signal });
    const c = await connected(clients, 1);
    c.ready();
    await execsOf(c, 1);
    abort.abort();
    await assert.rejects(running, isCancelled);
    const ch = c.open(); // the server's answer comes after the cancel
    assert.equal(ch.written, undefined, 'the script must not be sent');
    assert.equal(ch.closeCalls, 1);
    assert.equal(c.execs.length, 1, 'no kill needed: nothing ran');
    pool.dispose();
  });

  it('cancel while running: TERM to the group first, the channel closed after, then the rejection', async () => {
    const { pool, clients } = makePool();
    const abort = new AbortController();
    let rejected = false;
    const running = pool.run(server, 'sleep 600', { signal: abort.signal });
    running.catch(() => (rejected = true));
    const c = await connected(clients, 1);
    c.ready();
    await execsOf(c, 1);
    const ch = c.open();
    ch.sendPgid(4242);
    abort.abort();
    await execsOf(c, 2);
    assert.match(c.execs[1].command, /^kill -TERM -- -4242 .*kill -KILL -- -4242/);
    await tick();
    assert.equal(ch.closeCalls, 0, 'not closed before TERM was sent');
    const killer = c.open(1);
    await tick();
    assert.equal(ch.closeCalls, 0, 'still waiting for the kill to report');
    killer.emit('data', Buffer.from('@@infrakt:term-sent\n'));
    assert.equal(ch.closeCalls, 1, 'closed once TERM was sent');
    await tick();
    assert.equal(rejected, false, 'rejects only once the channel is closed');
    ch.exit(null);
    await assert.rejects(running, isCancelled);
    pool.dispose();
  });

  it('cancel after the script was sent but before the pgid line waits for it, then kills', async () => {
    const { pool, clients } = makePool();
    const abort = new AbortController();
    const running = pool.run(server, 'sleep 600', { signal: abort.signal });
    const c = await connected(clients, 1);
    c.ready();
    await execsOf(c, 1);
    const ch = c.open();
    assert.equal(ch.written, 'sleep 600');
    abort.abort();
    await tick();
    assert.equal(c.execs.length, 1, 'no group to kill yet');
    assert.equal(ch.closeCalls, 0);
    ch.sendPgid(777);
    await execsOf(c, 2);
    assert.match(c.execs[1].command, /kill -TERM -- -777/);
    const killer = c.open(1);
    killer.emit('close', 0); // the kill command ended: TERM has been sent
    assert.equal(ch.closeCalls, 1);
    ch.exit(null);
    await assert.rejects(running, isCancelled);
    pool.dispose();
  });

  it('a timeout uses the same stop; a kill that never reports closes the channel after the fallback', async () => {
    const { pool, clients } = makePool(60);
    const running = pool.run(server, 'sleep 600', { timeoutMs: 30 });
    const c = await connected(clients, 1);
    c.ready();
    await execsOf(c, 1);
    const ch = c.open();
    ch.sendPgid(99);
    await sleep(40);
    assert.equal(c.execs.length, 2, 'the kill was sent');
    c.open(1); // opens, but never says TERM was sent
    assert.equal(ch.closeCalls, 0);
    await assert.rejects(
      running,
      (e: SshError) => e.kind === 'timeout' && /did not finish within/.test(e.message),
    );
    assert.equal(ch.closeCalls, 1, 'closed by the fallback');
    pool.dispose();
  });

  it('a connection closed while connecting fails its callers instead of hanging', async () => {
    const { pool, clients } = makePool();
    const running = pool.run(server, 'true');
    const c = await connected(clients, 1);
    c.drop();
    await assert.rejects(running, (e: SshError) => e.kind === 'dropped');
    // The next run gets a fresh connection.
    const again = pool.run(server, 'true');
    const c2 = await connected(clients, 2);
    c2.ready();
    await execsOf(c2, 1);
    c2.open().exit(0);
    assert.equal((await again).code, 0);
    pool.dispose();
  });

  it('a failed download lets the connection go idle; its close never touches the next connection', async () => {
    const { pool, clients } = makePool();
    const first = pool.download(server, '/r', '/tmp/never-written');
    const c1 = await connected(clients, 1);
    c1.ready();
    await assert.rejects(first, /SFTP is not available on web-1/);
    await sleep(IDLE_MS * 2);
    assert.equal(c1.ended, true, 'idle after the failed download');
    c1.drop(); // ssh2 reports the close of the connection it ended
    const run = pool.run(server, 'long');
    const c2 = await connected(clients, 2);
    c2.ready();
    await execsOf(c2, 1);
    const ch = c2.open();
    await sleep(IDLE_MS * 3);
    assert.equal(c2.ended, false);
    ch.exit(0);
    await run;
    pool.dispose();
    assert.equal(c2.ended, true, 'dispose closes it');
  });
});
