// The SSH transport against a real OpenSSH server on 127.0.0.1.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { Server } from '../../src/core/model';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { SshError } from '../../src/ssh/errors';
import { startSshServer, type SshServer } from '../world/sshServer';
import { keyServer, testEnv } from '../support/sshEnv';
import { knownHostKeys } from '../../src/core/server/knownHosts';

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
    server = keyServer(sshd, '/opt/infrakt/backups');
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

  describe('a cancel is never lost (races repeated; a fresh pool each time, so early aborts land in connect)', () => {
    const RUNS = 5;
    let seq = 0;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** Processes whose environment holds this token: the script's shell and everything it started. */
    const withEnv = (token: string): number[] => {
      const pids: number[] = [];
      for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
          const vars = fs.readFileSync(`/proc/${d}/environ`, 'latin1').split('\0');
          if (vars.includes(`INFRAKT_RACE=${token}`)) pids.push(Number(d));
        } catch {
          // gone meanwhile
        }
      }
      return pids;
    };
    const untilGone = async (token: string, sleepArg: string, ms: number) => {
      const t0 = Date.now();
      const left = () => ({ env: withEnv(token), sleeps: pgrepCount(`sleep ${sleepArg}`) });
      let now = left();
      while ((now.env.length > 0 || now.sleeps > 0) && Date.now() - t0 < ms) {
        await sleep(50);
        now = left();
      }
      return now;
    };
    const untilRunning = async (sleepArg: string) => {
      const t0 = Date.now();
      while (pgrepCount(`sleep ${sleepArg}`) === 0 && Date.now() - t0 < 10_000) await sleep(20);
      assert.ok(pgrepCount(`sleep ${sleepArg}`) > 0, 'the script should be running');
    };
    const phases = new Map<string, number>();
    const pools: ConnectionPool[] = []; // the race's pool, for cancels that watch its counters
    afterEach(() => {
      if (phases.size > 0)
        console.log(`      aborts landed: ${[...phases].map(([p, n]) => `${n}× ${p}`).join(', ')}`);
      phases.clear();
    });

    interface Race {
      /** The script after its `export INFRAKT_RACE=…` line; `sleep ${sleepArg}` is findable with pgrep. */
      script(marker: string, sleepArg: string): string;
      cancel(abort: AbortController, sleepArg: string): Promise<void>;
      /** Seconds of the script's findable sleep. */
      seconds?: number;
      /** How long its processes may take to go after the rejection. */
      goneWithinMs?: number;
    }

    /**
     * One race on a fresh pool: checks the rejection and that no process of the script
     * remains; the marker (work after the sleep) is checked later, by noMarkers.
     */
    async function race(r: Race) {
      const id = `${process.pid % 1000}${String(++seq).padStart(3, '0')}`;
      const token = `race-${id}`;
      const sleepArg = `${r.seconds ?? 2}.${id}`;
      const marker = `${sshd.dir}/marker-${id}`;
      const pool = new ConnectionPool(testEnv());
      pools.push(pool);
      const abort = new AbortController();
      try {
        const running = pool.run(server, `export INFRAKT_RACE=${token}\n${r.script(marker, sleepArg)}`, {
          signal: abort.signal,
        });
        // Attached at once: an early rejection must not go unhandled while we wait to cancel.
        const outcome = running.then(
          (res) => `resolved with code ${res.code}: ${res.stdout.trim()}`,
          (e: unknown) => e,
        );
        await r.cancel(abort, sleepArg);
        const abortedAt = Date.now();
        const e = await outcome;
        assert.ok(e instanceof SshError && e.kind === 'cancelled', `run ${id}: ${String(e)}`);
        const phase =
          pool.stats.connections === 0
            ? 'in connect'
            : pool.stats.channels === 0
              ? 'before the channel'
              : 'after the script was sent';
        phases.set(phase, (phases.get(phase) ?? 0) + 1);
        const left = await untilGone(token, sleepArg, r.goneWithinMs ?? 3000);
        assert.deepEqual(left, { env: [], sleeps: 0 }, `run ${id}: processes of the script remain`);
        return { marker, abortedAt, goneAfterMs: Date.now() - abortedAt };
      } finally {
        pool.dispose();
      }
    }
    const sleepThenTouch = (marker: string, sleepArg: string) =>
      `sleep ${sleepArg}\ntouch '${marker}'\necho finished\n`;

    /** No marker may appear, even after the scripts' `sleep 2` would have ended. */
    async function noMarkers(results: { marker: string; abortedAt: number }[]) {
      const last = Math.max(...results.map((r) => r.abortedAt));
      await sleep(Math.max(0, last + 3000 - Date.now()));
      for (const r of results)
        assert.ok(!fs.existsSync(r.marker), `${r.marker}: the cancelled script ran on`);
    }

    for (const delay of [0, 5, 50, 500]) {
      it(`cancel at ${delay} ms, ${RUNS} times: rejects "cancelled", the script never finishes, nothing of it remains`, async () => {
        const results = [];
        for (let i = 0; i < RUNS; i++)
          results.push(
            await race({
              script: sleepThenTouch,
              cancel: async (abort) => {
                await sleep(delay);
                abort.abort();
              },
            }),
          );
        await noMarkers(results);
      });
    }

    // The windows between those: found by watching the pool's counters, not by guessing delays.
    const until = async (cond: () => boolean) => {
      const t0 = Date.now();
      while (!cond() && Date.now() - t0 < 10_000) await new Promise((r) => setImmediate(r));
    };
    it(`cancel right after connecting (the channel still opening), ${RUNS} times: the same`, async () => {
      const results = [];
      for (let i = 0; i < RUNS; i++)
        results.push(
          await race({
            script: sleepThenTouch,
            cancel: async (abort) => {
              await until(() => pools[pools.length - 1].stats.connections > 0);
              abort.abort();
            },
          }),
        );
      await noMarkers(results);
    });

    it(`cancel right after the script was sent (its process group not reported yet), ${RUNS} times: the same`, async () => {
      const results = [];
      for (let i = 0; i < RUNS; i++)
        results.push(
          await race({
            script: sleepThenTouch,
            cancel: async (abort) => {
              await until(() => pools[pools.length - 1].stats.channels > 0);
              abort.abort();
            },
          }),
        );
      await noMarkers(results);
    });

    it(`cancel mid-run (its sleep seen running), ${RUNS} times: the same`, async () => {
      const results = [];
      for (let i = 0; i < RUNS; i++)
        results.push(
          await race({
            script: sleepThenTouch,
            cancel: async (abort, sleepArg) => {
              await untilRunning(sleepArg);
              abort.abort();
            },
          }),
        );
      await noMarkers(results);
    });

    it('a backgrounded child of the script (sleep 600 & wait) dies on cancel within 2 s', async () => {
      const r = await race({
        seconds: 600,
        script: (_m, sleepArg) => `sleep ${sleepArg} &\nwait\n`,
        cancel: async (abort, sleepArg) => {
          await untilRunning(sleepArg);
          abort.abort();
        },
        goneWithinMs: 2000,
      });
      assert.ok(r.goneAfterMs < 2000, `took ${r.goneAfterMs} ms`);
    });

    it('a child that ignores TERM is killed a few seconds later (even after the pool was disposed)', async () => {
      const r = await race({
        seconds: 600,
        script: (_m, sleepArg) => `(trap '' TERM; exec sleep ${sleepArg}) &\nwait\n`,
        cancel: async (abort, sleepArg) => {
          await untilRunning(sleepArg);
          abort.abort();
        },
        goneWithinMs: 14_000, // the KILL follows the TERM after the script's 10 s clean-up grace
      });
      assert.ok(
        r.goneAfterMs > 8000,
        `TERM is ignored, so only the later KILL ends it (${r.goneAfterMs} ms)`,
      );
    });

    it('TERM reaches the script before its channel is closed: its heartbeat never sees the channel gone', async () => {
      const log = `${sshd.dir}/heartbeat-${process.pid}-${seq}.log`;
      await race({
        seconds: 600,
        // Like the backup script: a ticker that writes to the channel and, when that fails,
        // tells the script to wind down — which, racing the kill, used to finish uploads early.
        script: (_m, sleepArg) =>
          [
            `trap 'echo term >> ${log}; exit 143' TERM`,
            `( trap '' PIPE; while :; do sleep 0.05; printf . || { echo eof >> ${log}; exit 0; }; done ) &`,
            `sleep ${sleepArg} &`,
            'wait',
            '',
          ].join('\n'),
        cancel: async (abort, sleepArg) => {
          await untilRunning(sleepArg);
          await sleep(200);
          abort.abort();
        },
      });
      await sleep(500);
      const seen = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      assert.equal(seen, 'term\n', 'the script got TERM while its channel was still open');
    });
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

  it('SFTP download over the pooled connection reports progress and can be cancelled', async () => {
    const src = `${sshd.dir}/big.bin`;
    fs.writeFileSync(src, crypto.randomBytes(8 * 1024 * 1024));
    const dest = `${sshd.dir}/copy.bin`;
    const pool = new ConnectionPool(testEnv());
    try {
      const seen: number[] = [];
      const size = await pool.download(server, src, dest, { onProgress: (done) => seen.push(done) });
      assert.equal(size, 8 * 1024 * 1024);
      assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(src)));
      assert.ok(seen.length > 1 && seen[seen.length - 1] === size, `progress: ${seen.length} steps`);
      assert.equal(pool.stats.connections, 1);

      const abort = new AbortController();
      const cancelled = pool.download(server, src, `${dest}.2`, {
        signal: abort.signal,
        onProgress: () => abort.abort(),
      });
      await assert.rejects(cancelled, (e: SshError) => e.kind === 'cancelled');
      await assert.rejects(
        pool.download(server, `${sshd.dir}/missing.bin`, `${dest}.3`),
        /Download of .*missing\.bin from web-1 failed/,
      );
    } finally {
      pool.dispose();
    }
  });

  it('a host already in ~/.ssh/known_hosts is trusted without asking; a different key there is refused', async () => {
    const hostPub = fs.readFileSync(`${sshd.dir}/host_ed25519.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const text = `[127.0.0.1]:${sshd.port} ${hostPub}\n`;
    const env = testEnv({ systemKnownKeys: (h, p) => knownHostKeys(text, h, p) });
    const pool = new ConnectionPool(env);
    try {
      await pool.run(server, 'true');
      assert.equal(env.asked.length, 0);
      assert.equal(env.known.get(`127.0.0.1:${sshd.port}`), sshd.hostKeyFingerprint, 'remembered');
    } finally {
      pool.dispose();
    }
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${sshd.dir}/impostor`]);
    const impostor = fs.readFileSync(`${sshd.dir}/impostor.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const wrong = `[127.0.0.1]:${sshd.port} ${impostor}\n`;
    const env2 = testEnv({ systemKnownKeys: (h, p) => knownHostKeys(wrong, h, p) });
    const pool2 = new ConnectionPool(env2);
    try {
      await assert.rejects(
        pool2.run(server, 'true'),
        (e: SshError) =>
          e.kind === 'host-key-changed' && /differs from the one in ~\/\.ssh\/known_hosts/.test(e.message),
      );
      assert.equal(env2.asked.length, 0);
    } finally {
      pool2.dispose();
    }
  });

  it('a host key marked @revoked in ~/.ssh/known_hosts is refused, even one this extension trusted before', async () => {
    const hostPub = fs.readFileSync(`${sshd.dir}/host_ed25519.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const text = `@revoked [127.0.0.1]:${sshd.port} ${hostPub}\n`;
    const env = testEnv({ systemKnownKeys: (h, p) => knownHostKeys(text, h, p) });
    env.known.set(`127.0.0.1:${sshd.port}`, sshd.hostKeyFingerprint);
    const pool = new ConnectionPool(env);
    try {
      await assert.rejects(
        pool.run(server, 'true'),
        (e: SshError) =>
          e.kind === 'host-key-revoked' &&
          e.message.includes(sshd.hostKeyFingerprint) &&
          /is marked @revoked in ~\/\.ssh\/known_hosts: it must not be trusted/.test(e.message),
      );
      assert.equal(env.asked.length, 0, 'a revoked key is never offered for trust');
    } finally {
      pool.dispose();
    }
  });

  describe('other ways to log in', () => {
    const PASSWORD = 'pw-Canary-51f0e';
    let pwSshd: SshServer;
    before(async () => {
      pwSshd = await startSshServer({ passwordUser: { name: 'infrakt-pw', password: PASSWORD } });
    });
    after(async () => {
      await pwSshd.stop();
    });
    const pwServer = (): Server => ({
      ...server,
      port: pwSshd.port,
      user: 'infrakt-pw',
      auth: 'password',
      keyPath: undefined,
    });

    it('password auth (second sshd with PasswordAuthentication yes) runs as that user', async () => {
      const pool = new ConnectionPool(testEnv({ getPassword: async () => PASSWORD }));
      try {
        const r = await pool.run(pwServer(), 'id -un');
        assert.equal(r.stdout.trim(), 'infrakt-pw');
      } finally {
        pool.dispose();
      }
    });

    it('a wrong password is rejected naming the method tried, and never echoes the password', async () => {
      const wrong = 'pw-Wrong-9a77c';
      const pool = new ConnectionPool(testEnv({ getPassword: async () => wrong }));
      try {
        await assert.rejects(pool.run(pwServer(), 'true'), (e: SshError) => {
          assert.equal(e.kind, 'auth');
          assert.match(e.message, /Authentication rejected by web-1 .*tried: password/);
          assert.ok(!e.message.includes(wrong));
          return true;
        });
      } finally {
        pool.dispose();
      }
      const none = new ConnectionPool(testEnv());
      try {
        await assert.rejects(none.run(pwServer(), 'true'), /No password stored for web-1 — run Edit Server/);
      } finally {
        none.dispose();
      }
    });

    it('ssh-agent auth uses the key held by a real ssh-agent (SSH_AUTH_SOCK)', async () => {
      const sock = `${sshd.dir}/agent.sock`;
      const out = execFileSync('ssh-agent', ['-a', sock], { encoding: 'utf8' });
      const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1]);
      const saved = process.env.SSH_AUTH_SOCK;
      try {
        execFileSync('ssh-add', [sshd.clientKeyPath], {
          env: { ...process.env, SSH_AUTH_SOCK: sock },
          stdio: 'ignore',
        });
        process.env.SSH_AUTH_SOCK = sock;
        const pool = new ConnectionPool(testEnv());
        try {
          const r = await pool.run({ ...server, auth: 'agent', keyPath: undefined }, 'echo via-agent');
          assert.equal(r.stdout, 'via-agent\n');
        } finally {
          pool.dispose();
        }
        delete process.env.SSH_AUTH_SOCK;
        const noAgent = new ConnectionPool(testEnv());
        try {
          await assert.rejects(
            noAgent.run({ ...server, auth: 'agent', keyPath: undefined }, 'true'),
            /No ssh-agent is running for web-1/,
          );
        } finally {
          noAgent.dispose();
        }
      } finally {
        if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
        else process.env.SSH_AUTH_SOCK = saved;
        if (agentPid) process.kill(agentPid);
      }
    });

    it('an encrypted key asks for its passphrase, again after a wrong one, and remembers the one that worked', async () => {
      const key = `${sshd.dir}/locked_ed25519`;
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pp-Right-0c3', '-f', key]);
      fs.appendFileSync(`${sshd.dir}/authorized_keys`, fs.readFileSync(`${key}.pub`));
      const answers = ['pp-Wrong-1', 'pp-Right-0c3'];
      const retries: boolean[] = [];
      const remembered: string[] = [];
      const pool = new ConnectionPool(
        testEnv({
          getPassphrase: async (_s, retry) => {
            retries.push(retry);
            return answers.shift();
          },
          passphraseAccepted: async (_s, p) => {
            remembered.push(p);
          },
        }),
      );
      try {
        const r = await pool.run({ ...server, keyPath: key }, 'echo unlocked');
        assert.equal(r.stdout, 'unlocked\n');
        assert.deepEqual(retries, [false, true]);
        assert.deepEqual(remembered, ['pp-Right-0c3']);
      } finally {
        pool.dispose();
      }
      const giveUp = new ConnectionPool(testEnv({ getPassphrase: async () => 'pp-Wrong-2' }));
      try {
        await assert.rejects(
          giveUp.run({ ...server, keyPath: key }, 'true'),
          (e: SshError) => e.kind === 'passphrase' && /Wrong passphrase for .*locked_ed25519/.test(e.message),
        );
      } finally {
        giveUp.dispose();
      }
    });
  });
});
