// Back Up Now / Restore / List / Delete / Discover against REAL PostgreSQL 15,
// MariaDB and Redis 7 started by the test world. The scripts run through a
// LOCAL runner (`sh -c 'command -v bash ... && exec bash -s || exec sh -s'`
// with the script on stdin, exactly the remote command of the SSH transport),
// because the SSH transport (src/ssh) has not landed yet: "the server" is this
// machine either way. Container mode runs through a docker STAND-IN (not Docker).
import * as assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BackupError,
  type BackupTarget,
  backUpNow,
  deleteBackup,
  discoverDatabases,
  listBackups,
  restoreBackup,
} from '../../src/core/backup';
import {
  type MariaDb,
  type Postgres,
  type Redis,
  startMariaDb,
  startPostgres,
  startRedis,
  until,
} from '../world/databases';
import { createDockerStandIn, type DockerStandIn } from '../world/dockerStandIn';
import { checkTarget } from '../../src/core/backup/target';
import { targetVars } from '../../src/core/backup/backupScript';
import { engineSpec } from '../../src/core/engines';
import { SH } from '../../src/core/remote/modules';
import { remoteScript } from '../../src/core/remote/script';
import { commandSink } from '../support/sinks';
import { localRunner } from '../world/localRunner';

function files(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

async function rejects(
  p: Promise<unknown>,
  kind: BackupError['kind'],
  message?: RegExp,
): Promise<BackupError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BackupError, String(e));
    assert.equal(e.kind, kind, e.message);
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected a ${kind} BackupError`);
}

/** A PATH of symlinks to every tool in the usual dirs except the ones named. */
function pathWithout(dir: string, ...missing: string[]): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const d of ['/usr/local/bin', '/usr/bin', '/usr/sbin', '/bin', '/sbin']) {
    if (!fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d)) {
      const link = path.join(dir, f);
      if (missing.includes(f) || fs.existsSync(link)) continue;
      fs.symlinkSync(path.join(d, f), link);
    }
  }
  return dir;
}

describe('backups against real databases — local bash runner (SSH transport not landed yet)', function () {
  this.timeout(120_000);
  let pg: Postgres;
  let my: MariaDb;
  let rd: Redis;
  let work: string;
  let backupDir: string;
  const runner = localRunner();
  const server = () => ({ name: 'web-1', backupDir });

  const pgTarget = (db = 'shop'): BackupTarget => ({
    server: server(),
    database: {
      name: db,
      engine: 'postgres',
      mode: 'host',
      dbHost: '127.0.0.1',
      dbPort: pg.port,
      dbUser: 'postgres',
    },
    password: { kind: 'inline', password: pg.password },
  });

  const myTarget = (db: string): BackupTarget => ({
    server: server(),
    database: {
      name: db,
      engine: 'mysql',
      mode: 'host',
      dbHost: '127.0.0.1',
      dbPort: my.port,
      dbUser: my.user,
    },
    password: { kind: 'inline', password: my.password },
  });

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-backup-it-'));
    backupDir = path.join(work, 'opt', 'infrakt', 'backups');
    [pg, my, rd] = await Promise.all([startPostgres(), startMariaDb(), startRedis()]);
    pg.createDatabase('shop');
    pg.sql(
      'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 5000) g',
      'shop',
    );
  });
  after(async () => {
    pg?.stop();
    rd?.stop();
    await my?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('host mode round trips: write → back up → change → restore → original back', () => {
    it('PostgreSQL (pg_dump -Fc -Z0 | zstd, pg_restore --clean)', async () => {
      const before = pg.sql("SELECT count(*), md5(string_agg(name, ',' ORDER BY id)) FROM items", 'shop');
      const progress: number[] = [];
      const b = await backUpNow(runner, pgTarget(), { onProgress: (n) => progress.push(n) });
      assert.match(b.file, /^web-1_shop_postgres_\d{8}T\d{6}Z\.dump\.zst$/);
      assert.equal(b.compression, 'zstd');
      assert.equal((fs.statSync(backupDir).mode & 0o777).toString(8), '700');
      const bytes = fs.readFileSync(path.join(backupDir, b.file));
      assert.equal(bytes.length, b.size);
      assert.equal(spawnSync('sha256sum', { input: bytes, encoding: 'utf8' }).stdout.slice(0, 64), b.sha256);
      assert.equal(
        fs.readFileSync(path.join(backupDir, `${b.file}.sha256`), 'utf8'),
        `${b.sha256}  ${b.file}\n`,
      );
      assert.equal(spawnSync('sha256sum', ['-c', `${b.file}.sha256`], { cwd: backupDir }).status, 0);

      pg.sql(
        "UPDATE items SET name = 'changed'; INSERT INTO items VALUES (999999, 'new'); CREATE TABLE extra (x int)",
        'shop',
      );
      const r = await restoreBackup(runner, pgTarget(), b.file);
      assert.equal(r.verified, true);
      assert.equal(
        pg.sql("SELECT count(*), md5(string_agg(name, ',' ORDER BY id)) FROM items", 'shop'),
        before,
      );
    });

    it('MariaDB (mariadb-dump --single-transaction --routines --triggers | zstd, mysql <db>)', async () => {
      my.createDatabase('orders');
      my.sql(
        "CREATE TABLE o (id int PRIMARY KEY, v varchar(20)); INSERT INTO o VALUES (1,'one'),(2,'two');" +
          'CREATE TRIGGER o_bi BEFORE INSERT ON o FOR EACH ROW SET NEW.v = UPPER(NEW.v);',
        'orders',
      );
      const target = myTarget('orders');
      const b = await backUpNow(runner, target);
      assert.match(b.file, /^web-1_orders_mysql_.*\.sql\.zst$/);
      my.sql("UPDATE o SET v = 'changed'; DELETE FROM o WHERE id = 2; DROP TRIGGER o_bi;", 'orders');
      await restoreBackup(runner, target, b.file);
      assert.equal(my.sql('SELECT id, v FROM o ORDER BY id', 'orders'), '1\tone\n2\ttwo\n');
      assert.equal(
        my.sql("SELECT count(*) FROM information_schema.triggers WHERE trigger_name = 'o_bi'"),
        '1\n',
      );
    });

    it('Redis (redis-cli --rdb snapshot; restore loads the RDB by replication, no restart)', async () => {
      rd.cli('SET', 'greeting', 'hello');
      rd.cli('RPUSH', 'queue', 'a', 'b', 'c');
      const target: BackupTarget = {
        server: server(),
        database: { name: 'cache', engine: 'redis', mode: 'host', dbHost: '127.0.0.1', dbPort: rd.port },
        password: { kind: 'inline', password: rd.password },
      };
      const b = await backUpNow(runner, target);
      assert.match(b.file, /^web-1_cache_redis_.*\.rdb\.zst$/);
      const raw = spawnSync('zstd', ['-dc', path.join(backupDir, b.file)]).stdout;
      assert.equal(raw.subarray(0, 5).toString(), 'REDIS');
      rd.cli('SET', 'greeting', 'changed');
      rd.cli('DEL', 'queue');
      rd.cli('SET', 'stray', 'x');
      const pidBefore = rd.cli('INFO', 'server').match(/process_id:(\d+)/)?.[1];
      const r = await restoreBackup(runner, target, b.file);
      assert.equal(r.method, 'replicate');
      assert.equal(rd.cli('GET', 'greeting'), 'hello');
      assert.equal(rd.cli('LRANGE', 'queue', '0', '-1'), 'a\nb\nc');
      assert.equal(rd.cli('EXISTS', 'stray'), '0');
      assert.match(rd.cli('INFO', 'replication'), /role:master/);
      assert.equal(rd.cli('INFO', 'server').match(/process_id:(\d+)/)?.[1], pidBefore);
      // Persisted: the RDB on disk holds the restored data (a restart would not bring the old data back).
      assert.ok(fs.readFileSync(path.join(rd.dir, 'dump.rdb')).includes('greeting'));
    });
  });

  describe('container mode via a docker STAND-IN (runs `docker exec` locally with the fixture env; not Docker)', () => {
    let standIn: DockerStandIn;
    let containerRunner: ReturnType<typeof localRunner>;
    before(() => {
      pg.createDatabase('shopc');
      pg.sql("CREATE TABLE t (id int, v text); INSERT INTO t VALUES (1, 'kept')", 'shopc');
      my.createDatabase('ordersc');
      my.sql("CREATE TABLE t (id int, v varchar(10)); INSERT INTO t VALUES (1, 'kept')", 'ordersc');
      standIn = createDockerStandIn([
        {
          name: 'infrakt-db-shopc',
          image: 'postgres:15',
          env: {
            POSTGRES_USER: 'postgres',
            POSTGRES_PASSWORD: pg.password,
            POSTGRES_DB: 'shopc',
            PGHOST: '127.0.0.1',
            PGPORT: String(pg.port),
          },
        },
        {
          name: 'infrakt-db-ordersc',
          image: 'mariadb:11',
          env: {
            MYSQL_USER: my.user,
            MYSQL_PASSWORD: my.password,
            MYSQL_DATABASE: 'ordersc',
          },
          // Stands in for the container's default socket path.
          home: { '.my.cnf': `[client]\nsocket=${my.socket}\n` },
        },
      ]);
      containerRunner = localRunner({ env: { ...process.env, PATH: standIn.path } });
    });
    after(() => standIn?.remove());

    it('the size a database reports (bounds an S3 upload’s parts): PostgreSQL and MariaDB, host and container mode', async () => {
      const size = async (t: BackupTarget, r: ReturnType<typeof localRunner>) => {
        const script = remoteScript({
          vars: targetVars(checkTarget(t)),
          modules: [SH.common, engineSpec(t.database.engine).shell],
          call: 'infrakt_db_size',
        });
        const out = await r.run(script);
        assert.equal(out.code, 0, out.stderr);
        return out.stdout.trim();
      };
      const inContainer = (name: string, engine: 'postgres' | 'mysql'): BackupTarget => ({
        server: server(),
        database: { name, engine, mode: 'container' },
      });
      const pgSize = (db: string) => pg.sql(`SELECT pg_database_size('${db}')`, db).trim();
      const mySize = (db: string) =>
        my
          .sql(
            `SELECT coalesce(sum(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = '${db}'`,
            db,
          )
          .trim();
      assert.equal(await size(pgTarget(), runner), pgSize('shop'));
      assert.ok(Number(pgSize('shop')) > 100_000);
      assert.equal(await size(inContainer('shopc', 'postgres'), containerRunner), pgSize('shopc'));
      const myHost = myTarget('ordersc');
      assert.equal(await size(myHost, runner), mySize('ordersc'));
      assert.ok(Number(mySize('ordersc')) > 0);
      assert.equal(await size(inContainer('ordersc', 'mysql'), containerRunner), mySize('ordersc'));
    });

    it('PostgreSQL: credentials from the container env, round trip', async () => {
      const target: BackupTarget = {
        server: server(),
        database: { name: 'shopc', engine: 'postgres', mode: 'container' },
      };
      const b = await backUpNow(containerRunner, target);
      pg.sql("UPDATE t SET v = 'changed'", 'shopc');
      await restoreBackup(containerRunner, target, b.file);
      assert.equal(pg.sql('SELECT v FROM t', 'shopc'), 'kept\n');
      const argv = standIn.calls().flat().join(' ');
      assert.match(argv, /^exec infrakt-db-shopc sh -c/);
      assert.ok(!argv.includes(pg.password), 'the password reached docker argv');
    });

    it('MariaDB: MYSQL_PWD set inside from MYSQL_PASSWORD, never -p argv; round trip', async () => {
      const target: BackupTarget = {
        server: server(),
        database: { name: 'ordersc', engine: 'mysql', mode: 'container' },
      };
      const b = await backUpNow(containerRunner, target);
      my.sql("UPDATE t SET v = 'changed'", 'ordersc');
      await restoreBackup(containerRunner, target, b.file);
      assert.equal(my.sql('SELECT v FROM t', 'ordersc'), 'kept\n');
      assert.ok(!standIn.calls().flat().join(' ').includes(my.password));
    });

    it('a container without the dump tool: error names the tool and the container', async () => {
      const bare = createDockerStandIn([{ name: 'infrakt-db-bare', image: 'postgres:15', env: {} }]);
      try {
        const noPgPath = pathWithout(path.join(work, 'nopg-inner'), 'pg_dump');
        // The stand-in runs inner commands with the runner's PATH minus itself: give it one without pg_dump.
        const r = localRunner({ env: { ...process.env, PATH: `${bare.binDir}:${noPgPath}` } });
        const e = await rejects(
          backUpNow(r, {
            server: server(),
            database: { name: 'bare', engine: 'postgres', mode: 'container' },
          }),
          'tool-missing',
        );
        assert.equal(
          e.message,
          'pg_dump not found in container infrakt-db-bare on web-1 — run Provision Server',
        );
        assert.deepEqual(
          files(backupDir).filter((f) => f.includes('_bare_')),
          [],
        );
      } finally {
        bare.remove();
      }
    });

    it('Discover: containers from `docker ps`, host tools, in one script run', async () => {
      const before = containerRunner.scripts.length;
      const d = await discoverDatabases(containerRunner, 'web-1');
      assert.equal(containerRunner.scripts.length, before + 1);
      assert.equal(d.docker, 'ok');
      assert.deepEqual(
        d.containers.map((c) => `${c.container}:${c.engine}`),
        ['infrakt-db-shopc:postgres', 'infrakt-db-ordersc:mysql'],
      );
      const tools = d.hostServices.flatMap((h) => h.tools);
      for (const t of ['pg_dump', 'redis-cli', 'mariadb-dump']) assert.ok(tools.includes(t), t);
    });
  });

  describe('bad input and faults', () => {
    it('a database named `x; touch <canary>` is refused in every field and the canary is never created', async () => {
      const canary = path.join(os.tmpdir(), `infrakt-pwned-${process.pid}`);
      const hostile = `x; touch ${canary}`;
      const before = runner.scripts.length;
      const variants: BackupTarget[] = [
        { ...pgTarget(), database: { ...pgTarget().database, name: hostile } },
        { ...pgTarget(), database: { ...pgTarget().database, dbName: hostile } },
        { ...pgTarget(), database: { ...pgTarget().database, dbUser: hostile } },
        { ...pgTarget(), database: { ...pgTarget().database, dbHost: hostile } },
        {
          ...pgTarget(),
          database: { name: 'shop', engine: 'postgres', mode: 'container', container: hostile },
        },
        { ...pgTarget(), server: { name: hostile, backupDir } },
        { ...pgTarget(), server: { name: 'web-1', backupDir: `/tmp/$(touch ${canary})` } },
      ];
      for (const v of variants) {
        await rejects(backUpNow(runner, v), 'invalid-input');
        await rejects(
          restoreBackup(runner, v, 'web-1_shop_postgres_20260101T000000Z.dump.zst'),
          'invalid-input',
        );
      }
      await rejects(restoreBackup(runner, pgTarget(), `${hostile}.dump.zst`), 'invalid-input');
      await rejects(
        deleteBackup(runner, server(), `web-1_${hostile}_postgres_20260101T000000Z.dump.zst`),
        'invalid-input',
      );
      await rejects(listBackups(runner, { name: hostile, backupDir }, []), 'invalid-input');
      assert.equal(runner.scripts.length, before, 'a script ran');
      assert.equal(fs.existsSync(canary), false);
      // And a password full of shell syntax is data, not code.
      const pwTarget: BackupTarget = {
        ...pgTarget(),
        password: { kind: 'inline', password: `'; touch ${canary}; '$(touch ${canary})` },
      };
      await rejects(backUpNow(runner, pwTarget), 'dump-failed', /password authentication failed/);
      assert.equal(fs.existsSync(canary), false);
    });

    for (const how of [
      'SSH connection dropped (stdout closed, no signal)',
      'cancelled (SIGTERM to the remote shell)',
    ] as const) {
      it(`${how} mid-backup → no committed file for that run, partial removed, next backup works`, async () => {
        // Hold a lock so pg_dump blocks mid-run: deterministic, no sleeps.
        const locker: ChildProcessWithoutNullStreams = spawn(
          'psql',
          ['-X', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', 'shop', '-q'],
          { env: { ...process.env, PGPASSWORD: pg.password } },
        );
        locker.stdin.write('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE;\n');
        await until(
          'the table lock',
          () =>
            pg
              .sql(
                "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted AND relation = 'items'::regclass",
                'shop',
              )
              .trim() === '1',
        );
        const before = new Set(files(backupDir));
        const ctl = new AbortController();
        const r = localRunner({ dropOnAbort: how.startsWith('SSH') });
        let progressed = false;
        const run = backUpNow(r, pgTarget(), { signal: ctl.signal, onProgress: () => (progressed = true) });
        try {
          await until(
            'pg_dump waiting on the lock',
            () =>
              pg
                .sql(
                  "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'",
                )
                .trim() === '1',
          );
          await until('a progress line', () => progressed);
          const partials = files(backupDir).filter((f) => !before.has(f));
          assert.equal(partials.length, 1);
          assert.match(partials[0], /\.partial$/);
          // While it runs: the password is in no process's argv.
          for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
            let cmdline = '';
            try {
              cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
            } catch {
              continue;
            }
            assert.ok(!cmdline.includes(pg.password), `password in argv of pid ${pid}: ${cmdline}`);
          }
          ctl.abort();
          await rejects(run, 'cancelled');
          await until('the partial to be removed', () => files(backupDir).every((f) => before.has(f)));
          await until(
            'pg_dump to be gone',
            () =>
              pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'").trim() ===
              '0',
          );
        } finally {
          locker.stdin.end('COMMIT;\n');
          await new Promise((res) => locker.once('exit', res));
        }
        assert.deepEqual(
          files(backupDir).filter((f) => !before.has(f)),
          [],
        );
        const next = await backUpNow(runner, pgTarget());
        assert.ok(fs.existsSync(path.join(backupDir, next.file)));
      });
    }

    it('one flipped byte → restore refused, database untouched', async () => {
      const b = await backUpNow(runner, pgTarget());
      const file = path.join(backupDir, b.file);
      const bytes = fs.readFileSync(file);
      bytes[Math.floor(bytes.length / 2)] ^= 0x01;
      fs.writeFileSync(file, bytes);
      pg.sql("UPDATE items SET name = 'after-backup' WHERE id = 1", 'shop');
      await rejects(
        restoreBackup(runner, pgTarget(), b.file),
        'checksum-mismatch',
        new RegExp(
          `^Checksum mismatch for ${b.file}: the backup is damaged; restore refused, database untouched$`,
        ),
      );
      assert.equal(pg.sql('SELECT name FROM items WHERE id = 1', 'shop'), 'after-backup\n');
      await deleteBackup(runner, server(), b.file);
    });

    it('a backup without its .sha256 is refused unless explicitly allowed', async () => {
      const b = await backUpNow(runner, pgTarget());
      fs.rmSync(path.join(backupDir, `${b.file}.sha256`));
      await rejects(restoreBackup(runner, pgTarget(), b.file), 'no-checksum');
      const r = await restoreBackup(runner, pgTarget(), b.file, { allowUnverified: true });
      assert.equal(r.verified, false);
      await deleteBackup(runner, server(), b.file);
    });

    it('missing dump tool (PATH without pg_dump) → error names it and suggests Provision Server; nothing written', async () => {
      const bin = pathWithout(path.join(work, 'nopg'), 'pg_dump');
      const before = files(backupDir);
      const r = localRunner({ env: { ...process.env, PATH: bin } });
      const e = await rejects(backUpNow(r, pgTarget()), 'tool-missing');
      assert.equal(e.message, 'pg_dump not found on web-1 — run Provision Server');
      assert.deepEqual(files(backupDir), before);
    });

    it('three backups of one database in the same second get distinct names (-2, -3)', async () => {
      const bin = path.join(work, 'fixed-date');
      fs.mkdirSync(bin, { recursive: true });
      // A `date` that always answers the same second: same-second starts, made deterministic.
      fs.writeFileSync(path.join(bin, 'date'), '#!/bin/sh\necho 20260228T020000Z\n', { mode: 0o755 });
      const r = localRunner({ env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
      const results = await Promise.all([
        backUpNow(r, pgTarget()),
        backUpNow(r, pgTarget()),
        backUpNow(r, pgTarget()),
      ]);
      assert.deepEqual(results.map((x) => x.file).sort(), [
        'web-1_shop_postgres_20260228T020000Z-2.dump.zst',
        'web-1_shop_postgres_20260228T020000Z-3.dump.zst',
        'web-1_shop_postgres_20260228T020000Z.dump.zst',
      ]);
      const again = await backUpNow(r, pgTarget());
      assert.equal(again.file, 'web-1_shop_postgres_20260228T020000Z-4.dump.zst');
      for (const x of [...results, again]) await deleteBackup(runner, server(), x.file);
    });

    it('an extra sink that fails cannot kill the local file; one that works gets the same bytes', async () => {
      const copy = path.join(work, 'sink-copy');
      const b = await backUpNow(runner, pgTarget(), {
        extraSinks: [
          commandSink({ id: 'broken', run: "sh -c 'head -c 100 >/dev/null; exit 3'" }),
          commandSink({
            id: 'copy',
            run: `cat > '${copy}'`,
            after: `printf '%s' "$INFRAKT_SHA256" > '${copy}.sha'`,
          }),
        ],
      });
      assert.deepEqual(b.failedSinks, ['broken']);
      assert.equal(b.sinks.copy, 0);
      const local = fs.readFileSync(path.join(backupDir, b.file));
      assert.equal(local.length, b.size);
      assert.ok(local.equals(fs.readFileSync(copy)));
      assert.equal(fs.readFileSync(`${copy}.sha`, 'utf8'), b.sha256);
      assert.equal(spawnSync('sha256sum', ['-c', `${b.file}.sha256`], { cwd: backupDir }).status, 0);
    });
  });

  // Mocha runs a suite's own tests before its nested suites: this one goes last on purpose.
  describe('listing', () => {
    it('List: one script run returns the backups of every database of the server, newest first; Delete removes file + checksum', async () => {
      pg.createDatabase('blog');
      const blog = await backUpNow(runner, pgTarget('blog'));
      const before = runner.scripts.length;
      const l = await listBackups(runner, server(), [
        { name: 'shop', engine: 'postgres' },
        { name: 'blog', engine: 'postgres' },
        { name: 'orders', engine: 'mysql' },
        { name: 'cache', engine: 'redis' },
      ]);
      assert.equal(runner.scripts.length, before + 1);
      for (const db of ['shop', 'blog', 'orders', 'cache'])
        assert.ok((l.byDatabase.get(db) ?? []).length >= 1, db);
      const shop = l.byDatabase.get('shop') ?? [];
      for (let i = 1; i < shop.length; i++) assert.ok(shop[i - 1].startedAt >= shop[i].startedAt);
      assert.ok(shop.every((b) => b.hasChecksum && !b.filename.includes('.partial')));
      assert.deepEqual(l.unknown.map((b) => b.database).sort(), ['ordersc', 'shopc']);
      const d = await deleteBackup(runner, server(), blog.file);
      assert.equal(d.existed, true);
      assert.ok(!files(backupDir).some((f) => f.startsWith(blog.file)));
      assert.equal((await deleteBackup(runner, server(), blog.file)).existed, false);
    });
  });
});

describe('backups under busybox ash with busybox tools (Alpine-like) — local runner', function () {
  this.timeout(120_000);
  const hasBusybox = spawnSync('sh', ['-c', 'command -v busybox']).status === 0;
  let pg: Postgres;
  let work: string;
  before(async function () {
    if (!hasBusybox) {
      console.log('    (skipped: busybox is not installed on this machine: apt-get install busybox)');
      this.skip();
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-bb-'));
    pg = await startPostgres();
    pg.createDatabase('shop');
    pg.sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')", 'shop');
  });
  after(() => {
    pg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('back up (busybox tee without -p, a failing extra sink) and restore', async () => {
    const bin = path.join(work, 'bb');
    fs.mkdirSync(bin);
    const applets = spawnSync('busybox', ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const a of applets) fs.symlinkSync('/usr/bin/busybox', path.join(bin, a));
    const r = localRunner({
      shell: ['busybox', 'ash', '-s'],
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    const target: BackupTarget = {
      server: { name: 'alpine-1', backupDir: path.join(work, 'backups') },
      database: { name: 'shop', engine: 'postgres', mode: 'host', dbHost: '127.0.0.1', dbPort: pg.port },
      password: { kind: 'inline', password: pg.password },
    };
    const b = await backUpNow(r, target, {
      extraSinks: [commandSink({ id: 's3', run: "sh -c 'head -c 10 >/dev/null; exit 2'" })],
    });
    assert.deepEqual(b.failedSinks, ['s3']);
    pg.sql("UPDATE t SET v = 'changed'", 'shop');
    await restoreBackup(r, target, b.file);
    assert.equal(pg.sql('SELECT v FROM t', 'shop'), 'kept\n');
    const l = await listBackups(r, target.server, [{ name: 'shop', engine: 'postgres' }]);
    assert.deepEqual(
      l.byDatabase.get('shop')?.map((x) => x.filename),
      [b.file],
    );
  });
});
