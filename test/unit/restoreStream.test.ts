// A streamed restore's verdict, on this machine with the real shell library
// and a stand-in restore tool that "commits" as soon as it has read the whole
// dump, without waiting for the end of its input (as pg_restore may): the tool
// must never get the whole dump before the stream's sha256 matched.
// (The same path with real PostgreSQL and S3: test/integration/restoreTo.test.ts.)
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { restoreScript } from '../../src/core/backup';
import { MARKS } from '../../src/core/remote/protocol';
import { EXIT } from '../../src/core/backup/errors';
import { SHELLS, makeBin, toolPath } from '../support/stubBin';

const REAL = [
  'sha256sum',
  'tee',
  'head',
  'tail',
  'cat',
  'mkfifo',
  'mktemp',
  'zstd',
  'sleep',
  'rm',
  'cut',
  'mv',
  'kill',
  'grep',
  'tr',
  'sed',
  'wc',
  'df',
  'awk',
  'find',
  'stat',
  'sort',
  'date',
  'id',
  'chmod',
];

describe('streamed restore: the restore tool gets the whole dump only after the sha256 matched', function () {
  this.timeout(30_000);
  let dir: string;
  let bin: string;
  let compressed: Buffer;
  let plain: Buffer;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-rstream-'));
    plain = randomBytes(3 * 1024 * 1024);
    // The stand-in pg_restore: what it reads, and a commit mark once it has the whole dump.
    bin = makeBin(path.join(dir, 'bin'), {
      real: REAL,
      stubs: {
        pg_restore: `head -c ${plain.length} >"${dir}/got"\n[ "$(wc -c <"${dir}/got")" -eq ${plain.length} ] && echo committed >"${dir}/committed"\ncat >/dev/null`,
      },
    });
    compressed = spawnSync('zstd', ['-q', '-c'], { input: plain, maxBuffer: 64 << 20 }).stdout;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (shell: string[], sha256: string, data: Buffer) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      for (const f of ['got', 'committed']) fs.rmSync(path.join(dir, f), { force: true });
      const script = restoreScript(
        {
          server: { name: 'web-2', backupDir: path.join(dir, 'backups') },
          database: {
            name: 'shop',
            engine: 'postgres',
            mode: 'host',
            dbHost: '127.0.0.1',
            dbPort: 5432,
            dbUser: 'postgres',
            dbName: 'shop',
          },
        },
        'web-1_shop_postgres_20260101T000000Z.dump.zst',
        { source: { kind: 'stream', sha256 } },
      );
      const child = spawn(shell[0], shell.slice(1), {
        env: { PATH: bin, TMPDIR: dir },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = new RegExp(`^${MARKS.streamIn} (.+)$`, 'm').exec(stdout);
        if (m && !stdout.includes('@@fed')) {
          stdout += '@@fed\n';
          fs.createWriteStream(m[1]).end(data);
        }
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(script);
    });

  for (const [label, shell] of SHELLS) {
    it(`${label}: a matching stream is restored whole`, async () => {
      const sha = createHash('sha256').update(compressed).digest('hex');
      const r = await run(shell, sha, compressed);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(fs.readFileSync(path.join(dir, 'got')).equals(plain));
      assert.ok(fs.existsSync(path.join(dir, 'committed')));
      assert.match(r.stdout, new RegExp(`${MARKS.step} verified ${sha}`));
    });

    it(`${label}: a stream that does not match is stopped before the tool has the whole dump (no commit)`, async () => {
      // Other bytes that decompress to the same dump (no frame checksum): only the sha256 tells them apart.
      const other = spawnSync('zstd', ['-q', '-c', '--no-check', '-3'], {
        input: plain,
        maxBuffer: 64 << 20,
      }).stdout;
      assert.ok(!other.equals(compressed));
      const tampered = other;
      const sha = createHash('sha256').update(compressed).digest('hex');
      const r = await run(shell, sha, tampered);
      assert.equal(r.code, EXIT.checksumMismatch, r.stderr);
      assert.ok(!fs.existsSync(path.join(dir, 'committed')), 'the tool never got the whole dump');
      assert.ok(fs.statSync(path.join(dir, 'got')).size > 0, 'it had started');
      assert.ok(fs.statSync(path.join(dir, 'got')).size < plain.length);
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.startsWith('infrakt.')),
        [],
        'the work dir is removed',
      );
    });
  }

  // An engine that cannot roll back (here SQLite, with the real sqlite3): the stream is spooled
  // into the backup dir, checked, restored from there, and the spool goes.
  it('bash: SQLite gets the stream spooled and checked first; the spool is removed, a mismatch leaves the file untouched', async function () {
    const sqlite3 = spawnSync('sh', ['-c', 'command -v sqlite3'], { encoding: 'utf8' }).stdout.trim();
    if (!sqlite3) this.skip();
    const spoolBin = makeBin(path.join(dir, 'bin-sqlite'), { real: [...REAL, 'sqlite3'] });
    const backups = path.join(dir, 'sq-backups');
    fs.mkdirSync(backups, { recursive: true });
    const source = path.join(dir, 'source.sqlite');
    const live = path.join(dir, 'live.sqlite');
    spawnSync(sqlite3, [source, "CREATE TABLE t (v text); INSERT INTO t VALUES ('from backup');"]);
    spawnSync(sqlite3, [live, "CREATE TABLE t (v text); INSERT INTO t VALUES ('live');"]);
    const stored = spawnSync('zstd', ['-q', '-c'], { input: fs.readFileSync(source) }).stdout;
    const runSqlite = (sha256: string) =>
      new Promise<{ code: number; stderr: string }>((resolve, reject) => {
        const script = restoreScript(
          {
            server: { name: 'web-2', backupDir: backups },
            database: { name: 'app', engine: 'sqlite', mode: 'host', dbPath: live },
          },
          'web-1_app_sqlite_20260101T000000Z.sqlite.zst',
          { source: { kind: 'stream', sha256, sizeBytes: stored.length } },
        );
        const child = spawn(toolPath('bash'), ['-s'], {
          env: { PATH: spoolBin, TMPDIR: dir },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        let fed = false;
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = new RegExp(`^${MARKS.streamIn} (.+)$`, 'm').exec(stdout);
          if (m && !fed) {
            fed = true;
            fs.createWriteStream(m[1]).end(stored);
          }
        });
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('error', reject);
        child.once('close', (code) => resolve({ code: code ?? -1, stderr }));
        child.stdin.end(script);
      });
    const value = () => spawnSync(sqlite3, [live, 'SELECT v FROM t'], { encoding: 'utf8' }).stdout.trim();
    const bad = await runSqlite('0'.repeat(64));
    assert.equal(bad.code, EXIT.checksumMismatch, bad.stderr);
    assert.equal(value(), 'live');
    assert.deepEqual(fs.readdirSync(backups), [], 'the spool is removed');
    const ok = await runSqlite(createHash('sha256').update(stored).digest('hex'));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(value(), 'from backup');
    assert.deepEqual(fs.readdirSync(backups), [], 'the spool is removed');
  });
});
