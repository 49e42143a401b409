// A schedule's verification restore on real parts: installed over the pooled
// ssh2 transport into a real sshd (root's real crontab, saved and restored;
// the expression never fires), the script run as cron runs it, with a real
// PostgreSQL and a real HTTP receiver for the failure alert. A backup that
// does not restore is made by a pg_restore on the run's PATH that restores
// nothing; a cancel by SIGTERM to the run while that pg_restore hangs.
import * as assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AlertTarget } from '../../src/core/alerts/destinations';
import { forServer } from '../../src/core/backup';
import type { Server } from '../../src/core/model';
import { EXIT } from '../../src/core/remote/protocol';
import { shellQuote as q } from '../../src/core/remote/script';
import { type SchedulePlan, installSchedule } from '../../src/core/schedule/actions';
import { scheduledBackupScript } from '../../src/core/schedule/script';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { pgrep } from '../support/processes';
import { keyServer, testEnv } from '../support/sshEnv';
import { scheduleFiles, sigtermRun } from '../support/scheduleRun';
import { makeBin } from '../support/stubBin';
import { readCrontab, writeCrontab } from '../world/crontab';
import { type Postgres, hostDatabase, startPostgres, until } from '../world/databases';
import { type HttpReceiver, startHttpReceiver } from '../world/httpReceiver';
import { startSshServer, type SshServer } from '../world/sshServer';

describe('scheduled verification restores (real sshd + crontab + PostgreSQL + HTTP receiver)', function () {
  this.timeout(180_000);
  let sshd: SshServer;
  let pg: Postgres;
  let rx: HttpReceiver;
  let pool: ConnectionPool;
  let work: string;
  let server: Server;
  let savedCrontab: string | null | undefined;
  const databaseId = `it-sverify-${process.pid}`;
  let files: { passwordFile: string; alertsPath: string };
  let alerts: AlertTarget[];
  const plan = (verify: SchedulePlan['verify']): SchedulePlan => ({
    databaseId,
    target: {
      server,
      database: hostDatabase(pg, 'shop'),
      password: { kind: 'inline', password: pg.password },
    },
    expression: '0 0 31 2 *',
    // Last 1: a retention applied after a backup that does not restore would delete the last good one.
    retention: { local: { last: 1 } },
    alerts,
    verify,
    files,
  });
  const { paths, status, log } = scheduleFiles(() => server.backupDir, 'shop');
  const backups = () =>
    fs
      .readdirSync(server.backupDir)
      .filter((f) => /^web-1_shop_postgres_.*\.dump\.zst$/.test(f))
      .sort();
  const scratch = () =>
    pg.sql("SELECT datname FROM pg_database WHERE datname LIKE 'infrakt_verify_%'").trim();
  const verdict = (file: string) =>
    JSON.parse(fs.readFileSync(path.join(server.backupDir, `${file}.verify`), 'utf8')) as {
      ok: boolean;
      tables: number | null;
      rows: number | null;
      problem: string;
    };
  /** As cron runs it: a bare environment; `bin` first on PATH when given. */
  const runLikeCron = (bin?: string) =>
    pool.run(
      server,
      `env -i PATH=${bin ? `${q(bin)}:` : ''}/usr/bin:/bin HOME=/root SHELL=/bin/sh LOGNAME=root ${q(paths().script)}`,
    );
  const install = async (verify: SchedulePlan['verify']) => {
    await installSchedule(forServer(pool, server), plan(verify));
  };

  before(async () => {
    savedCrontab = readCrontab();
    [sshd, pg, rx] = await Promise.all([startSshServer(), startPostgres(), startHttpReceiver()]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-sverify-'));
    files = {
      passwordFile: path.join(work, 'opt', '.secrets', 'shop.env'),
      alertsPath: path.join(work, 'opt', '.alerts', 'destinations'),
    };
    server = keyServer(sshd, path.join(work, 'backups'));
    pool = new ConnectionPool(testEnv());
    pg.createDatabase('shop');
    pg.sql(
      'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 500) g',
      'shop',
    );
    alerts = [{ id: 'hook', name: 'Ops webhook', kind: 'webhook', when: 'failure', url: `${rx.url}/hook` }];
  });
  after(async () => {
    try {
      if (savedCrontab !== undefined) writeCrontab(savedCrontab);
    } finally {
      pool?.dispose();
      await sshd?.stop();
      pg?.stop();
      await rx?.stop();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    }
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(`--- schedule log ---\n${log()}`);
  });

  it('refuses a verification it cannot run: an encrypted backup (the key is never on the server), a database in a container', () => {
    const o = {
      target: { ...plan('each').target, password: { kind: 'file', path: files.passwordFile } },
      retention: { local: { last: 1 } },
      verify: 'each',
    } as const;
    assert.throws(
      () =>
        scheduledBackupScript({
          ...o,
          encryptTo: 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p',
        }),
      /verified only from VS Code/,
    );
    assert.throws(
      () =>
        scheduledBackupScript({
          ...o,
          target: { ...o.target, database: { ...o.target.database, mode: 'container', container: 'pg' } },
        }),
      /container/,
    );
  });

  it('after every run: the backup is restored into a scratch database, counted, recorded beside it and in the status; the scratch copy is gone', async () => {
    await install('each');
    assert.match(fs.readFileSync(paths().script, 'utf8'), /restores it into a scratch copy to verify it/);
    rx.clear();
    const r = await runLikeCron();
    assert.equal(r.code, 0, `${r.stderr}\n${log()}`);
    const s = status();
    assert.equal(s.ok, true, s.error);
    assert.equal(s.verified, true);
    assert.ok(s.file);
    const v = verdict(s.file);
    assert.equal(v.ok, true, v.problem);
    assert.equal(v.tables, 1);
    assert.equal(v.rows, 500);
    assert.match(log(), new RegExp(`verified ${s.file}: it restores \\(1 tables, 500 rows\\)`));
    assert.equal(scratch(), '', 'no scratch database left');
    assert.deepEqual(rx.to('/hook'), [], 'no failure alert');
  });

  it('a backup that does not restore fails the run (exit 92), alerts, records the verdict and keeps the older backup retention would have deleted', async () => {
    const before = backups();
    assert.equal(before.length, 1);
    // A pg_restore that reads the stream and restores nothing: the backup "restores" empty.
    const bin = makeBin(path.join(work, 'empty-restore'), {
      stubs: { pg_restore: 'cat >/dev/null; exit 0' },
    });
    rx.clear();
    const r = await runLikeCron(bin);
    assert.equal(r.code, EXIT.verifyFailed, `${r.stderr}\n${log()}`);
    const s = status();
    assert.equal(s.ok, false);
    assert.equal(s.exitCode, EXIT.verifyFailed);
    assert.equal(s.verified, false);
    assert.ok(s.file);
    assert.match(
      s.error ?? '',
      new RegExp(
        `${s.file.replace(/\./g, '\\.')} was saved but did not pass its verification restore: nothing came back.*retention was not applied`,
      ),
    );
    assert.equal(verdict(s.file).ok, false);
    assert.deepEqual(backups(), [...before, s.file].sort(), 'the older backup is kept');
    assert.match(log(), /retention not applied this time: the verification restore of .* did not pass/);
    assert.equal(scratch(), '', 'no scratch database left');
    const sent = rx.to('/hook');
    assert.equal(sent.length, 1, 'one failure alert');
    const body = JSON.parse(sent[0].body) as { status: string; cause: string; file: string };
    assert.equal(body.status, 'failed');
    assert.equal(body.file, s.file);
    assert.match(body.cause, /did not pass its verification restore: nothing came back/);
  });

  it('a verification that cannot run (no CREATEDB) fails the run and alerts, records no verdict on the backup, and the retention runs as usual', async () => {
    // A user that may dump the database but not create the scratch one.
    pg.sql(
      "CREATE ROLE app LOGIN PASSWORD 'app-Pw-3c9' NOCREATEDB; GRANT CONNECT ON DATABASE shop TO app",
      'shop',
    );
    pg.sql('GRANT SELECT ON ALL TABLES IN SCHEMA public TO app', 'shop');
    const asApp = plan('each');
    await installSchedule(forServer(pool, server), {
      ...asApp,
      target: {
        ...asApp.target,
        database: { ...asApp.target.database, dbUser: 'app' },
        password: { kind: 'inline', password: 'app-Pw-3c9' },
      },
    });
    rx.clear();
    const r = await runLikeCron();
    assert.equal(r.code, EXIT.verifyFailed, `${r.stderr}\n${log()}`);
    const s = status();
    assert.equal(s.ok, false);
    assert.equal(s.verified, false);
    assert.ok(s.file);
    assert.match(s.error ?? '', /could not run: .*could not create the scratch database .* needs CREATEDB/);
    assert.doesNotMatch(s.error ?? '', /retention was not applied/);
    assert.ok(!fs.existsSync(path.join(server.backupDir, `${s.file}.verify`)), 'no verdict on the backup');
    assert.deepEqual(backups(), [s.file], 'retention (last 1) ran as usual');
    assert.equal(rx.to('/hook').length, 1, 'the failure alert');
    assert.equal(scratch(), '');
  });

  it('weekly: a run within the week of the last good verification does not verify; one a week later does', async () => {
    await install('weekly');
    // The next good run's retention (last 1) tidies up what the failed run kept.
    const first = await runLikeCron();
    assert.equal(first.code, 0, `${first.stderr}\n${log()}`);
    assert.equal(status().verified, undefined, 'verified 0 days ago: not due');
    assert.doesNotMatch(log().split('scheduled backup of').pop() ?? '', /verification restore of/);
    const stamp = paths().status.replace(/\.json$/, '.verified');
    const eightDaysAgo = new Date(Date.now() - 8 * 86_400_000);
    fs.utimesSync(stamp, eightDaysAgo, eightDaysAgo);
    const second = await runLikeCron();
    assert.equal(second.code, 0, `${second.stderr}\n${log()}`);
    assert.equal(status().verified, true, 'a week later: verified');
    assert.ok(Date.now() - fs.statSync(stamp).mtimeMs < 60_000, 'the stamp is renewed');
    assert.equal(scratch(), '');
  });

  it('SIGTERM during the verification restore: exit 143, the backup kept and said unverified, the scratch database and the restore gone — each of 3 times', async () => {
    await install('each');
    for (let i = 0; i < 3; i++) {
      const hang = `sleep 7${randomInt(100000, 999999)}`;
      const marker = path.join(work, `restoring-${i}`);
      // pg_restore hangs once it has started (the scratch database exists by then).
      const bin = makeBin(path.join(work, `hanging-restore-${i}`), {
        stubs: { pg_restore: `echo started > ${q(marker)}\n${hang}` },
      });
      const logBefore = log().length;
      const running = runLikeCron(bin);
      await until(
        'the verification restore to start',
        () => fs.existsSync(marker) && scratch() !== '',
        30_000,
      );
      sigtermRun(log().slice(logBefore));
      const r = await running;
      assert.equal(r.code, 143, log());
      const s = status();
      assert.equal(s.ok, false);
      assert.match(
        s.error ?? '',
        /interrupted by SIGTERM during the verification restore; web-1_shop_postgres_\S+ was kept, unverified, and retention was not applied/,
      );
      const file = /; (web-1_shop_postgres_\S+) was kept/.exec(s.error ?? '')?.[1] ?? '';
      assert.ok(fs.existsSync(path.join(server.backupDir, file)), 'the backup is kept');
      assert.ok(fs.existsSync(path.join(server.backupDir, `${file}.sha256`)), 'with its checksum');
      assert.ok(!fs.existsSync(path.join(server.backupDir, `${file}.verify`)), 'a cancel is no verdict');
      assert.equal(scratch(), '', `round ${i}: no scratch database left`);
      assert.deepEqual(pgrep(hang), [], `round ${i}: the hanging restore is gone`);
    }
  });

  it('SIGTERM during the retention after a verification that passed: exit 143, said so, the verdict kept, nothing deleted — each of 3 times', async () => {
    await install('each');
    for (let i = 0; i < 3; i++) {
      const pause = `sleep 2.${randomInt(100000, 999999)}`;
      const marker = path.join(work, `retaining-${i}`);
      // The retention's listing (ls: the retention's alone) takes a while; the run is told to stop meanwhile.
      const bin = makeBin(path.join(work, `slow-ls-${i}`), {
        stubs: { ls: `echo started > ${q(marker)}\n${pause}\nexec /bin/ls "$@"` },
      });
      const before = backups();
      const logBefore = log().length;
      const running = runLikeCron(bin);
      await until('the retention to start', () => fs.existsSync(marker), 60_000);
      sigtermRun(log().slice(logBefore));
      const r = await running;
      assert.equal(r.code, 143, log());
      const file = backups().find((f) => !before.includes(f)) ?? '';
      assert.equal(
        status().error,
        `interrupted by SIGTERM after ${file} was saved, during its retention; the retention may not have finished — the next run applies it`,
      );
      assert.deepEqual(backups(), [...before, file].sort(), `round ${i}: nothing deleted`);
      assert.equal(verdict(file).ok, true, 'its verification passed and is recorded');
      assert.equal(scratch(), '');
      await until(`round ${i}: the slow listing gone`, () => pgrep(pause).length === 0, 10_000);
    }
  });
});
