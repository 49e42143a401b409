// Verify Backup below the transport: what the listing and the tree make of a
// verification record, the requests refused before any script exists, and the
// whole verify module run for real on SQLite (real sqlite3, zstd) under bash,
// dash and busybox ash — the shells a server may run it with.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type BackupTarget, backUpNow, BackupError } from '../../src/core/backup';
import {
  type Verification,
  newestVerification,
  parseVerifications,
  shortCount,
  verificationText,
} from '../../src/core/backup/verification';
import { verifyBackup, verifyScript } from '../../src/core/backup/verify';
import type { Database, Server } from '../../src/core/model';
import { MARKS } from '../../src/core/remote/protocol';
import { rowFor } from '../../src/core/treeRows';
import { localRunner } from '../world/localRunner';

const v = (over: Partial<Verification> = {}): Verification => ({
  verified: 'web-1_shop_postgres_20261205T020000Z.dump.zst',
  ok: true,
  at: Date.UTC(2026, 11, 5, 2, 0, 0) / 1000,
  ms: 1234,
  tables: 14,
  rows: 1_234_567,
  expectedTables: 14,
  expectedRows: 1_234_567,
  problem: '',
  ...over,
});
const now = new Date(Date.UTC(2026, 11, 7, 3, 0, 0));

describe('Verify Backup: records, rows and refusals', () => {
  it('counts read short, and the tree line says when and what came back', () => {
    assert.deepEqual([0, 999, 1000, 1500, 12_345, 1_234_567, 3e9].map(shortCount), [
      '0',
      '999',
      '1 k',
      '1.5 k',
      '12 k',
      '1.2 M',
      '3 G',
    ]);
    assert.equal(verificationText(v(), 'tables', now), 'verified 2 days ago · 14 tables, 1.2 M rows');
    assert.equal(
      verificationText(v({ tables: 1, rows: 1 }), 'keys', now),
      'verified 2 days ago · 1 database, 1 key',
    );
    assert.equal(
      verificationText(v({ ok: false, problem: 'x' }), 'tables', now),
      'verification failed 2 days ago',
    );
  });

  it('the listing carries each backup’s record; a record cut short or of another shape is no verification', () => {
    const good = JSON.stringify(v());
    const out = [
      `${MARKS.verified} a.dump.zst ${good}`,
      `${MARKS.verified} b.dump.zst {"verified":"b","ok":tr`,
      `${MARKS.verified} c.dump.zst {"ok":true}`,
      `${MARKS.file} 1 2 ./a.dump.zst`,
    ].join('\n');
    const m = parseVerifications(out);
    assert.deepEqual([...m.keys()], ['a.dump.zst']);
    assert.equal(newestVerification([undefined, v({ at: 5 }), v({ at: 9 }), v({ at: 7 })])?.at, 9);
  });

  it('the backup row and the database row show the newest verification; a failure says what was wrong in the tooltip', () => {
    const server = {
      id: 's',
      name: 'web-1',
      host: 'h',
      port: 22,
      user: 'root',
      auth: 'agent',
      backupDir: '/b',
    } as Server;
    const database = {
      id: 'd',
      name: 'shop',
      engine: 'postgres',
      mode: 'host',
      retention: {},
    } as unknown as Database;
    const entry = {
      filename: v().verified,
      sizeBytes: 1000,
      modified: new Date(now.getTime() - 3600_000),
      location: 'local' as const,
      hasChecksum: true,
    };
    const ok = rowFor({ kind: 'backup', server, database, entry: { ...entry, verification: v() } }, now);
    assert.match(ok.description ?? '', / · verified 2 days ago · 14 tables, 1\.2 M rows$/);
    assert.match(
      ok.tooltip,
      /Verified 2026-12-05 02:00 UTC: restored into a scratch copy, 14 tables, 1\.2 M rows in 1\.2 s/,
    );
    const bad = rowFor(
      {
        kind: 'backup',
        server,
        database,
        entry: { ...entry, verification: v({ ok: false, problem: 'nothing came back' }) },
      },
      now,
    );
    assert.match(bad.tooltip, /Verification failed 2026-12-05 02:00 UTC: nothing came back/);
    const db = rowFor(
      {
        kind: 'database',
        server,
        database,
        backups: { state: 'listed', count: 1, newest: entry.modified, verified: v() },
      },
      now,
    );
    assert.match(db.description ?? '', /verified 2 days ago · 14 tables, 1\.2 M rows/);
    const plain = rowFor({ kind: 'backup', server, database, entry }, now);
    assert.doesNotMatch(plain.description ?? '', /verif/);
  });

  it('refused before any script exists: a container database, an engine without a scratch target, a stranger file', () => {
    const server = { name: 'web-1', backupDir: '/b' };
    const file = 'web-1_shop_postgres_20261205T020000Z.dump.zst';
    assert.throws(
      () =>
        verifyScript(
          { server, database: { name: 'shop', engine: 'postgres', mode: 'container', container: 'pg' } },
          file,
        ),
      (e: BackupError) => e.kind === 'invalid-input' && /container/.test(e.message),
    );
    assert.throws(
      () =>
        verifyScript(
          {
            server,
            database: { name: 'shop', engine: 'mongodb', mode: 'host', dbHost: '127.0.0.1', dbPort: 27017 },
          },
          'web-1_shop_mongodb_20261205T020000Z.archive.gz',
        ),
      /not available for MongoDB/,
    );
    assert.throws(
      () =>
        verifyScript(
          { server, database: { name: 'shop', engine: 'postgres', mode: 'host', dbHost: 'h', dbPort: 5432 } },
          '../etc/passwd',
        ),
      /not an infrakt backup file name/,
    );
  });
});

const shells = (
  [
    ['bash', ['bash', '-s']],
    ['dash', ['dash', '-s']],
    ['busybox ash', ['busybox', 'ash', '-s']],
  ] as const
).filter(([, cmd]) => spawnSync('sh', ['-c', `command -v ${cmd[0]}`]).status === 0);

describe('Verify Backup run for real on SQLite (bash, dash, busybox ash)', function () {
  this.timeout(60_000);
  let work: string;
  before(function () {
    if (spawnSync('sh', ['-c', 'command -v sqlite3 && command -v zstd']).status !== 0) this.skip();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-verify-unit-'));
  });
  after(() => work && fs.rmSync(work, { recursive: true, force: true }));

  for (const [name, shell] of shells) {
    it(`${name}: the counts of backup time come back; a file cut in half fails; the temp dir goes`, async () => {
      const dir = path.join(work, name.replace(/\W/g, ''));
      fs.mkdirSync(dir);
      const tmp = path.join(dir, 'tmp');
      fs.mkdirSync(tmp);
      const db = path.join(dir, 'app.sqlite');
      execFileSync('sqlite3', [
        db,
        'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2500) INSERT INTO t (v) SELECT hex(randomblob(40)) FROM s; CREATE TABLE u (x);',
      ]);
      const runner = localRunner({ shell: [...shell], env: { ...process.env, TMPDIR: tmp } });
      const target: BackupTarget = {
        server: { name: 'web-1', backupDir: path.join(dir, 'backups') },
        database: { name: 'app', engine: 'sqlite', mode: 'host', dbPath: db },
      };
      const b = await backUpNow(runner, target);
      const good = await verifyBackup(runner, target, b.file);
      assert.equal(good.ok, true, good.problem);
      assert.deepEqual(
        good.tableCounts.map((t) => [t.name, t.rows, t.expected]),
        [
          ['t', 2500, 2500],
          ['u', 0, 0],
        ],
      );
      assert.deepEqual(fs.readdirSync(tmp), [], 'no temp dir left');
      // The same name's bytes cut in half (sha256 rewritten, so only the restore can tell).
      const file = path.join(target.server.backupDir, b.file);
      const raw = execFileSync('zstd', ['-dc', file]);
      fs.writeFileSync(file, execFileSync('zstd', ['-q', '-c'], { input: raw.subarray(0, raw.length >> 1) }));
      const sum = execFileSync('sha256sum', [file], { encoding: 'utf8' }).slice(0, 64);
      fs.writeFileSync(`${file}.sha256`, `${sum}  ${b.file}\n`);
      const bad = await verifyBackup(runner, target, b.file);
      assert.equal(bad.ok, false);
      assert.match(bad.problem, /did not restore|integrity_check|did not come back|fewer rows/);
      const rec = JSON.parse(fs.readFileSync(`${file}.verify`, 'utf8'));
      assert.equal(rec.ok, false);
      assert.deepEqual(fs.readdirSync(tmp), [], 'no temp dir left after the failure');
    });
  }
});
