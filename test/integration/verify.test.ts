// Verify Backup on real parts: the pooled ssh2 transport into a real sshd,
// real PostgreSQL 15, MariaDB and Redis 7 started by the test world, a real
// SQLite file, real age. A seeded database is backed up (its counts recorded
// beside the backup), then restored into a throwaway target and counted.
// Faults are real files: a dump whose data stage was cut, a backup of an
// empty database. After success, failure and cancel (at 0 ms and mid-run) no
// scratch database, spare redis-server or temp dir is left.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as age from 'age-encryption';
import {
  type BackupTarget,
  BackupError,
  backUpNow,
  backupFilename,
  forServer,
  parseBackupName,
  restoreBackup,
} from '../../src/core/backup';
import { type VerifyResult, verifyBackup } from '../../src/core/backup/verify';
import { findOnPath, localRestoreTools, runLocalRestore } from '../../src/core/backup/localRestore';
import { shellQuote as q } from '../../src/core/remote/script';
import { makeBin } from '../support/stubBin';
import { parseVerifications, verificationText } from '../../src/core/backup/verification';
import { localListingScript } from '../../src/core/backup/serverListing';
import type { Server } from '../../src/core/model';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { keyServer, testEnv } from '../support/sshEnv';
import {
  type MariaDb,
  type Postgres,
  type Redis,
  hostDatabase,
  startMariaDb,
  startPostgres,
  startRedis,
  until,
} from '../world/databases';
import { startSshServer, type SshServer } from '../world/sshServer';

describe('Verify Backup (sshd + PostgreSQL + MariaDB + Redis + SQLite)', function () {
  this.timeout(300_000);
  let sshd: SshServer;
  let pg: Postgres;
  let my: MariaDb;
  let rd: Redis;
  let pool: ConnectionPool;
  let work: string;
  let server: Server;
  let sqliteFile: string;
  let serverTmp: string;

  const pgTarget = (name = 'shop'): BackupTarget => ({
    server,
    database: hostDatabase(pg, name),
    password: { kind: 'inline', password: pg.password },
  });
  const myTarget = (name = 'orders'): BackupTarget => ({
    server,
    database: {
      name,
      engine: 'mysql',
      mode: 'host',
      dbHost: '127.0.0.1',
      dbPort: my.port,
      dbUser: my.user,
      dbName: name,
    },
    password: { kind: 'inline', password: my.password },
  });
  const rdTarget = (): BackupTarget => ({
    server,
    database: { name: 'cache', engine: 'redis', mode: 'host', dbHost: '127.0.0.1', dbPort: rd.port },
    password: { kind: 'inline', password: rd.password },
  });
  const sqTarget = (): BackupTarget => ({
    server,
    database: { name: 'app', engine: 'sqlite', mode: 'host', dbPath: sqliteFile },
  });

  const run = () => forServer(pool, server);
  const sqlite = (db: string, sql: string) =>
    execFileSync('sqlite3', ['-bail', db, sql], { encoding: 'utf8' }).trim();
  const pgScratch = () =>
    pg.sql("SELECT datname FROM pg_database WHERE datname LIKE 'infrakt_verify_%'").trim();
  const myScratch = () =>
    execFileSync(
      'mariadb',
      [
        '--no-defaults',
        `--socket=${my.socket}`,
        '-uroot',
        '-N',
        '-B',
        '-e',
        "SHOW DATABASES LIKE 'infrakt\\_verify\\_%'",
      ],
      {
        encoding: 'utf8',
      },
    ).trim();
  const redisServers = () =>
    spawnSync('pgrep', ['-f', '^redis-server'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .sort()
      .join(',');
  const tmpDirs = () => fs.readdirSync(serverTmp).sort().join(',');
  let liveRedis: string;
  let tmpBefore: string;
  /** Nothing of a verification is left: no scratch database, no spare redis-server, no temp dir. */
  const leftovers = () =>
    [
      pgScratch() && `PostgreSQL ${pgScratch()}`,
      myScratch() && `MariaDB ${myScratch()}`,
      redisServers() !== liveRedis && `redis-server ${redisServers()} (live ${liveRedis})`,
      tmpDirs() !== tmpBefore && `temp dirs ${tmpDirs()} (before ${tmpBefore})`,
    ].filter(Boolean);
  const nothingLeft = async (what: string) => {
    try {
      await until(what, () => leftovers().length === 0, 15_000, 100);
    } catch {
      assert.fail(`${what}: left behind: ${leftovers().join('; ')}`);
    }
  };
  const counts = (file: string) => fs.readFileSync(path.join(server.backupDir, `${file}.counts`), 'utf8');
  const tableOf = (v: VerifyResult, name: string) => v.tableCounts.find((t) => t.name === name);

  /** A copy of a backup under a new name (one second later), with its own sha256 and the original's counts. */
  const forge = (from: string, bytes: Buffer, seconds: number): string => {
    const p = parseBackupName(from);
    assert.ok(p);
    const db = p.prefix.slice(server.name.length + 1);
    const name = backupFilename(
      server.name,
      db,
      p.engine,
      new Date(p.startedAt.getTime() + seconds * 1000),
      p.compression,
    );
    const file = path.join(server.backupDir, name);
    fs.writeFileSync(file, bytes);
    const sum = execFileSync('sha256sum', [file], { encoding: 'utf8' }).slice(0, 64);
    fs.writeFileSync(`${file}.sha256`, `${sum}  ${name}\n`);
    fs.copyFileSync(path.join(server.backupDir, `${from}.counts`), `${file}.counts`);
    return name;
  };
  const zstd = (args: string[], input: Buffer) => execFileSync('zstd', args, { input, maxBuffer: 1 << 30 });

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-verify-'));
    // The server's temp dirs in a dir of this test's own: other runs on the machine use /tmp.
    serverTmp = path.join(work, 'tmp');
    fs.mkdirSync(serverTmp);
    [sshd, pg, my, rd] = await Promise.all([
      startSshServer({ env: { TMPDIR: serverTmp } }),
      startPostgres(),
      startMariaDb(),
      startRedis(),
    ]);
    server = keyServer(sshd, path.join(work, 'backups'));
    pool = new ConnectionPool(testEnv());
    pg.createDatabase('shop');
    pg.sql(
      [
        'CREATE TABLE items (id int PRIMARY KEY, name text)',
        'INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 1234) g',
        'CREATE SCHEMA sales',
        'CREATE TABLE sales.orders (id int PRIMARY KEY, item int REFERENCES items, note text)',
        "INSERT INTO sales.orders SELECT g, 1 + g % 1234, repeat('x', 50) FROM generate_series(1, 300) g",
        'CREATE TABLE "Odd Name" (v int)',
      ].join(';'),
      'shop',
    );
    pg.createDatabase('blank');
    my.createDatabase('orders');
    // The scratch databases: the app user may create and drop infrakt_verify_* only.
    execFileSync('mariadb', [
      '--no-defaults',
      `--socket=${my.socket}`,
      '-uroot',
      '-e',
      `GRANT ALL ON \`infrakt\\_verify\\_%\`.* TO '${my.user}'@'%'`,
    ]);
    my.sql(
      [
        'CREATE TABLE customers (id int PRIMARY KEY, name varchar(40))',
        'INSERT INTO customers SELECT seq, concat("c", seq) FROM seq_1_to_500',
        'CREATE TABLE order_lines (id int PRIMARY KEY, customer int, qty int)',
        'INSERT INTO order_lines SELECT seq, 1 + seq % 500, seq % 7 FROM seq_1_to_4000',
        'CREATE TABLE `back``tick` (v int)',
        'INSERT INTO `back``tick` VALUES (1), (2)',
      ].join(';'),
      'orders',
    );
    for (let i = 0; i < 250; i++) rd.cli('SET', `k${i}`, `v${i}`);
    execFileSync(
      'redis-cli',
      ['-h', '127.0.0.1', '-p', String(rd.port), '-n', '3', 'MSET', 'a', '1', 'b', '2'],
      {
        env: { ...process.env, REDISCLI_AUTH: rd.password },
      },
    );
    sqliteFile = path.join(work, 'app.sqlite');
    sqlite(
      sqliteFile,
      'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 777) INSERT INTO t (v) SELECT \'v\' || n FROM s; CREATE TABLE "q""uote" (x);',
    );
    liveRedis = redisServers();
    tmpBefore = tmpDirs();
  });
  after(async () => {
    pool?.dispose();
    await sshd?.stop();
    pg?.stop();
    await my?.stop();
    rd?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('a seeded database: the counts of backup time come back', () => {
    it('PostgreSQL: every table of every schema, exact rows, in a scratch database that is dropped after', async () => {
      const b = await backUpNow(run(), pgTarget());
      assert.deepEqual(counts(b.file).trim().split('\n').sort(), [
        '0 public.Odd Name',
        '1234 public.items',
        '300 sales.orders',
      ]);
      pg.sql('DELETE FROM items WHERE id > 1000; DELETE FROM sales.orders', 'shop');
      const v = await verifyBackup(run(), pgTarget(), b.file);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.tables, 3);
      assert.equal(v.rows, 1534);
      assert.equal(v.expectedTables, 3);
      assert.equal(v.expectedRows, 1534);
      assert.deepEqual(tableOf(v, 'sales.orders'), { name: 'sales.orders', rows: 300, expected: 300 });
      assert.ok(v.ms !== null && v.ms >= 0);
      assert.equal(
        pg.sql('SELECT count(*) FROM items', 'shop').trim(),
        '1000',
        'the live database was not touched',
      );
      await nothingLeft('after a successful PostgreSQL verification');
      // Recorded beside the backup, and listed for the tree.
      const rec = JSON.parse(fs.readFileSync(path.join(server.backupDir, `${b.file}.verify`), 'utf8'));
      assert.equal(rec.ok, true);
      const listing = await pool.run(server, localListingScript(server));
      const seen = parseVerifications(listing.stdout).get(b.file);
      assert.ok(seen);
      assert.match(verificationText(seen, 'tables'), /^verified just now · 3 tables, 1\.5 k rows$/);
      pg.sql('INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1001, 1234) g', 'shop');
    });

    it('MariaDB: exact rows per table (a name with a backtick too), scratch database dropped', async () => {
      const b = await backUpNow(run(), myTarget());
      assert.deepEqual(counts(b.file).trim().split('\n').sort(), [
        '2 back`tick',
        '4000 order_lines',
        '500 customers',
      ]);
      const v = await verifyBackup(run(), myTarget(), b.file);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.tables, 3);
      assert.equal(v.rows, 4502);
      assert.deepEqual(tableOf(v, 'back`tick'), { name: 'back`tick', rows: 2, expected: 2 });
      await nothingLeft('after a successful MariaDB verification');
    });

    it('MariaDB: Restore To… a new database creates it first and fills it; an existing name is refused untouched', async () => {
      const root = (sql: string) =>
        execFileSync('mariadb', ['--no-defaults', `--socket=${my.socket}`, '-uroot', '-N', '-B', '-e', sql], {
          encoding: 'utf8',
        }).trim();
      root(`GRANT ALL ON \`orders\\_copy\`.* TO '${my.user}'@'%'`);
      const b = await backUpNow(run(), myTarget());
      const r = await restoreBackup(run(), myTarget('orders_copy'), b.file, { createDatabase: true });
      assert.equal(r.verified, true);
      const rows = (db: string) =>
        root(
          `SELECT (SELECT count(*) FROM \`${db}\`.customers), (SELECT count(*) FROM \`${db}\`.order_lines)`,
        );
      assert.equal(rows('orders_copy'), '500\t4000');
      root('DELETE FROM orders_copy.customers WHERE id > 10');
      await assert.rejects(
        restoreBackup(run(), myTarget('orders_copy'), b.file, { createDatabase: true }),
        (e: BackupError) => e.kind === 'database-exists' && /already exists on web-1/.test(e.message),
      );
      assert.equal(rows('orders_copy'), '10\t4000', 'the existing database is left as it was');
      assert.equal(rows('orders'), '500\t4000', 'the source is untouched');
      root('DROP DATABASE orders_copy');
    });

    it('Redis: keys per logical database, loaded by a spare redis-server that is stopped after', async () => {
      const b = await backUpNow(run(), rdTarget());
      assert.deepEqual(counts(b.file).trim().split('\n').sort(), ['2 db3', '250 db0']);
      const v = await verifyBackup(run(), rdTarget(), b.file);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.tables, 2);
      assert.equal(v.rows, 252);
      assert.equal(verificationText(v, 'keys'), 'verified just now · 2 databases, 252 keys');
      await nothingLeft('after a successful Redis verification');
    });

    it('Redis: Restore to This Computer loads the backup into a Redis here by replication from a temporary redis-server, which is gone after', async () => {
      const b = await backUpNow(run(), rdTarget());
      const here = fs.mkdtempSync(path.join(work, 'here-'));
      const local = path.join(here, b.file);
      await pool.download(server, path.join(server.backupDir, b.file), local);
      const parsed = parseBackupName(b.file);
      assert.ok(parsed);
      const groups = localRestoreTools(parsed);
      const found = groups.map((g) => g.map((t) => findOnPath(t)).find(Boolean) ?? '');
      assert.ok(found.every(Boolean), `the local tools are here: ${found.join(', ')}`);
      const tools = { restore: found[0], redisServer: found[1], zstd: found[2] };
      const rd2 = await startRedis('rd2-Secret-7c1');
      try {
        rd2.cli('SET', 'stale', 'x');
        const target = { host: '127.0.0.1', port: rd2.port, user: '', database: '', password: rd2.password };
        await assert.rejects(
          runLocalRestore(local, parsed, { ...target, host: '10.1.2.3' }, tools, { workDir: here }),
          (e: BackupError) => e.kind === 'invalid-input' && /must run here: use 127\.0\.0\.1/.test(e.message),
        );
        await assert.rejects(
          runLocalRestore(local, parsed, { ...target, password: 'not-the-password' }, tools, {
            workDir: here,
          }),
          (e: BackupError) => e.kind === 'restore-failed' && /WRONGPASS|NOAUTH|invalid/i.test(e.message),
        );
        assert.equal(rd2.cli('GET', 'stale'), 'x', 'a refused restore leaves the data as it was');
        // Cancelled at 0 ms, and while the temporary server starts (it takes a second here): nothing
        // reaches the target, nothing is left running.
        const slowStart = makeBin(path.join(here, 'slow-bin'), {
          stubs: { 'redis-server': `sleep 1\nexec ${q(tools.redisServer)} "$@"` },
        });
        for (const delay of [0, 300, 700]) {
          const ac = new AbortController();
          const slow = { ...tools, redisServer: path.join(slowStart, 'redis-server') };
          const cancelled = runLocalRestore(local, parsed, target, slow, {
            workDir: here,
            signal: ac.signal,
          });
          setTimeout(() => ac.abort(), delay);
          await assert.rejects(cancelled, (e: BackupError) => e.kind === 'cancelled');
          assert.match(
            rd2.cli('INFO', 'replication'),
            /role:master/,
            `cancel at ${delay} ms: not left a replica`,
          );
          assert.equal(rd2.cli('GET', 'stale'), 'x', `cancel at ${delay} ms: the data is as it was`);
        }
        await runLocalRestore(local, parsed, target, tools, { workDir: here });
        assert.equal(rd2.cli('DBSIZE'), '250');
        assert.equal(rd2.cli('GET', 'k7'), 'v7');
        assert.equal(rd2.cli('EXISTS', 'stale'), '0', 'the whole dataset is replaced');
        assert.equal(rd2.cli('-n', '3', 'DBSIZE'), '2');
        assert.match(rd2.cli('INFO', 'replication'), /role:master/, 'no longer a replica');
      } finally {
        rd2.stop();
      }
      await nothingLeft('after Restore to This Computer of a Redis backup');
    });

    it('SQLite: rows per table of the snapshot, restored into a temp file', async () => {
      const b = await backUpNow(run(), sqTarget());
      assert.deepEqual(counts(b.file).trim().split('\n').sort(), ['0 q"uote', '777 t']);
      const v = await verifyBackup(run(), sqTarget(), b.file);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.rows, 777);
      await nothingLeft('after a successful SQLite verification');
    });

    it('SQLite: Restore To… a new database file creates it and fills it; an existing file is refused untouched; a backup that fails its check leaves no file', async () => {
      const b = await backUpNow(run(), sqTarget());
      const copy = path.join(work, 'app-restored.sqlite');
      const into = (file: string): BackupTarget => ({
        ...sqTarget(),
        database: { ...sqTarget().database, dbPath: file },
      });
      const r = await restoreBackup(run(), into(copy), b.file, { createDatabase: true });
      assert.equal(r.verified, true);
      assert.equal(sqlite(copy, 'SELECT count(*) FROM t'), '777');
      assert.equal(sqlite(sqliteFile, 'SELECT count(*) FROM t'), '777', 'the source is untouched');
      sqlite(copy, 'DELETE FROM t WHERE rowid > 5');
      await assert.rejects(
        restoreBackup(run(), into(copy), b.file, { createDatabase: true }),
        (e: BackupError) => e.kind === 'database-exists' && /already exists on web-1/.test(e.message),
      );
      assert.equal(sqlite(copy, 'SELECT count(*) FROM t'), '5', 'the existing file is left as it was');
      // A backup whose file fails PRAGMA integrity_check: the new file it would have filled is removed again.
      const bad = 'web-1_app_sqlite_20200101T000000Z.sqlite.zst';
      const plain = path.join(work, 'bad.sqlite');
      fs.writeFileSync(plain, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 7)]));
      execFileSync('sh', [
        '-c',
        `zstd -q -c ${q(plain)} > ${q(path.join(server.backupDir, bad))} && cd ${q(server.backupDir)} && sha256sum ${q(bad)} > ${q(`${bad}.sha256`)}`,
      ]);
      const doomed = path.join(work, 'never.sqlite');
      await assert.rejects(
        restoreBackup(run(), into(doomed), bad, { createDatabase: true }),
        (e: BackupError) => /integrity_check/.test(e.message),
      );
      assert.ok(!fs.existsSync(doomed), 'no file is left where the restore did not finish');
      for (const f of [bad, `${bad}.sha256`]) fs.rmSync(path.join(server.backupDir, f));
      await nothingLeft('after the SQLite restores into new files');
    });

    it('an encrypted backup (.age) is decrypted as a restore does it; without its key no verdict is recorded', async () => {
      const identity = await age.generateIdentity();
      const recipient = await age.identityToRecipient(identity);
      for (const target of [pgTarget(), rdTarget()]) {
        const b = await backUpNow(run(), target, { encryptTo: recipient });
        assert.match(b.file, /\.age$/);
        await assert.rejects(verifyBackup(run(), target, b.file), (e: BackupError) => e.kind === 'decrypt');
        assert.equal(fs.existsSync(path.join(server.backupDir, `${b.file}.verify`)), false);
        const v = await verifyBackup(run(), target, b.file, { identities: [identity] });
        assert.equal(v.ok, true, v.problem);
        assert.ok((v.rows ?? 0) > 0);
      }
      await nothingLeft('after encrypted verifications');
    });
  });

  describe('a backup that restores but is empty or truncated fails', () => {
    it('PostgreSQL: a dump whose data stage was cut does not restore, and the failure is recorded', async () => {
      const b = await backUpNow(run(), pgTarget());
      const dump = zstd(['-dc'], fs.readFileSync(path.join(server.backupDir, b.file)));
      // The custom format writes the data after the table of contents: cut in the middle of it.
      const cut = forge(b.file, zstd(['-q', '-c'], dump.subarray(0, Math.floor(dump.length * 0.7))), 1);
      const v = await verifyBackup(run(), pgTarget(), cut);
      assert.equal(v.ok, false);
      assert.match(v.problem, /did not restore|fewer rows|did not come back/);
      const rec = JSON.parse(fs.readFileSync(path.join(server.backupDir, `${cut}.verify`), 'utf8'));
      assert.equal(rec.ok, false);
      await nothingLeft('after a failed PostgreSQL verification');
    });

    it('MariaDB: an SQL dump cut before its last table restores, and is reported short', async () => {
      const b = await backUpNow(run(), myTarget());
      const dump = zstd(['-dc'], fs.readFileSync(path.join(server.backupDir, b.file))).toString();
      // Tables are dumped in name order: everything from the last one (order_lines) on is cut.
      const at = dump.indexOf('Table structure for table `order_lines`');
      assert.ok(at > 0);
      const cut = forge(b.file, zstd(['-q', '-c'], Buffer.from(dump.slice(0, at))), 1);
      const v = await verifyBackup(run(), myTarget(), cut);
      assert.equal(v.ok, false);
      assert.match(v.problem, /1 of 3 tables .* did not come back: order_lines/);
      assert.deepEqual(tableOf(v, 'order_lines'), { name: 'order_lines', rows: undefined, expected: 4000 });
      await nothingLeft('after a failed MariaDB verification');
    });

    it('MariaDB: a dump cut inside its data (an INSERT half there) fails', async () => {
      const b = await backUpNow(run(), myTarget());
      const dump = zstd(['-dc'], fs.readFileSync(path.join(server.backupDir, b.file)));
      const cut = forge(b.file, zstd(['-q', '-c'], dump.subarray(0, Math.floor(dump.length * 0.6))), 2);
      const v = await verifyBackup(run(), myTarget(), cut);
      assert.equal(v.ok, false, 'a cut dump never passes');
      await nothingLeft('after a failed MariaDB verification');
    });

    it('Redis and SQLite: a truncated file fails', async () => {
      for (const target of [rdTarget(), sqTarget()]) {
        const b = await backUpNow(run(), target);
        const raw = zstd(['-dc'], fs.readFileSync(path.join(server.backupDir, b.file)));
        const cut = forge(b.file, zstd(['-q', '-c'], raw.subarray(0, Math.floor(raw.length / 2))), 1);
        const v = await verifyBackup(run(), target, cut, { readyTimeout: 2 });
        assert.equal(v.ok, false, `${target.database.engine}: ${v.problem}`);
      }
      await nothingLeft('after failed Redis and SQLite verifications');
    });

    it('an empty database: the backup restores nothing, and that is a failure', async () => {
      const b = await backUpNow(run(), pgTarget('blank'));
      const v = await verifyBackup(run(), pgTarget('blank'), b.file);
      assert.equal(v.ok, false);
      assert.match(v.problem, /nothing came back/);
      assert.equal(v.tables, 0);
      await nothingLeft('after an empty verification');
    });

    it('a backup without counts (taken before they were recorded) is still checked for being empty', async () => {
      const b = await backUpNow(run(), pgTarget());
      fs.rmSync(path.join(server.backupDir, `${b.file}.counts`));
      const v = await verifyBackup(run(), pgTarget(), b.file);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.expectedTables, null);
      assert.equal(tableOf(v, 'public.items')?.expected, undefined);
    });

    it('a damaged file fails its sha256 before anything is created', async () => {
      const b = await backUpNow(run(), pgTarget());
      const file = path.join(server.backupDir, b.file);
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 10] ^= 0xff;
      fs.writeFileSync(file, bytes);
      const v = await verifyBackup(run(), pgTarget(), b.file);
      assert.equal(v.ok, false);
      assert.match(v.problem, /sha256/);
      await nothingLeft('after a checksum failure');
    });
  });

  describe('cancel leaves nothing behind', () => {
    let big: string;
    before(async () => {
      pg.createDatabase('big');
      pg.sql(
        'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 400000) g; CREATE INDEX ON t (v)',
        'big',
      );
      big = (await backUpNow(run(), pgTarget('big'))).file;
    });

    for (const [label, delays] of [
      ['at 0 ms', [0, 0, 0]],
      ['mid-run', [100, 150, 300, 700, 1200, 1800]],
    ] as const) {
      it(`PostgreSQL ${label}, several times`, async () => {
        for (const ms of delays) {
          const ac = new AbortController();
          const started = verifyBackup(run(), pgTarget('big'), big, { signal: ac.signal });
          if (ms === 0) ac.abort();
          else setTimeout(() => ac.abort(), ms);
          const outcome = await started.then(
            (v) => v,
            (e: unknown) => e,
          );
          assert.ok(
            // A BackupError from the run, or the pool's AbortError when the cancel came before the channel opened.
            (outcome instanceof Error && (outcome as { kind?: string }).kind === 'cancelled') ||
              // A late cancel may come after the run finished: then its verdict stands.
              (!(outcome instanceof Error) && (outcome as VerifyResult).ok === true && ms > 1000),
            `a cancel at ${ms} ms: ${JSON.stringify(outcome)}`,
          );
          await nothingLeft(`after a cancel at ${ms} ms`);
          const record = path.join(server.backupDir, `${big}.verify`);
          // A cancel records no failure; one that lands as the run ends may find its success recorded.
          if (fs.existsSync(record)) {
            assert.equal(
              JSON.parse(fs.readFileSync(record, 'utf8')).ok,
              true,
              'a cancel is no failed verdict',
            );
            fs.rmSync(record);
          }
        }
      });
    }

    it('Redis and MariaDB mid-run', async () => {
      for (const target of [rdTarget(), myTarget()]) {
        const b = await backUpNow(run(), target);
        for (const ms of [0, 50, 100, 150, 250, 400]) {
          const ac = new AbortController();
          const started = verifyBackup(run(), target, b.file, { signal: ac.signal });
          if (ms === 0) ac.abort();
          else setTimeout(() => ac.abort(), ms);
          // A run may finish before a late cancel: either outcome, and never a leftover.
          await started.then(
            (v) => assert.equal(v.ok, true),
            (e: BackupError) => assert.equal(e.kind, 'cancelled'),
          );
          await nothingLeft(`after a ${target.database.engine} cancel at ${ms} ms`);
        }
      }
    });

    it('the whole verification of the big database, uncancelled, for comparison', async () => {
      const v = await verifyBackup(run(), pgTarget('big'), big);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.rows, 400000);
      await nothingLeft('after the big verification');
    });
  });
});
