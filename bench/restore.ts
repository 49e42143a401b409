// Restore benchmark against a real PostgreSQL: for the incompressible and the
// compressible database (as the backup bench fills them), side by side,
//   (limit)  pg_restore of the same dump from a local file (pg_dump -Fc -Z0), no network
//   (local)  infrakt's restore of a backup on the server (restoreBackup over the SSH pool)
//   (S3)     infrakt's restore of an S3-only backup: streamed from S3 into pg_restore, hashed on the way
//   (dl)     a bare download of the same object (aws s3 cp … - > /dev/null), for the S3 goal
// Goals: local ≤ 1.3 × limit; S3 ≤ 1.5 × (limit + bare download).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type BackupTarget, backUpNow, forServer, restoreBackup } from '../src/core/backup';
import { shellQuote as q } from '../src/core/remote/script';
import { s3Key } from '../src/core/s3/layout';
import { type S3Credentials, s3UploadSink } from '../src/core/s3/scripts';
import { awsShell as productAwsShell } from '../test/support/aws';
import { hostDatabase, startPostgres } from '../test/world/databases';
import { s3rverSettings, startS3, stopS3AndRemove } from '../test/world/s3';
import { fillCompressible, fillIncompressible } from './backup';
import {
  benchAbort,
  benchServer,
  envInt,
  heading,
  loadNote,
  mb,
  mbps,
  median,
  ms,
  sh,
  shOk,
  started,
  table,
  target as goal,
  timed,
  workDir,
} from './common';
import { benchPool, benchSshd, testConnection } from './ssh';

function progress(text: string): void {
  process.stderr.write(`  … ${text}\n`);
}

export async function runRestoreBench(): Promise<void> {
  const megabytes = envInt('INFRAKT_BENCH_MB', 500);
  const repeat = envInt('INFRAKT_BENCH_REPEAT', 3);
  heading(
    `Restore vs pg_restore (PostgreSQL 15, ~${megabytes} MB per database, ${repeat} runs each, median)`,
  );
  console.log(`load: ${loadNote()}`);
  const work = workDir('restore');
  const sshd = await benchSshd();
  const pg = await started('postgres', startPostgres(), (p) => p.stop());
  const s3 = await started('s3rver', startS3('infrakt-bench-restore'), (w) => stopS3AndRemove(w));
  const pool = benchPool();
  const server = benchServer(sshd.port, sshd.clientKeyPath, path.join(work, 'backups'));
  await testConnection(pool, server);
  const creds: S3Credentials = { settings: s3rverSettings(s3), secretKey: 'S3RVER' };
  const found = await pool.run(server, 'command -v aws', { signal: benchAbort.signal, timeoutMs: 60_000 });
  const awsPath = found.stdout.trim().split('\n')[0];
  const awsShell = (body: string) => productAwsShell(creds, `set -e\naws() { ${q(awsPath)} "$@"; }\n${body}`);
  const env = { ...process.env, PGPASSWORD: pg.password };

  progress(`generating ~${megabytes} MB of random bytes and pgbench data`);
  const dbs = [
    { db: 'random', kind: 'incompressible', what: await fillIncompressible(pg, 'random', megabytes) },
    { db: 'pgbench', kind: 'compressible', what: await fillCompressible(pg, 'pgbench', megabytes) },
  ];
  const rows: string[][] = [['database', 'method', 'median', 'runs', 'throughput (dump bytes)', 'vs limit']];
  for (const { db, kind, what } of dbs) {
    const into = `${db}_restored`;
    pg.createDatabase(into);
    const target: BackupTarget = {
      server: { name: server.name, backupDir: server.backupDir },
      database: hostDatabase(pg, into),
      password: { kind: 'inline', password: pg.password },
    };
    const source: BackupTarget = { ...target, database: hostDatabase(pg, db) };
    progress(`${db}: the backup (local + S3) and the limit's dump file (untimed)`);
    const b = await backUpNow(forServer(pool, server), source, {
      extraSinks: [s3UploadSink(creds, db)],
      signal: benchAbort.signal,
    });
    const dumpFile = path.join(work, `${db}.dump`);
    await shOk(`pg_dump -Fc -Z0 -h 127.0.0.1 -p ${pg.port} -U postgres -d ${db} > ${q(dumpFile)}`, env);
    const dumpBytes = fs.statSync(dumpFile).size;
    const conn = `-h 127.0.0.1 -p ${pg.port} -U postgres -d ${into}`;
    const key = s3Key(creds.settings.prefix, db, b.file);
    const t = { limit: [] as number[], local: [] as number[], s3: [] as number[], dl: [] as number[] };
    // Interleaved, so drift (page cache, other load) spreads over all of them.
    for (let i = 1; i <= repeat; i++) {
      await sh('sync');
      progress(`${db}: (limit) pg_restore < file  ${i}/${repeat}`);
      t.limit.push(
        (
          await shOk(
            `pg_restore --clean --if-exists --no-owner --single-transaction ${conn} < ${q(dumpFile)}`,
            env,
          )
        ).ms,
      );
      await sh('sync');
      progress(`${db}: (local) restore of the backup on the server  ${i}/${repeat}`);
      t.local.push(
        (
          await timed(() =>
            restoreBackup(forServer(pool, server), target, b.file, { signal: benchAbort.signal }),
          )
        ).ms,
      );
      await sh('sync');
      progress(`${db}: (S3) restore streamed from S3  ${i}/${repeat}`);
      t.s3.push(
        (
          await timed(() =>
            restoreBackup(forServer(pool, server), target, b.file, {
              signal: benchAbort.signal,
              source: { kind: 's3', access: creds, databaseName: db },
            }),
          )
        ).ms,
      );
      progress(`${db}: (dl) bare download of the object  ${i}/${repeat}`);
      t.dl.push(
        (await shOk(awsShell(`awsx s3 cp --only-show-errors "s3://$infrakt_bucket/"${q(key)} - > /dev/null`)))
          .ms,
      );
    }
    const m = { limit: median(t.limit), local: median(t.local), s3: median(t.s3), dl: median(t.dl) };
    const label = `${db} (${kind}: ${what}; dump ${mb(dumpBytes)}, backup ${mb(b.size)})`;
    const row = (method: string, xs: number[], x: number, ratio: string) => [
      label,
      method,
      ms(x),
      xs.map(ms).join(' '),
      mbps(dumpBytes, x),
      ratio,
    ];
    rows.push(row('(limit) pg_restore < local file (-Z0)', t.limit, m.limit, '1.00×'));
    rows.push(
      row(
        '(local) Restore of the backup on the server',
        t.local,
        m.local,
        `${(m.local / m.limit).toFixed(2)}×`,
      ),
    );
    rows.push(row('(dl) aws s3 cp of the backup to /dev/null', t.dl, m.dl, ''));
    rows.push(
      row(
        '(S3) Restore streamed from S3',
        t.s3,
        m.s3,
        `${(m.s3 / (m.limit + m.dl)).toFixed(2)}× (limit + dl)`,
      ),
    );
    goal(
      `restore from local ≤ 1.3× limit (${db})`,
      m.local <= 1.3 * m.limit,
      `${(m.local / m.limit).toFixed(2)}×`,
    );
    goal(
      `restore from S3 ≤ 1.5× (limit + download) (${db})`,
      m.s3 <= 1.5 * (m.limit + m.dl),
      `${(m.s3 / (m.limit + m.dl)).toFixed(2)}×`,
    );
    fs.rmSync(dumpFile, { force: true });
  }
  console.log(table(rows));
  console.log(`load after: ${loadNote()}`);
}
