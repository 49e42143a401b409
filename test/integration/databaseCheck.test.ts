// Add Database's check before it saves, against REAL PostgreSQL 15 and Redis 7
// started by the test world, and a real SQLite file: the dump tool is found as
// a backup finds it, the database answers the query a backup asks for its
// size, and what fails is named. The script runs through the local runner
// (the SSH transport's remote command, the script on stdin).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupError, type BackupTarget, checkDatabase } from '../../src/core/backup';
import { type Postgres, type Redis, freePort, startPostgres, startRedis } from '../world/databases';
import { localRunner } from '../world/localRunner';

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

async function rejects(p: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BackupError, String(e));
    assert.match(e.message, message);
    return;
  }
  assert.fail('expected the check to fail');
}

describe('Add Database check against real databases — local runner', function () {
  this.timeout(120_000);
  let pg: Postgres;
  let rd: Redis;
  let work: string;
  const runner = localRunner();
  const server = { name: 'web-1', backupDir: '/opt/infrakt/backups' };

  const pgTarget = (over: { port?: number; password?: string } = {}): BackupTarget => ({
    server,
    database: {
      name: 'shop',
      engine: 'postgres',
      mode: 'host',
      dbHost: '127.0.0.1',
      dbPort: over.port ?? pg.port,
      dbUser: 'postgres',
      dbName: 'shop',
    },
    password: { kind: 'inline', password: over.password ?? pg.password },
  });

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-dbcheck-it-'));
    [pg, rd] = await Promise.all([startPostgres(), startRedis()]);
    pg.createDatabase('shop');
    pg.sql(
      'CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 1000)',
      'shop',
    );
  });
  after(() => {
    pg?.stop();
    rd?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('PostgreSQL that answers: pg_dump found, the database answered with its size', async () => {
    const c = await checkDatabase(runner, pgTarget());
    assert.equal(c.tool, 'pg_dump');
    assert.equal(c.answered, 'yes');
    assert.ok((c.sizeBytes ?? 0) > 1000, `size ${c.sizeBytes}`);
  });

  it('a port nothing listens on: "did not answer" with the client’s own words, and what to check', async () => {
    await rejects(
      checkDatabase(runner, pgTarget({ port: await freePort() })),
      /^shop on web-1 did not answer: .*(Connection refused|could not connect).* — check its host, port, user and password/,
    );
  });

  it('a wrong password: "did not answer" naming the authentication failure, never the password', async () => {
    const wrong = 'not-the-Password-9x';
    try {
      await checkDatabase(runner, pgTarget({ password: wrong }));
      assert.fail('expected the check to fail');
    } catch (e) {
      assert.ok(e instanceof BackupError, String(e));
      assert.match(e.message, /did not answer: .*password authentication failed/);
      assert.ok(!e.message.includes(wrong));
    }
  });

  it('no pg_dump on the server: the tool is named with Provision Server as the next step', async () => {
    const bin = pathWithout(path.join(work, 'bin-no-pg'), 'pg_dump');
    const noPgDump = localRunner({ env: { ...process.env, PATH: bin } });
    await rejects(checkDatabase(noPgDump, pgTarget()), /^pg_dump not found on web-1 — run Provision Server$/);
  });

  it('Redis (no size query): redis-cli found; whether it answers is left to the first backup', async () => {
    const c = await checkDatabase(runner, {
      server,
      database: { name: 'cache', engine: 'redis', mode: 'host', dbHost: '127.0.0.1', dbPort: rd.port },
      password: { kind: 'inline', password: rd.password },
    });
    assert.deepEqual(c, { tool: 'redis-cli --rdb', answered: 'unknown', sizeBytes: undefined });
  });

  it('SQLite: a path that is no file is named, with the path to check', async () => {
    await rejects(
      checkDatabase(runner, {
        server,
        database: { name: 'app', engine: 'sqlite', mode: 'host', dbPath: path.join(work, 'missing.db') },
      }),
      /^app on web-1 did not answer: .*is not a file on this server.* — check the path of its file\.$/,
    );
  });
});
