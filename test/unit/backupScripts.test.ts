// Refusals before any script exists (hostile input), the listing and delete
// scripts, and Back Up Now + Restore for real under dash with stubs.
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
  listScript,
  restoreScript,
  backupFilename,
} from '../../src/core/backup';
import type { Engine } from '../../src/core/model';
import { SH } from '../../src/core/remote/modules';
import { remoteScript } from '../../src/core/remote/script';
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

const shells = ['bash', 'dash', 'busybox'].filter(
  (s) => spawnSync('sh', ['-c', `command -v ${s}`]).status === 0,
);

describe('backup scripts (text)', () => {
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
        'a new MariaDB database in a container',
        () => restoreScript(target('mysql', 'container'), fileFor('mysql'), { createDatabase: true }),
      ],
      [
        'a new Redis database',
        () => restoreScript(target('redis', 'host'), fileFor('redis'), { createDatabase: true }),
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
});

describe('strict mode (common.sh) under each shell installed here', () => {
  for (const sh of shells) {
    it(`${sh}: survives the pipefail probe under set -eu, and has pipefail unless it is dash`, () => {
      const args = sh === 'busybox' ? ['ash', '-s'] : ['-s'];
      const probe = remoteScript({
        vars: {},
        modules: [
          SH.common,
          {
            name: 'probe',
            text: 'probe() {\n  infrakt_strict\n  echo alive\n  set -o | grep pipefail || :\n}',
          },
        ],
        call: 'probe',
      });
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
