// SSH transport benchmark: the product's ConnectionPool against a real sshd on
// 127.0.0.1, directly and through a proxy that adds latency in each direction.
// For a tree refresh of one server (the tree's listing script) and a Test
// Connection (the probe script) it prints, cold (first call of a session) and
// warm (repeated calls): wall time, SSH connections opened (counted by sshd,
// from its log, and by the pool) and channels used (pool stats).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localListingScript, mergeServerBackups, parseLocalPart } from '../src/core/backup/serverListing';
import type { Server } from '../src/core/model';
import { parseProbe, probeScript } from '../src/core/server/probe';
import { ConnectionPool } from '../src/ssh/connectionPool';
import { testEnv } from '../test/support/sshEnv';
import { type SshServer, startSshServer } from '../test/world/sshServer';
import {
  benchAbort,
  benchServer,
  envInt,
  heading,
  makeBackupFixture,
  median,
  ms,
  onTeardown,
  started,
  percentile,
  table,
  target,
  timed,
  workDir,
} from './common';
import { type DelayProxy, startDelayProxy } from './delayProxy';

export const PROXY_DELAY_MS = 50;
const BASELINE = 'baseline: empty script `true`';

/** Starts the test sshd (stopped on teardown). */
export function benchSshd(): Promise<SshServer> {
  return started('sshd', startSshServer(), async (sshd) => {
    await sshd.stop();
    fs.rmSync(sshd.dir, { recursive: true, force: true });
  });
}

export function benchProxy(port: number, delayMs = PROXY_DELAY_MS): Promise<DelayProxy> {
  return started('delay proxy', startDelayProxy(port, delayMs), (proxy) => proxy.close());
}

/** A pool as the extension builds one (every new host trusted, as after the first prompt). */
export function benchPool(): ConnectionPool {
  const pool = new ConnectionPool(testEnv({ connectTimeoutMs: () => 30_000, idleMs: () => 600_000 }));
  onTeardown('ssh pool', () => pool.dispose());
  return pool;
}

type ListedDb = { name: string; engine: 'postgres' };

/** One tree refresh of one server: the listing script the tree runs (no S3 configured), parsed. */
export async function treeRefresh(pool: ConnectionPool, server: Server, dbs: readonly ListedDb[]) {
  const r = await pool.run(server, localListingScript(server), {
    signal: benchAbort.signal,
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`listing failed (exit ${r.code}): ${r.stderr.trim().slice(-300)}`);
  const listing = mergeServerBackups(parseLocalPart(r.stdout, r.stderr, server, dbs), server, dbs);
  if (listing.localError) throw new Error(listing.localError);
  return listing;
}

/** One Test Connection: the probe script, parsed. */
export async function testConnection(pool: ConnectionPool, server: Server) {
  const r = await pool.run(server, probeScript(server.backupDir), {
    signal: benchAbort.signal,
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`probe failed (exit ${r.code}): ${r.stderr.trim().slice(-300)}`);
  return parseProbe(r.stdout);
}

interface Session {
  route: string;
  action: string;
  cold: number;
  warm: number[];
  actions: number;
  sshdConnections: number;
  poolConnections: number;
  channels: number;
}

async function session(
  sshd: SshServer,
  route: string,
  action: string,
  once: (pool: ConnectionPool) => Promise<unknown>,
  warmRuns: number,
): Promise<Session> {
  const pool = benchPool();
  const before = sshd.connectionCount();
  const cold = await timed(() => once(pool));
  const warm: number[] = [];
  for (let i = 0; i < warmRuns; i++) warm.push((await timed(() => once(pool))).ms);
  const s: Session = {
    route,
    action,
    cold: cold.ms,
    warm,
    actions: warmRuns + 1,
    sshdConnections: sshd.connectionCount() - before,
    poolConnections: pool.stats.connections,
    channels: pool.stats.channels,
  };
  pool.dispose();
  return s;
}

export async function runSshBench(): Promise<void> {
  const warmRuns = envInt('INFRAKT_BENCH_RUNS', 20);
  heading(`SSH transport (ConnectionPool → real sshd; ${warmRuns} warm calls per session)`);
  const sshd = await benchSshd();
  const proxy = await benchProxy(sshd.port);
  const work = workDir('ssh');
  const backupDir = path.join(work, 'backups');
  const fixture = makeBackupFixture(backupDir, 'bench-1', 3, 5);
  console.log(
    `sshd on 127.0.0.1:${sshd.port}; proxy on :${proxy.port} adds ${PROXY_DELAY_MS} ms each way (RTT +${2 * PROXY_DELAY_MS} ms); backup dir with ${fixture.databases.length} databases × 5 backups`,
  );
  const routes: [string, Server][] = [
    ['direct', benchServer(sshd.port, sshd.clientKeyPath, backupDir)],
    [`+${PROXY_DELAY_MS}ms/way`, benchServer(proxy.port, sshd.clientKeyPath, backupDir)],
  ];
  const sessions: Session[] = [];
  for (const [route, server] of routes) {
    // Not a user action: what any channel costs on this server (shell start-up, rc files).
    sessions.push(
      await session(
        sshd,
        route,
        BASELINE,
        async (pool) => {
          const r = await pool.run(server, 'true', { signal: benchAbort.signal });
          if (r.code !== 0) throw new Error(`\`true\` exited ${r.code}`);
        },
        warmRuns,
      ),
    );
    sessions.push(
      await session(
        sshd,
        route,
        'tree refresh',
        async (pool) => {
          const l = await treeRefresh(pool, server, fixture.databases);
          const n = [...l.byDatabase.values()].reduce((a, b) => a + b.length, 0);
          if (n !== 15) throw new Error(`tree refresh listed ${n} backups, expected 15`);
        },
        warmRuns,
      ),
    );
    sessions.push(
      await session(
        sshd,
        route,
        'Test Connection',
        async (pool) => {
          const p = await testConnection(pool, server);
          if (p.user !== 'root') throw new Error(`probe said user ${p.user}`);
        },
        warmRuns,
      ),
    );
    // A session as a user has it: the tree loads while Test Connection is clicked
    // (both cold, concurrently), then refreshes and tests alternate.
    let step = 0;
    sessions.push(
      await session(
        sshd,
        route,
        'mixed (both at once, then alternating)',
        async (pool) => {
          const n = step++;
          if (n === 0) {
            await Promise.all([treeRefresh(pool, server, fixture.databases), testConnection(pool, server)]);
          } else if (n % 2) await treeRefresh(pool, server, fixture.databases);
          else await testConnection(pool, server);
        },
        warmRuns,
      ),
    );
  }
  // The concurrent first step of the mixed session is two user actions.
  for (const s of sessions) if (s.action.startsWith('mixed')) s.actions += 1;

  console.log();
  console.log(
    table([
      [
        'route',
        'action',
        'cold (1st call)',
        'warm median',
        'warm p90',
        'warm min',
        'actions',
        'conns (sshd)',
        'conns (pool)',
        'channels',
        'channels/action',
      ],
      ...sessions.map((s) => [
        s.route,
        s.action,
        ms(s.cold),
        ms(median(s.warm)),
        ms(percentile(s.warm, 90)),
        ms(Math.min(...s.warm)),
        String(s.actions),
        String(s.sshdConnections),
        String(s.poolConnections),
        String(s.channels),
        (s.channels / s.actions).toFixed(2),
      ]),
    ]),
  );

  // What the added latency says about protocol round trips (each costs 2 × delay more).
  console.log('\nround trips implied by the added latency ((proxy − direct) / RTT added):');
  for (const action of [BASELINE, 'tree refresh', 'Test Connection']) {
    const d = sessions.find((s) => s.route === 'direct' && s.action === action) as Session;
    const p = sessions.find((s) => s.route !== 'direct' && s.action === action) as Session;
    const rtt = 2 * PROXY_DELAY_MS;
    console.log(
      `  ${action}: cold ≈ ${((p.cold - d.cold) / rtt).toFixed(1)} RTT (SSH handshake + auth + first channel; the proxy does not delay the TCP handshake itself), warm ≈ ${((median(p.warm) - median(d.warm)) / rtt).toFixed(1)} RTT per call`,
    );
  }

  // Where the per-channel floor comes from: sshd starts every exec channel through the
  // user's login shell, and bash started by sshd sources ~/.bashrc (Debian's build).
  const diag = benchPool();
  const rc = await diag.run(
    routes[0][1],
    [
      'if [ -f "$HOME/.bashrc" ]; then',
      '  s=$(date +%s%N); bash -c \'. "$HOME/.bashrc"\' >/dev/null 2>&1 </dev/null; e=$(date +%s%N)',
      '  echo "sourcing ~/.bashrc on the server takes $(( (e - s) / 1000000 )) ms"',
      'else echo "no ~/.bashrc on the server"; fi',
      'echo "login shell of $(id -un): $(getent passwd "$(id -un)" | cut -d: -f7)"',
    ].join('\n'),
    { signal: benchAbort.signal },
  );
  diag.dispose();
  console.log(`\nper-channel floor: ${rc.stdout.trim().split('\n').join('; ')}`);

  console.log();
  const actions = sessions.filter((s) => s.action !== BASELINE);
  for (const s of actions) {
    target(
      `one SSH connection per server per session [${s.route}, ${s.action}]`,
      s.sshdConnections === 1 && s.poolConnections === 1,
      `${s.sshdConnections} accepted by sshd, ${s.poolConnections} opened by the pool for ${s.actions} actions`,
    );
  }
  for (const s of actions) {
    target(
      `one channel per user action [${s.route}, ${s.action}]`,
      s.channels === s.actions,
      `${s.channels} channels for ${s.actions} actions`,
    );
  }
}
