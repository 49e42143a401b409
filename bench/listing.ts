// Listing benchmark: what the tree's refresh costs at scale, over the
// product's ConnectionPool into a real sshd, with a real S3 server (s3rver in
// a process of its own, so it lists past 1,000 keys) and the awscli the
// server's shell finds (here root's .bashrc puts a pyenv shim first: every
// SSH exec and every awscli start pays for pyenv).
//   (1) one server's local backup dir of 10,000 files, and of a year of hourly
//       backups with their checksums (17,520 files): one round trip each;
//       before this change (a shell loop growing "$@"), 2,000 files;
//   (2) the TypeScript parse + merge of 10k and 40k items (linear?);
//   (3) 30 servers sharing one bucket: the whole refresh as the tree runs it
//       (local round trips 4 at a time + ONE shared S3 listing), cold and
//       warm; and one server refreshed alone (its own S3 prefixes).
// The 30 servers are 30 server rows (names, backup dirs) on ONE sshd: each
// row gets its own SSH connection from the pool, as 30 hosts would; what the
// bench leaves out is 30 machines' worth of CPU on the server side.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHECKSUM_EXT, backupFilename } from '../src/core/backup';
import { shellQuote as q } from '../src/core/remote/script';
import {
  REFRESH_CONCURRENCY,
  S3Index,
  S3ListingShare,
  type ListedDatabase,
  listServerBackups,
  mergeServerBackups,
  parseLocalPart,
  serverS3Prefixes,
} from '../src/core/backup/serverListing';
import { limiter } from '../src/core/limit';
import type { Server } from '../src/core/model';
import type { S3Credentials } from '../src/core/s3/scripts';
import type { ConnectionPool } from '../src/ssh/connectionPool';
import { S3RVER_KEY, s3rverSettings, startS3, stopS3AndRemove } from '../test/world/s3';
import type { SshServer } from '../test/world/sshServer';
import {
  benchAbort,
  benchServer,
  envInt,
  heading,
  makeBackupFixture,
  median,
  ms,
  percentile,
  shOk,
  started,
  table,
  target,
  timed,
  workDir,
} from './common';
import { benchPool, benchSshd } from './ssh';

const DAY0 = Date.UTC(2025, 0, 1);
const hourly = (server: string, db: string, i: number) =>
  backupFilename(server, db, 'postgres', new Date(DAY0 + i * 3_600_000), 'zst');

function progress(text: string): void {
  process.stderr.write(`  … ${text}\n`);
}

/** `count` hourly backups of `db` (each with its .sha256) in `dir`. */
function fillDir(dir: string, server: string, db: string, count: number): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let i = 0; i < count; i++) {
    const name = hourly(server, db, i);
    fs.writeFileSync(path.join(dir, name), 'x');
    fs.writeFileSync(path.join(dir, `${name}${CHECKSUM_EXT}`), `${'0'.repeat(64)}  ${name}\n`);
  }
}

/** The local listing before this change (for comparison only): a loop appending to "$@", quadratic in the files. */
function listScriptBefore(server: { name: string; backupDir: string }): string {
  return [
    '{',
    'set -u',
    `infrakt_dir=${q(server.backupDir)}`,
    '( cd -- "$infrakt_dir" || exit 77',
    '  set --',
    "  infrakt_nl=$(printf '\\nx'); infrakt_nl=${infrakt_nl%x}",
    `  for infrakt_f in ${q(`${server.name}_`)}*; do`,
    '    [ -f "$infrakt_f" ] || continue',
    '    case "$infrakt_f" in *"$infrakt_nl"*) continue ;; esac',
    '    set -- "$@" "$infrakt_f"',
    '  done',
    `  if [ $# -gt 0 ]; then stat -c '@@infrakt:file %s %Y %n' -- "$@"; fi`,
    ')',
    'exit $?',
    '}',
    '',
  ].join('\n');
}

const DB: ListedDatabase[] = [{ name: 'shop', engine: 'postgres' }];

// ----- (1) one server's local backup dir -------------------------------------

async function localDir(sshd: SshServer, work: string, runs: number): Promise<void> {
  heading(`Local listing of one backup dir (one round trip; ${runs} warm runs)`);
  const cases: { label: string; backups: number; files: number }[] = [
    { label: '10,000 files (5,000 backups + checksums)', backups: 5_000, files: 10_000 },
    { label: 'a year of hourly backups + checksums', backups: 8_760, files: 17_520 },
  ];
  const rows: string[][] = [];
  for (const c of cases) {
    progress(`local listing: ${c.label}`);
    const server = benchServer(sshd.port, sshd.clientKeyPath, path.join(work, `local-${c.files}`));
    fillDir(server.backupDir, server.name, 'shop', c.backups);
    const pool = benchPool();
    const once = async () => {
      const { listing } = await listServerBackups(
        server,
        DB,
        (script) => pool.run(server, script, { signal: benchAbort.signal, timeoutMs: 60_000 }),
        undefined,
        { schedules: true },
      );
      const n = listing.byDatabase.get('shop')?.length;
      if (n !== c.backups) throw new Error(`listed ${n} backups, expected ${c.backups}`);
    };
    const cold = await timed(once);
    const channels = pool.stats.channels;
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) warm.push((await timed(once)).ms);
    const perListing = (pool.stats.channels - channels) / runs;
    pool.dispose();
    rows.push([
      c.label,
      String(c.files),
      ms(cold.ms),
      ms(median(warm)),
      ms(percentile(warm, 90)),
      String(perListing),
    ]);
    target(
      `${c.files.toLocaleString('en')} files listed in under 1 s, one round trip`,
      median(warm) < 1000 && perListing === 1,
      `warm median ${ms(median(warm))} (goal < 1 s), cold ${ms(cold.ms)} with the SSH connect; ${perListing} channel per listing`,
    );
  }
  if (process.env.INFRAKT_BENCH_BEFORE !== '0') {
    progress('local listing before this change: 2,000 files');
    const server = benchServer(sshd.port, sshd.clientKeyPath, path.join(work, 'local-before'));
    fillDir(server.backupDir, server.name, 'shop', 1_000);
    const pool = benchPool();
    const t = await timed(() =>
      pool.run(server, listScriptBefore(server), { signal: benchAbort.signal, timeoutMs: 120_000 }),
    );
    pool.dispose();
    rows.push(['before this change (shell loop growing "$@")', '2000', ms(t.ms), '—', '—', '1']);
  }
  console.log(
    table([['backup dir', 'files', 'cold (1st)', 'warm median', 'warm p90', 'channels/listing'], ...rows]),
  );
}

// ----- (2) the TypeScript side --------------------------------------------------

function parseMerge(): void {
  heading('Parse + merge in TypeScript (local lines and S3 listing of one database; 5 runs, median)');
  const server = { name: 'bench-1' };
  const sizes = [10_000, 40_000];
  const result: { items: number; ms: number }[] = [];
  for (const items of sizes) {
    const backups = items / 2;
    const names = Array.from({ length: backups }, (_, i) => hourly('bench-1', 'shop', i));
    const stdout = `${names
      .flatMap((n) => [`@@infrakt:file 5 1764036000 ./${n}`, `@@infrakt:file 80 1764036000 ./${n}.sha256`])
      .join('\n')}\n@@infrakt:localrc 0\n`;
    const keys = names.flatMap((n) => [`infrakt/backups/shop/${n}`, `infrakt/backups/shop/${n}.sha256`]);
    const s3Json = JSON.stringify(
      keys.map((k) => [k, 5, '2026-11-25T02:00:05+00:00']),
      null,
      4,
    );
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      const part = parseLocalPart(stdout, '', server, DB);
      const index = new S3Index();
      index.addListing(s3Json, 'infrakt/backups/');
      const merged = mergeServerBackups(part, server, DB, { state: 'ok', index });
      times.push(performance.now() - t0);
      if (merged.byDatabase.get('shop')?.length !== backups) throw new Error('parse/merge lost backups');
    }
    result.push({ items, ms: median(times) });
  }
  console.log(
    table([
      ['local lines + S3 objects', 'parse + merge', 'per item'],
      ...result.map((r) => [
        `${r.items.toLocaleString('en')} + ${r.items.toLocaleString('en')}`,
        ms(r.ms),
        `${((1000 * r.ms) / (2 * r.items)).toFixed(2)} µs`,
      ]),
    ]),
  );
  const ratio = result[1].ms / result[0].ms;
  target(
    'parse + merge is linear (4× the items ≤ 6× the time)',
    ratio <= 6,
    `${ratio.toFixed(2)}× the time for 4× the items`,
  );
}

// ----- (3) 30 servers sharing one bucket ----------------------------------------

interface Refresh {
  ms: number;
  channels: number;
  awscliRuns: number;
  lister?: string;
}

async function fleet(sshd: SshServer, work: string, runs: number): Promise<void> {
  const count = envInt('INFRAKT_BENCH_SERVERS', 30);
  const perDb = envInt('INFRAKT_BENCH_FLEET_BACKUPS', 50);
  heading(
    `${count} servers sharing one bucket: a tree refresh (${REFRESH_CONCURRENCY} local listings at a time + one shared S3 listing; ${runs} warm runs)`,
  );
  const s3 = await started('s3rver (process)', startS3('bench-listing', { process: true }), (w) =>
    stopS3AndRemove(w),
  );
  const creds: S3Credentials = { settings: s3rverSettings(s3), secretKey: S3RVER_KEY };
  const servers: Server[] = [];
  let databases: ListedDatabase[] = [];
  const tree = path.join(work, 'fleet-s3');
  for (let i = 1; i <= count; i++) {
    const name = `srv${String(i).padStart(2, '0')}`;
    const s = {
      ...benchServer(sshd.port, sshd.clientKeyPath, path.join(work, 'fleet', name), `fleet-${name}`),
      name,
    };
    const fixture = makeBackupFixture(s.backupDir, name, 2, perDb);
    databases = fixture.databases;
    // The same backups in S3, laid out <prefix><db>/<file>.
    for (const f of fs.readdirSync(s.backupDir)) {
      const m = /^srv\d+_(db\d+)_postgres_/.exec(f);
      if (!m || f.includes('.partial')) continue;
      fs.mkdirSync(path.join(tree, m[1]), { recursive: true });
      fs.copyFileSync(path.join(s.backupDir, f), path.join(tree, m[1], f));
    }
    servers.push(s);
  }
  const objects = count * 2 * perDb * 2;
  progress(`uploading ${objects} objects to s3rver (aws s3 sync, local)`);
  const config = path.join(work, 'aws-config');
  fs.writeFileSync(
    config,
    '[default]\ns3 =\n    addressing_style = path\n    max_concurrent_requests = 32\n',
  );
  await shOk(
    `aws --endpoint-url ${s3.endpointUrl} s3 sync --only-show-errors ${q(tree)} s3://${s3.bucket}/${creds.settings.prefix}`,
    {
      ...process.env,
      AWS_ACCESS_KEY_ID: S3RVER_KEY,
      AWS_SECRET_ACCESS_KEY: S3RVER_KEY,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    },
  );
  console.log(
    `one sshd on 127.0.0.1:${sshd.port}, ${count} server rows (own name, backup dir, SSH connection); ${databases.length} databases × ${perDb} backups each, local and in S3 (${objects} objects under s3://${s3.bucket}/${creds.settings.prefix})`,
  );

  const opts = { signal: benchAbort.signal, timeoutMs: 120_000, secrets: [creds.secretKey] };
  let lastLister: Server | undefined;
  const check = (s: Server, l: Awaited<ReturnType<typeof listServerBackups>>['listing']) => {
    if (l.s3.state !== 'ok')
      throw new Error(`${s.name}: S3 ${l.s3.state === 'error' ? l.s3.message : 'off'}`);
    for (const d of databases) {
      const list = l.byDatabase.get(d.name) ?? [];
      if (list.length !== perDb || !list.every((e) => e.location === 'both'))
        throw new Error(`${s.name}/${d.name}: ${list.length} backups, expected ${perDb} in both places`);
    }
  };
  /** One refresh of every server, as the tree's catalog runs it. */
  const refresh = async (pool: ConnectionPool): Promise<Refresh> => {
    const channels = pool.stats.channels;
    const limit = limiter(REFRESH_CONCURRENCY);
    const share = new S3ListingShare<Server>({
      creds,
      prefixes: [creds.settings.prefix],
      run: (s, script) => pool.run(s, script, opts),
      preferred: lastLister ? [lastLister] : [],
    });
    const t = await timed(() =>
      Promise.all(
        servers.map(async (s) => {
          const { listing } = await listServerBackups(
            s,
            databases,
            (script) => limit(() => pool.run(s, script, opts)),
            share,
            { schedules: true },
          );
          check(s, listing);
        }),
      ),
    );
    const outcome = share.outcome;
    if (outcome?.ok) lastLister = servers.find((s) => s.id === outcome.lister.id);
    return {
      ms: t.ms,
      channels: pool.stats.channels - channels,
      awscliRuns: share.attempts,
      lister: lastLister?.name,
    };
  };

  // What an awscli start costs over SSH on this machine (the shim, pyenv, Python).
  const probe = benchPool();
  const awsT = await timed(() => probe.run(servers[0], 'aws --version >/dev/null 2>&1', opts));
  const trueT = await timed(() => probe.run(servers[0], 'true', opts));
  const awsWarm = await timed(() => probe.run(servers[0], 'aws --version >/dev/null 2>&1', opts));
  probe.dispose();
  console.log(
    `one SSH exec of \`true\`: ${ms(trueT.ms)}; of \`aws --version\`: ${ms(awsWarm.ms)} (first: ${ms(awsT.ms)}, with the connect)`,
  );

  progress(`refresh of ${count} servers, cold`);
  const pool = benchPool();
  const cold = await refresh(pool);
  const warm: Refresh[] = [];
  for (let i = 0; i < runs; i++) {
    progress(`refresh of ${count} servers, warm ${i + 1}/${runs}`);
    warm.push(await refresh(pool));
  }

  // One server after a backup on it: only its own prefixes, on itself first.
  const one = servers[0];
  const single: number[] = [];
  for (let i = 0; i < Math.min(runs, 5); i++) {
    const share = new S3ListingShare<Server>({
      creds,
      prefixes: serverS3Prefixes(creds.settings.prefix, one.name, databases),
      run: (s, script) => pool.run(s, script, opts),
      preferred: [one],
    });
    const t = await timed(() =>
      listServerBackups(one, databases, (script) => pool.run(one, script, opts), share, { schedules: true }),
    );
    check(one, t.value.listing);
    single.push(t.ms);
  }

  pool.dispose();

  const w = warm.map((r) => r.ms);
  console.log(
    table([
      ['refresh', 'time', 'channels', 'S3 scripts run', 'awscli starts', 'S3 listed on'],
      // The shared listing is one awscli call (the whole prefix); a server alone lists each of its databases.
      ...[cold, ...warm].map((r, i) => [
        i === 0 ? `all ${count}, cold (${count} SSH connections opened)` : `all ${count}, warm ${i}`,
        ms(r.ms),
        String(r.channels),
        String(r.awscliRuns),
        String(r.awscliRuns),
        r.lister ?? '—',
      ]),
      [
        `one server alone (its ${databases.length} prefixes), warm median`,
        ms(median(single)),
        '2',
        '1',
        String(databases.length),
        one.name,
      ],
    ]),
  );
  console.log(`${count} servers: ${ms(median(w))} warm median, ${ms(cold.ms)} cold (goal ≤ 5 s)`);
  target(
    `${count} servers sharing one bucket refreshed in ≤ 5 s [warm]`,
    median(w) <= 5000,
    `median ${ms(median(w))} over ${runs} (p90 ${ms(percentile(w, 90))})`,
  );
  target(`${count} servers sharing one bucket refreshed in ≤ 5 s [cold]`, cold.ms <= 5000, ms(cold.ms));
  target(
    'one S3 listing per refresh',
    [cold, ...warm].every((r) => r.awscliRuns === 1),
    `S3 scripts per refresh: ${[cold, ...warm].map((r) => r.awscliRuns).join(', ')}`,
  );
}

export async function runListingBench(): Promise<void> {
  const runs = envInt('INFRAKT_BENCH_LISTING_RUNS', 5);
  const sshd = await benchSshd();
  const work = workDir('listing');
  await localDir(sshd, work, runs);
  parseMerge();
  await fleet(sshd, work, runs);
}
