// Backup benchmark against a real PostgreSQL: for an incompressible database
// (random bytes in a bytea column) and a compressible one (pgbench -i), side by
// side,
//   (a) pg_dump -Fc -Z0 > /dev/null      what the database can deliver (the limit)
//   (b) pg_dump -Fc > file               the naive way (zlib inside pg_dump)
//   (c) infrakt's Back Up Now            backUpNow over the product's SSH pool
//                                        into a real sshd: script start → file
//                                        renamed, .sha256 written
// with times and file sizes; then, on the incompressible database, the same
// three with a copy in S3 (s3rver, in this Node process, with the awscli the
// server's shell finds):
//   (a) pg_dump -Fc -Z0 > /dev/null, plus aws s3 cp of a file of (c)'s backup's size
//   (b) pg_dump -Fc > file; aws s3 cp file s3://…           (the seed's way)
//   (c) Back Up Now with the S3 sink, as the Back Up Now command builds it
// and last the tree's listing of a server with 10 databases × 20 backups
// (time, channels).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type BackupTarget, CHECKSUM_EXT, backUpNow, backupScript, forServer } from '../src/core/backup';
import { shellQuote as q } from '../src/core/remote/script';
import { newIdentity } from '../src/core/backup/encryption';
import { awsShell as productAwsShell } from '../test/support/aws';
import type { Server } from '../src/core/model';
import { s3Key } from '../src/core/s3/layout';
import { type S3Credentials, s3UploadSink } from '../src/core/s3/scripts';
import { type Postgres, hostDatabase, startPostgres } from '../test/world/databases';
import { type S3World, s3rverSettings, startS3, stopS3AndRemove } from '../test/world/s3';
import {
  benchAbort,
  benchServer,
  envInt,
  heading,
  makeBackupFixture,
  mb,
  mbps,
  median,
  ms,
  started,
  percentile,
  sh,
  shOk,
  table,
  target,
  timed,
  workDir,
} from './common';
import { benchPool, benchProxy, benchSshd, PROXY_DELAY_MS, testConnection, treeRefresh } from './ssh';
import type { ConnectionPool } from '../src/ssh/connectionPool';

const PG_BIN = '/usr/lib/postgresql/15/bin';

function progress(text: string): void {
  process.stderr.write(`  … ${text}\n`);
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

async function pgbenchPath(): Promise<string> {
  const r = await sh('command -v pgbench');
  if (r.code === 0 && r.stdout.trim()) return r.stdout.trim();
  if (fs.existsSync(`${PG_BIN}/pgbench`)) return `${PG_BIN}/pgbench`;
  throw new Error('pgbench not found (postgresql-contrib / the postgres bin dir)');
}

/** ~`megabytes` MB of random bytes: 1 KiB rows, stored as they are (no TOAST compression attempt). */
export async function fillIncompressible(pg: Postgres, db: string, megabytes: number): Promise<string> {
  pg.createDatabase(db);
  const rows = megabytes * 1024;
  let how: string;
  try {
    pg.sql('CREATE EXTENSION pgcrypto', db);
    how = 'pgcrypto gen_random_bytes(1024)';
  } catch {
    how = 'random() (no pgcrypto)';
  }
  const bytes =
    how === 'pgcrypto gen_random_bytes(1024)'
      ? 'gen_random_bytes(1024)'
      : "decode((SELECT string_agg(lpad(to_hex((random() * 4294967295)::bigint), 8, '0'), '') FROM generate_series(1, 256) WHERE g > 0), 'hex')";
  pg.sql(
    [
      'CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)',
      'ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL',
      // In slices, so no single statement holds the whole table in memory.
      ...Array.from({ length: Math.ceil(rows / 65_536) }, (_, i) => {
        const from = i * 65_536 + 1;
        const to = Math.min(rows, (i + 1) * 65_536);
        return `INSERT INTO blobs SELECT g, ${bytes} FROM generate_series(${from}, ${to}) g`;
      }),
      'VACUUM ANALYZE blobs',
      'CHECKPOINT',
    ].join(';\n') + ';',
    db,
  );
  return `${rows} rows × 1 KiB random bytea (${how})`;
}

/** pgbench -i at a scale of about `megabytes` MB on disk (scale 1 ≈ 15 MB). */
export async function fillCompressible(pg: Postgres, db: string, megabytes: number): Promise<string> {
  pg.createDatabase(db);
  const scale = Math.max(1, Math.round(megabytes / 15));
  const pgbench = await pgbenchPath();
  await shOk(`${pgbench} -i -q -s ${scale} -h 127.0.0.1 -p ${pg.port} -U postgres ${db}`, {
    ...process.env,
    PGPASSWORD: pg.password,
  });
  pg.sql('CHECKPOINT', db);
  return `pgbench -i -s ${scale}`;
}

interface MethodResult {
  times: number[];
  size: number;
}

interface DbResult {
  db: string;
  kind: 'incompressible' | 'compressible';
  what: string;
  dbBytes: number;
  rawDump: number;
  a: MethodResult;
  b: MethodResult;
  c: MethodResult & { compression: string; verified: boolean };
  /** (c) encrypted with age to a recipient (the same run, interleaved). */
  d: MethodResult;
  /** (c)'s data path piece by piece, run locally without SSH or the script (one run each). */
  breakdown: { label: string; ms: number; size?: number }[];
}

function pgTarget(pg: Postgres, server: Server, db: string): BackupTarget {
  return {
    server: { name: server.name, backupDir: server.backupDir },
    database: hostDatabase(pg, db),
    password: { kind: 'inline', password: pg.password },
  };
}

/** The compressor command Back Up Now's script picks when zstd is installed (read from the script). */
function productCompressor(target: BackupTarget): string {
  const m = /infrakt_comp="(zstd [^"]*)"/.exec(backupScript(target));
  if (!m) throw new Error('cannot find the zstd command in the backup script');
  return m[1];
}

async function benchDatabase(
  pg: Postgres,
  pool: ConnectionPool,
  server: Server,
  work: string,
  db: string,
  kind: DbResult['kind'],
  what: string,
  repeat: number,
): Promise<DbResult> {
  const env = { ...process.env, PGPASSWORD: pg.password };
  const conn = `-h 127.0.0.1 -p ${pg.port} -U postgres -d ${db}`;
  const dbBytes = Number(pg.sql(`SELECT pg_database_size('${db}')`).trim());
  progress(`${db}: raw dump size (untimed; also warms the cache)`);
  const rawDump = Number((await shOk(`pg_dump -Fc -Z0 ${conn} | wc -c`, env)).stdout.trim());
  const naive = path.join(work, `${db}.naive.dump`);
  const target = pgTarget(pg, server, db);
  const r: DbResult = {
    db,
    kind,
    what,
    dbBytes,
    rawDump,
    a: { times: [], size: 0 },
    b: { times: [], size: 0 },
    c: { times: [], size: 0, compression: '', verified: false },
    d: { times: [], size: 0 },
    breakdown: [],
  };
  const { recipient } = await newIdentity();
  // Interleaved, so drift (page cache, writeback, other load) spreads over all three.
  for (let i = 1; i <= repeat; i++) {
    await sh('sync');
    progress(`${db}: (a) pg_dump -Fc -Z0 > /dev/null  ${i}/${repeat}`);
    r.a.times.push((await shOk(`pg_dump -Fc -Z0 ${conn} > /dev/null`, env)).ms);

    await sh('sync');
    progress(`${db}: (b) pg_dump -Fc > file  ${i}/${repeat}`);
    r.b.times.push((await shOk(`pg_dump -Fc ${conn} > ${naive}`, env)).ms);
    r.b.size = fs.statSync(naive).size;
    fs.rmSync(naive);

    await sh('sync');
    progress(`${db}: (c) Back Up Now over SSH  ${i}/${repeat}`);
    const c = await timed(() => backUpNow(forServer(pool, server), target, { signal: benchAbort.signal }));
    r.c.times.push(c.ms);
    const file = path.join(c.value.dir, c.value.file);
    const sumFile = `${file}${CHECKSUM_EXT}`;
    if (!fs.existsSync(file) || !fs.existsSync(sumFile) || fs.existsSync(`${file}.partial`))
      throw new Error(`Back Up Now did not leave ${file} and its ${CHECKSUM_EXT} (and no .partial)`);
    r.c.size = fs.statSync(file).size;
    r.c.compression = c.value.compression;
    if (i === 1) {
      // Untimed: the file hashes to what the script wrote next to it.
      const recorded = fs.readFileSync(sumFile, 'utf8').slice(0, 64);
      r.c.verified = recorded === c.value.sha256 && (await sha256File(file)) === recorded;
    }
    fs.rmSync(file);
    fs.rmSync(sumFile);

    await sh('sync');
    progress(`${db}: (d) Back Up Now encrypted with age  ${i}/${repeat}`);
    const d = await timed(() =>
      backUpNow(forServer(pool, server), target, { signal: benchAbort.signal, encryptTo: recipient }),
    );
    r.d.times.push(d.ms);
    const dFile = path.join(d.value.dir, d.value.file);
    if (!dFile.endsWith('.age')) throw new Error(`(d) did not encrypt: ${dFile}`);
    r.d.size = fs.statSync(dFile).size;
    fs.rmSync(dFile);
    fs.rmSync(`${dFile}${CHECKSUM_EXT}`);
  }
  if (process.env.INFRAKT_BENCH_BREAKDOWN !== '0') {
    // Where (c)'s time goes: the same stages as the script, as a plain pipeline here.
    const zstd = productCompressor(target);
    const before = zstd.replace(/ -1 /, ' -3 ');
    const adapt = zstd.replace(/ -1 /, ' --adapt ');
    const out = path.join(work, `${db}.stage`);
    const stages: [string, string, boolean][] = [
      [`dump | ${zstd} > /dev/null`, `pg_dump -Fc -Z0 ${conn} | ${zstd} > /dev/null`, false],
      [`dump | sha256sum > /dev/null`, `pg_dump -Fc -Z0 ${conn} | sha256sum > /dev/null`, false],
      [`dump > file`, `pg_dump -Fc -Z0 ${conn} > ${out}`, true],
      [
        `dump | ${zstd} | tee file | sha256sum  ((c)'s data path)`,
        `pg_dump -Fc -Z0 ${conn} | ${zstd} | tee ${out} | sha256sum > /dev/null`,
        true,
      ],
      [
        `dump | ${before} | tee file | sha256sum  (level before this change)`,
        `pg_dump -Fc -Z0 ${conn} | ${before} | tee ${out} | sha256sum > /dev/null`,
        true,
      ],
      [
        `dump | ${adapt} | tee file | sha256sum`,
        `pg_dump -Fc -Z0 ${conn} | ${adapt} | tee ${out} | sha256sum > /dev/null`,
        true,
      ],
      // The fallback without zstd (deflate): which level. On random bytes deflate
      // runs at ~15 MB/s at any level, so only the compressible database is timed.
      ...(kind === 'compressible'
        ? (['-1', '-6'].map((l) => [
            `dump | gzip ${l} -c > file  (fallback${l === '-6' ? ', gzip default' : ''})`,
            `pg_dump -Fc -Z0 ${conn} | gzip ${l} -c > ${out}`,
            true,
          ]) as [string, string, boolean][])
        : []),
      [
        `dump | ${zstd} | tee file | openssl dgst -sha256`,
        `pg_dump -Fc -Z0 ${conn} | ${zstd} | tee ${out} | openssl dgst -sha256 > /dev/null`,
        true,
      ],
    ];
    for (const [label, cmd, writes] of stages) {
      await sh('sync');
      progress(`${db}: breakdown: ${label}`);
      const x = await shOk(cmd, env);
      r.breakdown.push({ label, ms: x.ms, size: writes ? fs.statSync(out).size : undefined });
      fs.rmSync(out, { force: true });
    }
  }
  return r;
}

/** What one backup costs besides the data: an almost empty database, (a) and (c). */
async function fixedCost(pg: Postgres, pool: ConnectionPool, server: Server, repeat: number): Promise<void> {
  const db = 'tiny';
  pg.createDatabase(db);
  pg.sql('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)', db);
  const env = { ...process.env, PGPASSWORD: pg.password };
  const a: number[] = [];
  const c: number[] = [];
  for (let i = 1; i <= Math.max(3, repeat); i++) {
    progress(`${db}: fixed cost ${i}`);
    a.push(
      (await shOk(`pg_dump -Fc -Z0 -h 127.0.0.1 -p ${pg.port} -U postgres -d ${db} > /dev/null`, env)).ms,
    );
    const t = await timed(() =>
      backUpNow(forServer(pool, server), pgTarget(pg, server, db), { signal: benchAbort.signal }),
    );
    c.push(t.ms);
    fs.rmSync(path.join(t.value.dir, t.value.file));
    fs.rmSync(path.join(t.value.dir, `${t.value.file}${CHECKSUM_EXT}`));
  }
  heading('Fixed cost of one backup (a 1-row database)');
  console.log(
    `(a) pg_dump -Fc -Z0 > /dev/null: median ${ms(median(a))} (${a.map(ms).join(' / ')}); (c) Back Up Now over SSH: median ${ms(median(c))} (${c.map(ms).join(' / ')})`,
  );
}

function report(r: DbResult): void {
  const a = median(r.a.times);
  const b = median(r.b.times);
  const c = median(r.c.times);
  heading(`${r.db}: ${r.kind} — ${r.what}`);
  console.log(`database size ${mb(r.dbBytes)}; uncompressed custom-format dump ${mb(r.rawDump)}`);
  const row = (label: string, m: MethodResult, size: string) => [
    label,
    ms(median(m.times)),
    m.times.map((t) => ms(t)).join(' / '),
    mbps(r.rawDump, median(m.times)),
    size,
    (median(m.times) / a).toFixed(2),
  ];
  console.log(
    table([
      ['method', 'median', 'runs', 'dump rate', 'file size', '× (a)'],
      row('(a) pg_dump -Fc -Z0 > /dev/null', r.a, '—'),
      row('(b) pg_dump -Fc > file', r.b, `${mb(r.b.size)} (${((100 * r.b.size) / r.rawDump).toFixed(1)} %)`),
      row(
        `(c) Back Up Now (${r.c.compression}, over SSH)`,
        r.c,
        `${mb(r.c.size)} (${((100 * r.c.size) / r.rawDump).toFixed(1)} %)`,
      ),
    ]),
  );
  console.log(
    `(c) file + .sha256 committed, no .partial left; sha256 of the file matches its .sha256: ${r.c.verified ? 'yes' : 'NO'}`,
  );
  const d = median(r.d.times);
  console.log(
    table([
      ['method', 'median', 'runs', 'file size', '× (c)'],
      [
        '(d) Back Up Now encrypted with age (.age)',
        ms(d),
        r.d.times.map((t) => ms(t)).join(' / '),
        mb(r.d.size),
        (d / c).toFixed(2),
      ],
    ]),
  );
  target(
    `(d) ≤ 1.15 × (c) [${r.kind}]`,
    d <= 1.15 * c,
    `${ms(d)} vs 1.15 × ${ms(c)} = ${ms(1.15 * c)}; ${(d / c).toFixed(2)}×`,
  );
  if (r.breakdown.length) {
    console.log(
      `where (c)'s time goes — its stages as a local pipeline, 1 run each (dump = pg_dump -Fc -Z0):`,
    );
    console.log(
      table([
        ['pipeline', 'time', 'dump rate', 'file size', '× (a)'],
        ...r.breakdown.map((x) => [
          x.label,
          ms(x.ms),
          mbps(r.rawDump, x.ms),
          x.size === undefined ? '—' : mb(x.size),
          (x.ms / a).toFixed(2),
        ]),
      ]),
    );
  }
  target(
    `(c) ≤ 2 × (a) [${r.kind}]`,
    c <= 2 * a,
    `${ms(c)} vs 2 × ${ms(a)} = ${ms(2 * a)}; ${(c / a).toFixed(2)}×`,
  );
  if (r.kind === 'incompressible') {
    target(
      `(c) ≤ 0.2 × (b) [${r.kind}]`,
      c <= 0.2 * b,
      `${ms(c)} vs 0.2 × ${ms(b)} = ${ms(0.2 * b)}; ${(c / b).toFixed(3)}×`,
    );
  } else {
    target(
      `(c)'s file no larger than (b)'s [${r.kind}]`,
      r.c.size <= r.b.size,
      `${mb(r.c.size)} vs ${mb(r.b.size)}; ${(r.c.size / r.b.size).toFixed(3)}×`,
    );
  }
}

// ----- with a copy in S3 -------------------------------------------------------

interface S3Bench {
  db: string;
  aws: string;
  rawDump: number;
  limitBytes: number;
  /** (a) in two parts, per run: the dump to /dev/null, then the upload of `limitBytes` random bytes. */
  aDump: number[];
  aUpload: number[];
  b: number[];
  c: number[];
  /** CPU time of this Node process during each run (ms): s3rver runs in it; the rest is idle or the SSH client. */
  cpu: { a: number[]; b: number[]; c: number[] };
  bSize: number;
  cSize: number;
  verified: boolean;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** The incompressible database backed up three ways, each with its copy in s3rver. */
async function benchS3(
  pg: Postgres,
  pool: ConnectionPool,
  server: Server,
  work: string,
  s3: S3World,
  db: string,
  rawDump: number,
  /** What must reach S3 at least: the size of Back Up Now's file (bytea dumps as hex, which zstd halves). */
  limitBytes: number,
  repeat: number,
): Promise<S3Bench> {
  const creds: S3Credentials = {
    settings: s3rverSettings(s3),
    secretKey: 'S3RVER',
  };
  // The awscli the server's shell finds (over SSH PATH may differ from ours): (a) and (b) use the same one.
  const found = await pool.run(server, 'command -v aws && aws --version 2>&1 | head -n1', {
    signal: benchAbort.signal,
    timeoutMs: 60_000,
  });
  if (found.code !== 0) throw new Error(`no awscli over SSH: ${found.stderr.trim()}`);
  const [awsPath, awsVersion] = found.stdout.trim().split('\n');
  // The same config, credentials and `awsx` the product's scripts use, with that aws.
  const awsShell = (body: string) => productAwsShell(creds, `set -e\naws() { ${q(awsPath)} "$@"; }\n${body}`);
  const env = { ...process.env, PGPASSWORD: pg.password };
  const conn = `-h 127.0.0.1 -p ${pg.port} -U postgres -d ${db}`;
  const emptyBucket = () =>
    shOk(awsShell('awsx s3 rm --only-show-errors --recursive "s3://$infrakt_bucket/"'));
  const limitFile = path.join(work, 'limit.bin');
  progress(`${db}: S3: a ${mb(limitBytes)} file of random bytes for (a)'s upload (untimed)`);
  await shOk(`head -c ${limitBytes} /dev/urandom > ${limitFile}`);
  const naive = path.join(work, `${db}.naive-s3.dump`);
  const r: S3Bench = {
    db,
    aws: `${awsPath}: ${awsVersion}`,
    rawDump,
    limitBytes,
    aDump: [],
    aUpload: [],
    b: [],
    c: [],
    cpu: { a: [], b: [], c: [] },
    bSize: 0,
    cSize: 0,
    verified: false,
  };
  for (let i = 1; i <= repeat; i++) {
    await sh('sync');
    progress(`${db}: S3 (a) pg_dump -Fc -Z0 > /dev/null; aws s3 cp ${mb(limitBytes)} file  ${i}/${repeat}`);
    let cpu = process.cpuUsage();
    r.aDump.push((await shOk(`pg_dump -Fc -Z0 ${conn} > /dev/null`, env)).ms);
    r.aUpload.push(
      (
        await shOk(
          awsShell(`awsx s3 cp --only-show-errors ${q(limitFile)} "s3://$infrakt_bucket/bench/limit.bin"`),
        )
      ).ms,
    );
    r.cpu.a.push(cpuMs(cpu));
    await emptyBucket();

    await sh('sync');
    progress(`${db}: S3 (b) pg_dump -Fc > file; aws s3 cp file  ${i}/${repeat}`);
    cpu = process.cpuUsage();
    r.b.push(
      (
        await shOk(
          awsShell(
            `pg_dump -Fc ${conn} > ${q(naive)}\nawsx s3 cp --only-show-errors ${q(naive)} "s3://$infrakt_bucket/bench/naive.dump"`,
          ),
          env,
        )
      ).ms,
    );
    r.cpu.b.push(cpuMs(cpu));
    r.bSize = fs.statSync(naive).size;
    fs.rmSync(naive);
    await emptyBucket();

    await sh('sync');
    progress(`${db}: S3 (c) Back Up Now with the S3 sink, over SSH  ${i}/${repeat}`);
    cpu = process.cpuUsage();
    // What the Back Up Now command passes when S3 is configured (src/ui/commands/backup.ts).
    const c = await timed(() =>
      backUpNow(forServer(pool, server), pgTarget(pg, server, db), {
        extraSinks: [s3UploadSink(creds, db)],
        signal: benchAbort.signal,
      }),
    );
    r.cpu.c.push(cpuMs(cpu));
    r.c.push(c.ms);
    if (c.value.failedSinks.length)
      throw new Error(`the S3 upload failed: ${c.value.failedSinks.join(', ')}`);
    const file = path.join(c.value.dir, c.value.file);
    r.cSize = c.value.size;
    if (i === 1) {
      // Untimed: the object s3rver stored is the local file, byte for byte, and its .sha256 is there.
      const key = s3Key(creds.settings.prefix, db, c.value.file);
      const object = path.join(s3.directory, s3.bucket, `${key}._S3rver_object`);
      r.verified =
        fs.existsSync(object) &&
        (await sha256File(object)) === c.value.sha256 &&
        (await sha256File(file)) === c.value.sha256 &&
        s3.readObject(`${key}${CHECKSUM_EXT}`)?.toString() === `${c.value.sha256}  ${c.value.file}\n`;
    }
    fs.rmSync(file);
    fs.rmSync(`${file}${CHECKSUM_EXT}`);
    await emptyBucket();
  }
  fs.rmSync(limitFile);
  return r;
}

function reportS3(r: S3Bench): void {
  const a = r.aDump.map((d, i) => d + r.aUpload[i]);
  const am = median(a);
  const bm = median(r.b);
  const cm = median(r.c);
  heading(`${r.db}: with a copy in S3 (s3rver on this machine; ${r.aws})`);
  console.log(
    `s3rver runs inside this bench's Node process on the same ${os.cpus().length} cores: it competes with pg_dump, zstd, sha256sum, sshd and awscli for CPU. Its CPU (this process's, mostly s3rver) is shown per method.`,
  );
  const row = (label: string, times: number[], cpu: number[], size: string) => [
    label,
    ms(median(times)),
    times.map(ms).join(' / '),
    mbps(r.rawDump, median(times)),
    size,
    (median(times) / am).toFixed(2),
    (median(times) / bm).toFixed(3),
    `${ms(median(cpu))} (${((100 * median(cpu)) / median(times)).toFixed(0)} % of a core)`,
  ];
  console.log(
    table([
      ['method', 'median', 'runs', 'dump rate', 'uploaded', '× (a)', '× (b)', 's3rver CPU'],
      row(`(a) pg_dump -Fc -Z0 > /dev/null, + aws s3 cp file`, a, r.cpu.a, mb(r.limitBytes)),
      row(`(b) pg_dump -Fc > file; aws s3 cp file`, r.b, r.cpu.b, mb(r.bSize)),
      row(`(c) Back Up Now + S3 sink (over SSH)`, r.c, r.cpu.c, mb(r.cSize)),
    ]),
  );
  console.log(
    `(a) in parts: dump ${r.aDump.map(ms).join(' / ')} (median ${ms(median(r.aDump))}); upload ${r.aUpload.map(ms).join(' / ')} (median ${ms(median(r.aUpload))}, ${mbps(r.limitBytes, median(r.aUpload))}); the file is as large as (c)'s backup (${mb(r.limitBytes)}), the least any method must send, where the uncompressed dump is ${mb(r.rawDump)} (bytea as hex)`,
  );
  console.log(
    `(c) the S3 object is the local file byte for byte, and its .sha256 object is there: ${r.verified ? 'yes' : 'NO'}`,
  );
  target(
    `(c)+S3 ≤ 0.3 × (b)+S3 [incompressible]`,
    cm <= 0.3 * bm,
    `${ms(cm)} vs 0.3 × ${ms(bm)} = ${ms(0.3 * bm)}; ${(cm / bm).toFixed(3)}×`,
  );
  target(
    `(c)+S3 ≤ 1.5 × (a)+S3 [incompressible]`,
    cm <= 1.5 * am,
    `${ms(cm)} vs 1.5 × ${ms(am)} = ${ms(1.5 * am)}; ${(cm / am).toFixed(2)}×`,
  );
}

async function benchListing(
  pool: ConnectionPool,
  server: Server,
  runs: number,
  label: string,
): Promise<void> {
  const fixture = makeBackupFixture(server.backupDir, server.name, 10, 20);
  const before = { ...pool.stats };
  const cold = await timed(() => treeRefresh(pool, server, fixture.databases));
  const count = [...cold.value.byDatabase.values()].reduce((n, l) => n + l.length, 0);
  const withSum = [...cold.value.byDatabase.values()].flat().filter((e) => e.hasChecksum).length;
  const warm: number[] = [];
  for (let i = 0; i < runs; i++)
    warm.push((await timed(() => treeRefresh(pool, server, fixture.databases))).ms);
  const channels = pool.stats.channels - before.channels;
  const perListing = channels / (runs + 1);
  console.log(
    `${label}: ${count} backups listed (${withSum} with checksum) from ${fixture.files + 2} files; first listing ${ms(cold.ms)} (${pool.stats.connections - before.connections} connection opened), then median ${ms(median(warm))}, p90 ${ms(percentile(warm, 90))} over ${runs}; ${channels} channels for ${runs + 1} listings`,
  );
  if (count !== 200 || withSum !== 200)
    throw new Error(`expected 200 backups with checksums, got ${count}/${withSum}`);
  target(
    `tree listing of 10 databases × 20 backups uses 1 channel [${label}]`,
    perListing === 1,
    `${perListing} per listing`,
  );
}

export async function runBackupBench(): Promise<void> {
  const megabytes = envInt('INFRAKT_BENCH_MB', 500);
  const repeat = envInt('INFRAKT_BENCH_REPEAT', 3);
  const runs = envInt('INFRAKT_BENCH_RUNS', 20);
  heading(
    `Back Up Now vs pg_dump (PostgreSQL 15, ~${megabytes} MB per database, ${repeat} runs each, median)`,
  );
  const work = workDir('backup');
  const sshd = await benchSshd();
  const pg = await started('postgres', startPostgres(), (p) => p.stop());
  const pool = benchPool();
  const server = benchServer(sshd.port, sshd.clientKeyPath, path.join(work, 'backups'));
  const probe = await testConnection(pool, server); // the connection is open before any timing
  const tools = await sh(
    'pg_dump --version; zstd --version 2>/dev/null | head -n1; sha256sum --version | head -n1; nproc',
  );
  console.log(`machine: ${os.cpus()[0]?.model ?? '?'}; ${probe.os}`);
  console.log(`tools: ${tools.stdout.trim().split('\n').join(' | ')} (cores)`);

  progress(`generating ~${megabytes} MB of random bytes`);
  const gen1 = await timed(() => fillIncompressible(pg, 'random', megabytes));
  progress(`generating pgbench data`);
  const gen2 = await timed(() => fillCompressible(pg, 'pgbench', megabytes));
  console.log(`data: random = ${gen1.value} in ${ms(gen1.ms)}; pgbench = ${gen2.value} in ${ms(gen2.ms)}`);

  const results = [
    await benchDatabase(pg, pool, server, work, 'random', 'incompressible', gen1.value, repeat),
    await benchDatabase(pg, pool, server, work, 'pgbench', 'compressible', gen2.value, repeat),
  ];
  for (const r of results) report(r);
  if (process.env.INFRAKT_BENCH_S3 !== '0') {
    const s3 = await started('s3rver', startS3('infrakt-bench'), (w) => stopS3AndRemove(w));
    reportS3(
      await benchS3(pg, pool, server, work, s3, 'random', results[0].rawDump, results[0].c.size, repeat),
    );
  }
  await fixedCost(pg, pool, server, repeat);

  heading('Tree refresh of a server with 10 databases × 20 backups');
  await benchListing(
    benchPool(),
    benchServer(sshd.port, sshd.clientKeyPath, path.join(work, 'listing'), 'listing-direct'),
    runs,
    'direct',
  );
  const proxy = await benchProxy(sshd.port);
  await benchListing(
    benchPool(),
    benchServer(proxy.port, sshd.clientKeyPath, path.join(work, 'listing-proxy'), 'listing-proxy'),
    runs,
    `+${PROXY_DELAY_MS}ms/way`,
  );
}
