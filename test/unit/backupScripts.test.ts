// Script text of every backup plan, engine × mode: what it runs, where the
// password goes (only the env preamble), and what it refuses to build.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BackupError,
  type BackupTarget,
  backUpNow,
  backupScript,
  restoreBackup,
  deleteScript,
  discoverScript,
  listScript,
  restoreScript,
  backupFilename,
  PASSWORD_ENV,
} from '../../src/core/backup';
import { ENGINES, type Engine } from '../../src/core/model';
import { localRunner } from '../world/localRunner';

const CANARY = `CANARY-Pw'd"$(touch /tmp/infrakt-canary)\`x\` ;|&`;
const when = new Date(Date.UTC(2026, 1, 28, 2, 0, 0));

function target(
  engine: Engine,
  mode: 'host' | 'container',
  over: Partial<BackupTarget['database']> = {},
): BackupTarget {
  return {
    server: { name: 'web-1', backupDir: '/opt/infrakt/backups' },
    database:
      mode === 'host'
        ? {
            name: 'shop',
            engine,
            mode,
            dbHost: '127.0.0.1',
            dbPort: 5555,
            dbUser: 'app',
            dbName: 'shop',
            ...over,
          }
        : { name: 'shop', engine, mode, container: 'infrakt-db-shop', ...over },
    password: mode === 'host' ? { kind: 'inline', password: CANARY } : undefined,
  };
}

function fileFor(engine: Engine): string {
  return backupFilename('web-1', 'shop', engine, when, engine === 'mongodb' ? 'gz' : 'zst');
}

/** Pipefail where the shell has it; dash exits on an unknown `set -o` before any `|| :` could run. */
const PIPEFAIL_LINE = '(set -o pipefail) 2>/dev/null && set -o pipefail';

const shells = ['bash', 'dash', 'busybox'].filter(
  (s) => spawnSync('sh', ['-c', `command -v ${s}`]).status === 0,
);

function syntaxOk(script: string): void {
  for (const sh of shells) {
    const args = sh === 'busybox' ? ['ash', '-n'] : ['-n'];
    const r = spawnSync(sh, args, { input: script, encoding: 'utf8' });
    assert.equal(r.status, 0, `${sh} -n: ${r.stderr}`);
  }
}

/** The canary may appear only in `VAR='...'` directly followed by `export VAR`, before anything runs. */
function assertSecretOnlyInPreamble(script: string, engine: Engine): void {
  const lines = script.split('\n').map((l) => l.trim());
  const hits = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes('CANARY-'));
  assert.equal(hits.length, 1, `secret appears ${hits.length} times`);
  const [line, i] = hits[0];
  const v = PASSWORD_ENV[engine];
  assert.ok(line.startsWith(`${v}='`), line);
  assert.equal(lines[i + 1], `export ${v}`);
  // Nothing but strict mode and umask comes before it: no command could have seen it in argv.
  assert.deepEqual(lines.slice(1, i), ['set -eu', PIPEFAIL_LINE, 'umask 077']);
  // Quoted so the shell reads it back verbatim: the assignment evaluates to the canary.
  const r = spawnSync('bash', ['-c', `${line}; printf %s "$${v}"`], { encoding: 'utf8' });
  assert.equal(r.stdout, CANARY);
}

describe('backup scripts (text)', () => {
  for (const engine of ENGINES) {
    for (const mode of ['host', 'container'] as const) {
      describe(`${engine} · ${mode} mode`, () => {
        if (mode === 'host') {
          it('restore: the password is only an exported env variable at the top', () =>
            assertSecretOnlyInPreamble(restoreScript(target(engine, mode), fileFor(engine)), engine));
        }

        it('restore: verifies the sha256 first and exits 72 on mismatch before any restore step', () => {
          const r = restoreScript(target(engine, mode), fileFor(engine));
          const verify = r.indexOf('infrakt_actual=$(sha256sum');
          assert.ok(verify > 0);
          assert.match(r, /exit 72/);
          for (const touch of [
            'pg_restore --clean',
            'REPLICAOF 127',
            'docker stop',
            'mongorestore --host',
            'mongorestore "$@"',
            '| "$infrakt_restore"',
            '"$client" -u',
          ]) {
            const at = r.indexOf(touch);
            if (at >= 0) assert.ok(at > verify, `${touch} before verification`);
          }
          syntaxOk(r);
        });
      });
    }
  }

  it('restore commands per engine: pg_restore --clean --if-exists --no-owner; psql for .sql.gz; mysql; mongorestore --drop', () => {
    const pg = restoreScript(target('postgres', 'host'), fileFor('postgres'));
    assert.match(pg, /zstd -dc/);
    assert.match(
      pg,
      /pg_restore --clean --if-exists --no-owner --single-transaction -h '127\.0\.0\.1' -p 5555 -U 'app' -d 'shop'/,
    );
    const plain = restoreScript(target('postgres', 'host'), 'web-1_shop_postgres_20260228T020000Z.sql.gz');
    assert.match(plain, /gzip -dc/);
    assert.match(plain, /psql -X -q -v ON_ERROR_STOP=1 --single-transaction/);
    assert.match(
      restoreScript(target('mysql', 'host'), fileFor('mysql')),
      /"\$infrakt_restore" -h '127\.0\.0\.1' -P 5555 -u 'app' 'shop'/,
    );
    assert.match(
      restoreScript(target('mongodb', 'host'), fileFor('mongodb')),
      /mongorestore .*--drop --archive --gzip/,
    );
    assert.match(
      restoreScript(target('mongodb', 'container'), fileFor('mongodb')),
      /docker exec -i 'infrakt-db-shop' sh -c/,
    );
  });

  it('Redis restore: systemd swap, container stop/cp/start, or replication from a temporary server', () => {
    const host = restoreScript(target('redis', 'host'), fileFor('redis'));
    assert.match(host, /CONFIG GET dir/);
    assert.match(host, /systemctl stop "\$infrakt_unit"/);
    assert.match(host, /REPLICAOF 127\.0\.0\.1 "\$infrakt_tport"/);
    assert.match(host, /REPLICAOF NO ONE/);
    const c = restoreScript(target('redis', 'container'), fileFor('redis'));
    assert.match(c, /docker stop 'infrakt-db-shop'/);
    assert.match(c, /docker cp "\$infrakt_raw" 'infrakt-db-shop':"\$infrakt_rdir\/\$infrakt_rfile"/);
    assert.match(c, /docker start 'infrakt-db-shop'/);
    assert.throws(
      () => restoreScript(target('redis', 'host', { dbHost: 'cache.internal' }), fileFor('redis')),
      /Redis restore needs the Redis server on this server/,
    );
  });

  describe('hostile input is refused before any script exists', () => {
    const cases: [string, () => string][] = [
      [
        'database name with a command',
        () => backupScript(target('postgres', 'host', { name: 'x; touch /tmp/pwned' })),
      ],
      ['dbName with a command', () => backupScript(target('postgres', 'host', { dbName: 'x$(id)' }))],
      [
        'container with a command',
        () => backupScript(target('postgres', 'container', { container: 'c;rm -rf /' })),
      ],
      ['host as an option', () => backupScript(target('postgres', 'host', { dbHost: '-oProxyCommand=x' }))],
      ['user with a quote', () => backupScript(target('mysql', 'host', { dbUser: "root'" }))],
      [
        'server name with a space',
        () => backupScript({ ...target('redis', 'host'), server: { name: 'a b', backupDir: '/x' } }),
      ],
      [
        'backup dir with $()',
        () =>
          backupScript({ ...target('redis', 'host'), server: { name: 'web-1', backupDir: '/tmp/$(id)' } }),
      ],
      ['backup dir with ..', () => listScript({ name: 'web-1', backupDir: '/opt/../etc' })],
      ['restore of a path', () => restoreScript(target('postgres', 'host'), '../../etc/passwd')],
      ['restore of another engine', () => restoreScript(target('postgres', 'host'), fileFor('mysql'))],
      [
        'restore of a partial',
        () => restoreScript(target('postgres', 'host'), `${fileFor('postgres')}.partial`),
      ],
      [
        'delete of another server',
        () => deleteScript({ name: 'web-2', backupDir: '/b' }, fileFor('postgres')),
      ],
      [
        'delete with a slash',
        () => deleteScript({ name: 'web-1', backupDir: '/b' }, `x/${fileFor('postgres')}`),
      ],
    ];
    for (const [name, build] of cases) {
      it(name, () => {
        assert.throws(build, (e: unknown) => e instanceof BackupError && e.kind === 'invalid-input');
      });
    }
    it('names the reason', () => {
      assert.throws(
        () => backupScript(target('postgres', 'host', { name: 'x; touch /tmp/pwned' })),
        /Database name may use letters/,
      );
    });
  });

  it('list, delete and discover scripts are valid shell', () => {
    const l = listScript({ name: 'web-1', backupDir: '/opt/infrakt/backups' });
    assert.match(l, /find \. -maxdepth 1 -type f -name 'web-1_\*'/);
    assert.match(l, /-exec sh -c 'stat -c '\\''@@infrakt:file %s %Y %n'\\'' "\$@" \|\| :' sh \{\} \+/);
    syntaxOk(l);
    const d = deleteScript({ name: 'web-1', backupDir: '/opt/infrakt/backups' }, fileFor('postgres'));
    assert.match(d, /rm -f -- "\$infrakt_file" "\$infrakt_file\.sha256"/);
    syntaxOk(d);
    const disc = discoverScript();
    assert.match(disc, /docker ps --format '\{\{json \.\}\}'/);
    assert.match(disc, /ss -ltn/);
    assert.match(disc, /\/proc\/net\/tcp/);
    syntaxOk(disc);
  });
});

describe('strict-mode head under each shell installed here', () => {
  for (const sh of shells) {
    it(`${sh}: survives the pipefail line under set -eu, and has pipefail unless it is dash`, () => {
      const args = sh === 'busybox' ? ['ash', '-s'] : ['-s'];
      const probe = `set -eu\n${PIPEFAIL_LINE}\necho alive\nset -o | grep pipefail || :\n`;
      const r = spawnSync(sh, args, { input: probe, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^alive\n/);
      if (sh !== 'dash') assert.match(r.stdout, /pipefail\s+on/);
    });
  }
});

// Debian's /bin/sh. Real scripts, real dash, real zstd/sha256sum/tee; only the
// database tools are stubs, so no database is needed: each stub reads or writes
// the bytes the test chose, or fails on request.
describe('Back Up Now and Restore run under dash for real (stub pg_dump / pg_restore)', function () {
  this.timeout(30_000);
  const hasDash = shells.includes('dash');
  let work: string;
  let stubs: string;
  let data: string;
  const env = (over: NodeJS.ProcessEnv = {}, first?: string) => ({
    ...process.env,
    PATH: `${first ? `${first}:` : ''}${stubs}:${process.env.PATH ?? ''}`,
    STUB_DATA: data,
    STUB_RESTORED: path.join(work, 'restored'),
    ...over,
  });
  const dash = (e: NodeJS.ProcessEnv) => localRunner({ shell: ['dash', '-s'], env: e });
  const pgTarget = (): BackupTarget => ({
    server: { name: 'web-1', backupDir: path.join(work, 'backups') },
    database: { name: 'shop', engine: 'postgres', mode: 'host', dbHost: '127.0.0.1', dbPort: 5432 },
    password: { kind: 'inline', password: CANARY },
  });
  const files = () => fs.readdirSync(path.join(work, 'backups')).sort();
  const stub = (dir: string, name: string, body: string) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  };

  before(function () {
    if (!hasDash) {
      console.log('    (skipped: dash is not installed on this machine: apt-get install dash)');
      this.skip();
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-dash-'));
    stubs = path.join(work, 'stubs');
    data = path.join(work, 'dump.bin');
    // Half random, half repetitive: 3 MB, several zstd blocks.
    fs.writeFileSync(data, Buffer.concat([crypto.randomBytes(1.5e6), Buffer.alloc(1.5e6, 'infrakt ')]));
    stub(
      stubs,
      'pg_dump',
      'if [ -n "${STUB_DUMP_FAIL:-}" ]; then head -c 100000 "$STUB_DATA"; exit 3; fi\ncat "$STUB_DATA"',
    );
    stub(stubs, 'pg_restore', 'cat > "$STUB_RESTORED"');
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('backs up (file, .sha256, result line) and restores the same bytes', async () => {
    const b = await backUpNow(dash(env()), pgTarget());
    assert.deepEqual(b.failedSinks, []);
    assert.deepEqual(files(), [b.file, `${b.file}.sha256`]);
    const file = path.join(work, 'backups', b.file);
    assert.equal(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'), b.sha256);
    await restoreBackup(dash(env()), pgTarget(), b.file);
    assert.ok(fs.readFileSync(path.join(work, 'restored')).equals(fs.readFileSync(data)));
    fs.rmSync(file);
    fs.rmSync(`${file}.sha256`);
  });

  it('a dump that fails mid-stream fails the backup and leaves no file (no pipefail needed)', async () => {
    await assert.rejects(
      backUpNow(dash(env({ STUB_DUMP_FAIL: '1' })), pgTarget()),
      (e: unknown) =>
        e instanceof BackupError && e.kind === 'dump-failed' && /pg_dump \(exit 3\)/.test(e.message),
    );
    assert.deepEqual(files(), []);
  });

  it('a compressor that fails fails the backup and leaves no file', async () => {
    const bad = path.join(work, 'bad-zstd');
    stub(bad, 'zstd', 'cat > /dev/null; exit 9');
    await assert.rejects(
      backUpNow(dash(env({}, bad)), pgTarget()),
      (e: unknown) =>
        e instanceof BackupError && e.kind === 'dump-failed' && /zstd \(exit 9\)/.test(e.message),
    );
    assert.deepEqual(files(), []);
  });

  it('restore: a decompressor that fails fails the restore even though the restore tool exits 0', async () => {
    const name = backupFilename('web-1', 'shop', 'postgres', when, 'zst');
    fs.writeFileSync(path.join(work, 'backups', name), 'not zstd at all');
    await assert.rejects(
      restoreBackup(dash(env()), pgTarget(), name, { allowUnverified: true }),
      (e: unknown) =>
        e instanceof BackupError && e.kind === 'restore-failed' && /zstd -dc -q failed/.test(e.message),
    );
    fs.rmSync(path.join(work, 'backups', name));
  });
});
