// SQLite, the engine whose database is a file: real sqlite3, the local runner
// (bash and dash, the commands the SSH transport runs), and a second process
// writing to the database while it is backed up.
import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupError, type BackupTarget, backUpNow, restoreBackup } from '../../src/core/backup';
import { databaseInput } from '../../src/core/model';
import { localRunner } from '../world/localRunner';

const sqlite = (db: string, sql: string) => {
  const r = spawnSync('sqlite3', ['-bail', db, sql], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};

/** Writes rows in transactions of 100 until killed: a consistent copy holds a multiple of 100, ids 1..n. */
function startWriter(db: string): ChildProcess {
  const py = [
    'import sqlite3, sys',
    'c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)',
    'c.execute("PRAGMA busy_timeout = 30000")',
    'while True:',
    '    c.execute("BEGIN IMMEDIATE")',
    '    for _ in range(100): c.execute("INSERT INTO t (v) VALUES (randomblob(200))")',
    '    c.execute("COMMIT")',
  ].join('\n');
  return spawn('python3', ['-c', py, db], { stdio: 'ignore' });
}

const shells = [
  ['bash', '-s'],
  ['dash', '-s'],
].filter(([s]) => spawnSync('sh', ['-c', `command -v ${s}`]).status === 0);

describe('SQLite (real sqlite3, local runner)', function () {
  this.timeout(120_000);
  let work: string;
  let n = 0;
  before(function () {
    if (spawnSync('sh', ['-c', 'command -v sqlite3']).status !== 0) {
      console.log('    (skipped: sqlite3 is not installed: apt-get install sqlite3)');
      this.skip();
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-sqlite-'));
  });
  after(() => work && fs.rmSync(work, { recursive: true, force: true }));

  function world(journal: 'wal' | 'delete') {
    const dir = path.join(work, `w${++n}`);
    fs.mkdirSync(path.join(dir, 'app'), { recursive: true });
    const db = path.join(dir, 'app', 'data.db');
    sqlite(db, `PRAGMA journal_mode = ${journal}; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);`);
    fs.chmodSync(db, 0o640);
    const target: BackupTarget = {
      server: { name: 'web-1', backupDir: path.join(dir, 'backups') },
      database: { name: 'app', engine: 'sqlite', mode: 'host', dbPath: db },
    };
    return { dir, db, target };
  }

  /** The backup's own bytes, decompressed into a file sqlite3 can open. */
  function unpack(file: string, into: string): string {
    const r = spawnSync('zstd', ['-dc', file], { maxBuffer: 1 << 30 });
    assert.equal(r.status, 0);
    fs.writeFileSync(into, r.stdout);
    return into;
  }

  for (const [shell] of shells) {
    for (const journal of ['wal', 'delete'] as const) {
      it(`${shell}, journal ${journal}: backups taken while another process writes are consistent copies`, async () => {
        const w = world(journal);
        const runner = localRunner({ shell: [shell, '-s'] });
        const writer = startWriter(w.db);
        try {
          await new Promise((r) => setTimeout(r, 300));
          for (let i = 0; i < 3; i++) {
            const b = await backUpNow(runner, w.target);
            assert.match(b.file, /^web-1_app_sqlite_\d{8}T\d{6}Z(-\d+)?\.sqlite\.(zst|gz)$/);
            const copy = unpack(
              path.join(w.target.server.backupDir, b.file),
              path.join(w.dir, `copy${i}.db`),
            );
            assert.equal(sqlite(copy, 'PRAGMA integrity_check'), 'ok');
            const [count, max] = sqlite(copy, 'SELECT count(*), coalesce(max(id), 0) FROM t')
              .split('|')
              .map(Number);
            assert.equal(count % 100, 0, `a transaction was cut: ${count} rows`);
            assert.equal(count, max, 'ids 1..n: no row missing from the middle');
            assert.equal(
              fs.readFileSync(path.join(w.target.server.backupDir, `${b.file}.sha256`), 'utf8'),
              `${b.sha256}  ${b.file}\n`,
            );
          }
        } finally {
          writer.kill('SIGKILL');
        }
        assert.deepEqual(
          fs.readdirSync(w.target.server.backupDir).filter((f) => f.includes('.partial')),
          [],
        );
      });
    }

    it(`${shell}: restore checks the copy, then loads it into the live file: an open connection sees the restored data`, async () => {
      const w = world('wal');
      const runner = localRunner({ shell: [shell, '-s'] });
      sqlite(w.db, "INSERT INTO t (v) VALUES ('kept')");
      const b = await backUpNow(runner, w.target);
      sqlite(w.db, "UPDATE t SET v = 'changed'; INSERT INTO t (v) VALUES ('new')");
      // An application that keeps its connection open across the restore.
      const app = spawn(
        'python3',
        [
          '-c',
          'import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=30)\nprint(c.execute("SELECT group_concat(v) FROM t").fetchone()[0], flush=True)\nsys.stdin.readline()\nprint(c.execute("SELECT group_concat(v) FROM t").fetchone()[0], flush=True)',
          w.db,
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const lines: string[] = [];
      app.stdout.setEncoding('utf8');
      app.stdout.on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
      const inode = fs.statSync(w.db).ino;
      try {
        const deadline = Date.now() + 10_000;
        while (!lines.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(lines, ['changed,new']);
        const r = await restoreBackup(runner, w.target, b.file);
        assert.equal(r.verified, true);
        assert.equal(r.method, 'sqlite3');
        app.stdin.write('\n');
        while (lines.length < 2 && Date.now() < deadline + 10_000)
          await new Promise((r) => setTimeout(r, 20));
      } finally {
        app.kill();
      }
      assert.deepEqual(lines, ['changed,new', 'kept'], 'the open connection reads the restored data');
      assert.equal(sqlite(w.db, 'SELECT group_concat(v) FROM t'), 'kept');
      assert.equal(sqlite(w.db, 'PRAGMA integrity_check'), 'ok');
      assert.equal(fs.statSync(w.db).ino, inode, 'the same file, loaded in place');
      assert.equal(fs.statSync(w.db).mode & 0o777, 0o640);
    });

    it(`${shell}: a backup that fails PRAGMA integrity_check is refused and the database is untouched`, async () => {
      const w = world('delete');
      const runner = localRunner({ shell: [shell, '-s'] });
      sqlite(
        w.db,
        'INSERT INTO t (v) SELECT randomblob(3000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200) SELECT x FROM c)',
      );
      const b = await backUpNow(runner, w.target);
      // A damaged copy with a matching checksum: only the integrity check can catch it.
      const file = path.join(w.target.server.backupDir, b.file);
      const raw = spawnSync('zstd', ['-dc', file], { maxBuffer: 1 << 30 }).stdout;
      // Page 2 (the table's root): an invalid b-tree page type.
      raw.fill(0xff, 4096, 4096 + 8);
      const damaged = spawnSync('zstd', ['-q', '-c'], { input: raw, maxBuffer: 1 << 30 }).stdout;
      fs.writeFileSync(file, damaged);
      fs.writeFileSync(
        `${file}.sha256`,
        `${crypto.createHash('sha256').update(damaged).digest('hex')}  ${b.file}\n`,
      );
      const before = fs.readFileSync(w.db);
      await assert.rejects(
        restoreBackup(runner, w.target, b.file),
        (e: Error) =>
          e instanceof BackupError && e.kind === 'restore-failed' && /integrity_check/.test(e.message),
      );
      assert.ok(fs.readFileSync(w.db).equals(before), 'the database file is untouched');
    });
  }

  it('a database file that is not there: the error names the path, nothing is written', async () => {
    const w = world('wal');
    const target = { ...w.target, database: { ...w.target.database, dbPath: path.join(w.dir, 'gone.db') } };
    await assert.rejects(
      backUpNow(localRunner(), target),
      (e: Error) =>
        e instanceof BackupError && e.kind === 'dump-failed' && e.message.includes('gone.db is not a file'),
    );
    const dir = w.target.server.backupDir;
    assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], []);
  });

  it('Add Database: a SQLite database needs an absolute path and is never a container', () => {
    const ok = databaseInput.parse({
      serverId: 's',
      name: 'app',
      engine: 'sqlite',
      mode: 'host',
      dbPath: '/srv/app/data.db',
    });
    assert.equal(ok.dbPath, '/srv/app/data.db');
    assert.equal(ok.dbHost, undefined);
    const issue = (input: object) => {
      const r = databaseInput.safeParse({ serverId: 's', name: 'app', engine: 'sqlite', ...input });
      assert.ok(!r.success);
      return r.error.issues[0].message;
    };
    assert.match(
      issue({ mode: 'container', dbPath: '/srv/a.db' }),
      /is a file on the server, not a container/,
    );
    assert.match(issue({ mode: 'host' }), /needs the path of its file/);
    assert.match(issue({ mode: 'host', dbPath: 'data.db' }), /absolute path/);
    assert.match(issue({ mode: 'host', dbPath: '/srv/../etc/x.db' }), /must not contain "\.\."/);
    assert.match(issue({ mode: 'host', dbPath: "/srv/a'b.db" }), /absolute path of letters/);
  });
});
