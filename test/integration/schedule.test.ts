// Schedule Backups on real parts: the pooled ssh2 transport into a real sshd,
// the machine's real crontab (root's: saved before and restored after; only
// our marked line and one foreign comment line are ever added), a real S3
// server (s3rver) with the machine's real awscli, and a real PostgreSQL. The
// installed script is run directly (not by waiting for cron), once in a
// cron-like environment (env -i, PATH=/usr/bin:/bin) and once forced into sh.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { shellQuote as q } from '../../src/core/remote/script';
import { awsShell } from '../support/aws';
import { EXIT } from '../../src/core/remote/protocol';
import { localListingScript } from '../../src/core/backup/serverListing';
import type { Server } from '../../src/core/model';
import { s3RetentionVictims } from '../support/retentionOracle';
import type { BackupEntry } from '../../src/core/s3/layout';
import type { S3Credentials } from '../../src/core/s3/scripts';
import { cronMarker } from '../../src/core/schedule/cron';
import {
  type InstallScheduleOptions,
  credentialsFileScript,
  installScheduleScript,
  parseInstallResult,
  parseScheduleStatus,
  passwordFileScript,
  removeCredentialsFileScript,
  unscheduleScript,
} from '../../src/core/schedule/script';
import {
  type SchedulePlan,
  installSchedule,
  removeSchedule,
  syncServerSchedules,
} from '../../src/core/schedule/actions';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { keyServer, testEnv } from '../support/sshEnv';
import { scheduleFiles, sigtermRun } from '../support/scheduleRun';
import { type Postgres, hostDatabase, startPostgres, until } from '../world/databases';
import { S3RVER_KEY, s3rverSettings, startS3, stopS3AndRemove, type S3World } from '../world/s3';
import { startSshServer, type SshServer } from '../world/sshServer';
import { readCrontab, writeCrontab } from '../world/crontab';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const DAY = 86_400_000;

describe('Schedule Backups on the test world (real sshd + crontab + s3rver + PostgreSQL)', function () {
  this.timeout(180_000);
  let sshd: SshServer;
  let s3: S3World;
  let pg: Postgres;
  let pool: ConnectionPool;
  let work: string;
  let server: Server;
  let savedCrontab: string | null | undefined;
  const databaseId = `it-sched-${process.pid}`;
  const foreignLine = `# infrakt-test: a line that is not ours (${process.pid})`;
  // Distinct from s3rver's access key so "neither key" is checked for both (s3rver does not verify secrets).
  const secret = `sched-canary-${randomBytes(8).toString('hex')}`;
  let credPath: string;
  let passwordPath: string;
  const prefix = 'infrakt/backups/';
  const settings = (): S3Credentials['settings'] => s3rverSettings(s3, { prefix });
  const options = (keepNewest?: number): InstallScheduleOptions => ({
    databaseId,
    // February 31st: a valid expression that never fires, so the machine's cron daemon (if any) stays out of the test.
    expression: '0 0 31 2 *',
    target: {
      server: { name: server.name, backupDir: server.backupDir },
      database: hostDatabase(pg, 'shop'),
      password: { kind: 'file', path: passwordPath },
    },
    retention: { local: { within: 7 }, s3: { last: keepNewest } },
    s3: { settings: settings(), credentialsPath: credPath },
  });
  const { paths, status, log } = scheduleFiles(() => server.backupDir, 'shop');
  const run = async (script: string, secrets: string[] = []) => pool.run(server, script, { secrets });
  /** Runs the installed script as cron would: a bare environment and cron's PATH. */
  const runLikeCron = () =>
    run(`env -i PATH=/usr/bin:/bin HOME=/root SHELL=/bin/sh LOGNAME=root ${q(paths().script)}`);
  const ourCronLines = () =>
    (readCrontab() ?? '').split('\n').filter((l) => l.includes(cronMarker(databaseId)));
  const s3Keys = () => s3.listKeys();
  /** Puts small objects with these keys in one awscli call (a local tree copied recursively). */
  const putObjects = (c: S3Credentials, keys: string[]) => {
    const tree = fs.mkdtempSync(path.join(work, 'seed-'));
    for (const k of keys) {
      fs.mkdirSync(path.dirname(path.join(tree, k)), { recursive: true });
      fs.writeFileSync(path.join(tree, k), k.endsWith('.sha256') ? 'y' : 'x');
    }
    return run(awsShell(c, `awsx s3 cp --only-show-errors --recursive ${q(tree)} "s3://$infrakt_bucket/"`), [
      c.secretKey,
    ]);
  };

  before(async () => {
    savedCrontab = readCrontab();
    [sshd, s3, pg] = await Promise.all([startSshServer(), startS3(), startPostgres()]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-schedule-'));
    credPath = path.join(work, 'opt', '.aws', 'credentials');
    passwordPath = path.join(work, 'opt', '.secrets', 'shop.env');
    server = keyServer(sshd, path.join(work, 'backups'));
    pool = new ConnectionPool(testEnv());
    pg.createDatabase('shop');
    pg.sql(
      'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 500) g',
      'shop',
    );
    writeCrontab(`${savedCrontab ?? ''}${foreignLine}\n`);
  });
  after(async () => {
    try {
      if (savedCrontab !== undefined) writeCrontab(savedCrontab);
    } finally {
      pool?.dispose();
      await sshd?.stop();
      if (s3) await stopS3AndRemove(s3);
      pg?.stop();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    }
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(`--- schedule log ---\n${log()}`);
  });

  it('writes the credentials and password files root-only (0600 in 0700 dirs), idempotently', async () => {
    const first = await run(credentialsFileScript(settings(), secret, credPath), [secret]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /"changed":true/);
    const again = await run(credentialsFileScript(settings(), secret, credPath), [secret]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /"changed":false/);
    const st = fs.statSync(credPath);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 0, 'owner root');
    assert.equal(fs.statSync(path.dirname(credPath)).mode & 0o777, 0o700);
    assert.equal(
      fs.readFileSync(credPath, 'utf8'),
      `[infrakt]\naws_access_key_id = ${S3RVER_KEY}\naws_secret_access_key = ${secret}\n`,
    );

    const pw = await run(passwordFileScript('postgres', pg.password, passwordPath), [pg.password]);
    assert.equal(pw.code, 0, pw.stderr);
    assert.equal(fs.statSync(passwordPath).mode & 0o777, 0o600);
    assert.equal(fs.statSync(passwordPath).uid, 0);
  });

  it('installs the script (0700, no key, no secret) and one crontab line with the marker; a second install changes nothing', async () => {
    const r = await run(installScheduleScript(options()));
    assert.equal(r.code, 0, r.stderr);
    const res = parseInstallResult(r.stdout);
    assert.equal(res?.changed, true);
    assert.equal(res?.script, paths().script);
    const lines = ourCronLines();
    assert.deepEqual(lines, [
      `0 0 31 2 * ${paths().script} >> ${paths().log} 2>&1 ${cronMarker(databaseId)}`,
    ]);
    assert.ok((readCrontab() ?? '').includes(foreignLine), 'the other crontab lines are kept');
    assert.equal(fs.statSync(paths().script).mode & 0o777, 0o700);
    const text = fs.readFileSync(paths().script, 'utf8');
    assert.ok(!text.includes(S3RVER_KEY), 'the access key is not in the script');
    assert.ok(!text.includes(secret), 'the secret is not in the script');
    assert.ok(!text.includes(pg.password), 'the database password is not in the script');
    assert.match(text, /AWS_SHARED_CREDENTIALS_FILE=/);

    const again = await run(installScheduleScript(options()));
    assert.equal(again.code, 0, again.stderr);
    assert.equal(parseInstallResult(again.stdout)?.changed, false);
    assert.equal(ourCronLines().length, 1, 'still one line');
    assert.equal(
      fs.readdirSync(server.backupDir).filter((f) => f.startsWith('.backup-')).length,
      0,
      'no temp files left',
    );
  });

  it('the installed script, run as cron runs it, writes the backup, uploads it and records ok', async () => {
    const r = await runLikeCron();
    assert.equal(r.code, 0, `${r.stderr}\n${log()}`);
    const s = status();
    assert.equal(s.ok, true, s.error);
    assert.equal(s.uploaded, true);
    assert.equal(s.exitCode, 0);
    assert.ok(s.file && s.finished && s.lastSuccess === s.finished);
    const local = path.join(server.backupDir, s.file);
    assert.equal(fs.statSync(local).size, s.size);
    assert.equal(sha256(local), s.sha256);
    assert.equal(fs.readFileSync(`${local}.sha256`, 'utf8'), `${s.sha256}  ${s.file}\n`);
    assert.deepEqual(s3.readObject(`${prefix}shop/${s.file}`), fs.readFileSync(local));
    assert.equal(s3.readObject(`${prefix}shop/${s.file}.sha256`)?.toString(), `${s.sha256}  ${s.file}\n`);
    assert.match(log(), /using \/usr\/bin\/aws/, 'cron PATH finds the distribution awscli');
    for (const f of [paths().script, paths().status, paths().log]) {
      const text = fs.readFileSync(f, 'utf8');
      assert.ok(!text.includes(secret) && !text.includes(pg.password), `${f} holds no secret`);
    }

    // The tree's one round trip: backups and schedule status together.
    const listing = await run(localListingScript(server, { schedules: true }));
    assert.equal(listing.code, 0, listing.stderr);
    const parsed = parseScheduleStatus(listing.stdout);
    assert.deepEqual(parsed.status.get('shop'), s);
    assert.ok(parsed.scripts.has('shop'));
    assert.match(parsed.cron.get(databaseId) ?? '', /^0 0 31 2 \* /);
  });

  it('one run at a time: while another run holds the lock, a run is skipped (exit 83) and the status is left alone', async () => {
    const before = fs.readFileSync(paths().status, 'utf8');
    const r = await run(`exec 9> ${q(paths().lock)} && flock -n 9 && ${q(paths().script)}`);
    assert.equal(r.code, EXIT.busy, log());
    assert.match(r.stderr, /in progress; skipped/);
    assert.equal(fs.readFileSync(paths().status, 'utf8'), before);
  });

  it('with S3 down the run fails (exit 75), records the upload failure and keeps the local file', async () => {
    const before = status();
    await s3.stop();
    try {
      const r = await run(q(paths().script));
      assert.equal(r.code, 75, `${r.stderr}\n${log()}`);
      assert.match(
        r.stderr,
        /scheduled backup FAILED \(exit 75\)/,
        'a person running it by hand sees the outcome',
      );
      const s = status();
      assert.equal(s.ok, false);
      assert.equal(s.uploaded, false);
      assert.equal(s.exitCode, 75);
      assert.match(
        s.error ?? '',
        /saved locally; upload to S3 failed: .*(connect|Connection refused|endpoint)/i,
      );
      assert.ok(s.file && s.file !== before.file);
      assert.ok(fs.existsSync(path.join(server.backupDir, s.file)), 'local file kept');
      assert.equal(sha256(path.join(server.backupDir, s.file)), s.sha256);
      assert.equal(s.lastSuccess, before.lastSuccess, 'the last success is carried over');
    } finally {
      await s3.restart();
    }
  });

  it('SIGTERM after the file is saved, while its upload hangs: exit 143, the file kept on the server and said so — each of 3 times', async () => {
    // An S3 endpoint that takes the connection and never answers: the upload hangs once the dump is saved.
    // Once the run is told to stop, it is refused at once: the clean-up's calls fail fast, not after their timeouts.
    const held: net.Socket[] = [];
    let refuse = false;
    const silent = net.createServer((socket) => (refuse ? socket.destroy() : held.push(socket)));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const endpointUrl = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    try {
      const o = options();
      const hanging = { ...o, s3: { ...o.s3!, settings: { ...o.s3!.settings, endpointUrl } } };
      assert.equal((await run(installScheduleScript(hanging))).code, 0);
      const named = /^web-1_shop_postgres_\d{8}T\d{6}Z(-\d+)?\.dump\.(zst|gz)$/;
      for (let round = 0; round < 3; round++) {
        const before = fs.readdirSync(server.backupDir).filter((f) => named.test(f));
        const logBefore = log().length;
        const connections = held.length;
        refuse = false;
        const running = run(q(paths().script));
        let saved: string | undefined;
        await until(
          'the backup saved on the server (its upload hanging)',
          () =>
            (saved = fs.readdirSync(server.backupDir).find((f) => named.test(f) && !before.includes(f))) !==
            undefined,
          60_000,
        );
        await until('the upload to reach the silent endpoint', () => held.length > connections, 30_000);
        sigtermRun(log().slice(logBefore));
        refuse = true;
        const r = await running;
        assert.equal(r.code, 143, log());
        const s = status();
        assert.equal(s.ok, false);
        assert.equal(
          s.error,
          `interrupted by SIGTERM after ${saved} was saved on the server, before its uploads finished; it is kept on the server only, and retention was not applied`,
        );
        assert.equal(s.file, saved);
        const file = path.join(server.backupDir, saved ?? '');
        assert.ok(
          fs.existsSync(file) && fs.existsSync(`${file}.sha256`),
          `round ${round}: kept with its checksum`,
        );
        assert.equal(fs.readFileSync(`${file}.sha256`, 'utf8').slice(0, 64), sha256(file));
      }
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
      assert.equal((await run(installScheduleScript(options()))).code, 0);
    }
  });

  it('a missing credentials file fails the upload with a cause that says what to do', async () => {
    const rm = await run(removeCredentialsFileScript(credPath));
    assert.equal(rm.code, 0, rm.stderr);
    try {
      const r = await run(q(paths().script));
      assert.equal(r.code, 75, log());
      assert.match(status().error ?? '', /credentials file .* is missing — save the S3 settings again/);
    } finally {
      const w = await run(credentialsFileScript(settings(), secret, credPath), [secret]);
      assert.equal(w.code, 0, w.stderr);
    }
  });

  it('under a shell without pipefail and no bash (dash alone) the run fails and says why, leaving no file', async () => {
    const files = fs.readdirSync(server.backupDir);
    // INFRAKT_SCHEDULED_SHELL=sh keeps it in /bin/sh (dash here) instead of re-running in bash.
    const r = await run(`INFRAKT_SCHEDULED_SHELL=sh ${q(paths().script)}`);
    assert.equal(r.code, EXIT.setup, log());
    assert.match(status().error ?? '', /no pipefail and bash is not installed/);
    assert.deepEqual(fs.readdirSync(server.backupDir), files);
  });

  it("local retention (within 7 days) deletes only this database's older backups, by the time in their names, with their .sha256", async () => {
    const dir = server.backupDir;
    const stamp = (d: Date) => d.toISOString().slice(0, 19).replace(/[-:]/g, '');
    const recentName = `web-1_shop_postgres_${stamp(new Date(Date.now() - 3 * DAY))}Z.dump.gz`;
    const old = new Date(Date.now() - 10 * DAY);
    const make = (name: string, when: Date) => {
      fs.writeFileSync(path.join(dir, name), 'x');
      fs.utimesSync(path.join(dir, name), when, when);
    };
    const doomed = [
      'web-1_shop_postgres_20200101T000000Z.dump.gz',
      'web-1_shop_postgres_20200101T000000Z.dump.gz.sha256',
      'web-1_shop_postgres_20200102T000000Z-2.dump.zst',
      'web-1_shop_postgres_20200102T000000Z-2.dump.zst.sha256',
      'web-1_shop_postgres_20200104T000000Z.dump.gz.sha256', // an orphan checksum
    ];
    const kept = [
      recentName, // 3 days old (its mtime is old: the name's time counts)
      `${recentName}.sha256`,
      'web-1_shop2_postgres_20200101T000000Z.dump.gz', // another database
      'web-1_shop_mysql_20200101T000000Z.sql.gz', // another engine
      'web-2_shop_postgres_20200101T000000Z.dump.gz', // another server
      'web-1_shop_postgres_notes.txt',
    ];
    // Not a backup: kept by retention while recent (a run may be writing it), swept as a
    // leftover of a killed run once a day old.
    const partial = 'web-1_shop_postgres_20200105T000000Z.dump.gz.partial';
    const leftover = 'web-1_shop_postgres_20200101T000000Z.dump.gz.partial';
    const real = fs.readdirSync(dir).filter((f) => f.startsWith('web-1_shop_postgres_')); // earlier runs: recent
    assert.ok(real.length >= 4);
    make(partial, new Date());
    make(leftover, old);
    for (const f of doomed) make(f, old);
    for (const f of kept) make(f, old);

    const r = await run(q(paths().script));
    assert.equal(r.code, 0, `${r.stderr}\n${log()}`);
    const s = status();
    assert.equal(s.ok, true, s.error);
    assert.equal(s.deletedLocal, 2);
    const after = new Set(fs.readdirSync(dir));
    for (const f of doomed) assert.ok(!after.has(f), `${f} deleted`);
    for (const f of kept) assert.ok(after.has(f), `${f} kept`);
    for (const f of real) assert.ok(after.has(f), `${f} kept`);
    assert.ok(after.has(partial), 'a recent .partial is kept');
    assert.ok(!after.has(leftover), 'a day-old .partial is swept');
    assert.match(log(), /removed the leftover of a killed run: .*20200101T000000Z\.dump\.gz\.partial/);
    fs.rmSync(path.join(dir, partial));
    assert.ok(after.has(s.file ?? ''));
    assert.match(log(), /retention deleted local web-1_shop_postgres_20200101T000000Z\.dump\.gz\n/);
  });

  it('SIGTERM during the dump: exit 143, the interruption recorded, no partial file left', async () => {
    const env = { ...process.env, PGPASSWORD: pg.password };
    const conn = ['-X', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', 'shop'];
    // Hold a lock that pg_dump waits for, so the run is still dumping when it is told to stop.
    const locker = spawn(
      'psql',
      [
        ...conn,
        '-c',
        'BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120) /* infrakt-test-lock */;',
      ],
      { env, stdio: 'ignore' },
    );
    const q1 = (sql: string) => pg.sql(sql, 'shop').trim();
    try {
      await until(
        'the lock',
        () =>
          q1(
            "SELECT count(*) FROM pg_locks WHERE relation = 'items'::regclass AND granted AND mode = 'AccessExclusiveLock'",
          ) === '1',
      );
      const files = fs.readdirSync(server.backupDir).filter((f) => !f.endsWith('.partial'));
      const logBefore = log().length;
      const running = run(q(paths().script));
      await until(
        'pg_dump waiting',
        () =>
          q1(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'",
          ) === '1',
      );
      sigtermRun(log().slice(logBefore));
      const r = await running;
      assert.equal(r.code, 143, log());
      const s = status();
      assert.equal(s.ok, false);
      assert.equal(s.exitCode, 143);
      assert.match(s.error ?? '', /interrupted by SIGTERM during the backup/);
      assert.equal(s.file, undefined);
      const now = fs.readdirSync(server.backupDir).filter((f) => !f.endsWith('.partial'));
      assert.deepEqual(now.sort(), files.sort(), 'no new backup');
      assert.ok(
        !fs
          .readdirSync(server.backupDir)
          .some((f) => f.startsWith('web-1_shop_postgres_2026') && f.endsWith('.partial')),
        'no partial',
      );
      await until(
        'pg_dump gone',
        () => q1("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'") === '0',
      );
    } finally {
      pg.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%infrakt-test-lock%' AND pid <> pg_backend_pid()",
        'shop',
      );
      locker.kill();
    }
  });

  it("S3 keep-newest-N deletes only this server's oldest backups of this database, never the newest", async () => {
    const c: S3Credentials = { settings: settings(), secretKey: secret };
    const seed = [
      'shop/web-1_shop_postgres_20200101T000000Z.dump.gz',
      'shop/web-1_shop_postgres_20200102T000000Z.dump.gz',
      'shop/web-1_shop_postgres_20200103T000000Z.dump.gz',
      'shop/web-1_shop_postgres_20200103T000000Z-2.dump.gz',
      'shop/web-2_shop_postgres_20190101T000000Z.dump.gz', // another server, same database name
      'shop/web-1_shop_mysql_20190101T000000Z.sql.gz', // another engine
      'shop/README.txt',
      'shop/sub/web-1_shop_postgres_20190101T000000Z.dump.gz',
      'shop2/web-1_shop2_postgres_20190101T000000Z.dump.gz', // another database
    ].map((k) => `${prefix}${k}`);
    const put = await putObjects(
      c,
      seed.flatMap((k) => (k.endsWith('.gz') ? [k, `${k}.sha256`] : [k])),
    );
    assert.equal(put.code, 0, put.stderr);
    const inst = await run(installScheduleScript(options(2)));
    assert.equal(inst.code, 0, inst.stderr);
    assert.equal(
      parseInstallResult(inst.stdout)?.changed,
      true,
      'a new retention setting rewrites the script',
    );
    assert.equal(ourCronLines().length, 1);
    const keysBefore = s3Keys();

    const r = await runLikeCron();
    assert.equal(r.code, 0, `${r.stderr}\n${log()}`);
    const s = status();
    assert.equal(s.ok, true, s.error);
    const newest = `${prefix}shop/${s.file}`;
    const keysAfter = new Set(s3Keys());
    const deleted = keysBefore.filter((k) => !keysAfter.has(k));

    // Exactly what the TypeScript rule (used by Back Up Now) would delete.
    const dbPrefix = `${prefix}shop/`;
    const entries: BackupEntry[] = [...keysBefore, newest]
      .filter(
        (k) => k.startsWith(dbPrefix) && !k.slice(dbPrefix.length).includes('/') && !k.endsWith('.sha256'),
      )
      .map((k) => k.slice(dbPrefix.length))
      .filter((f) => f.startsWith('web-1_shop_postgres_'))
      .map((filename) => ({
        filename,
        sizeBytes: 1,
        modified: new Date(),
        location: 's3',
        hasChecksum: true,
      }));
    const victims = s3RetentionVictims(entries, 2, s.file ?? '');
    assert.ok(victims.length >= 4, `victims: ${victims.join(', ')}`);
    assert.deepEqual(
      deleted.sort(),
      victims
        .flatMap((v) => [`${dbPrefix}${v}`, `${dbPrefix}${v}.sha256`])
        .filter((k) => keysBefore.includes(k))
        .sort(),
    );
    assert.equal(s.deletedS3, victims.length);
    assert.ok(keysAfter.has(newest) && keysAfter.has(`${newest}.sha256`), 'the backup just uploaded stays');
    const mine = [...keysAfter].filter((k) =>
      /^infrakt\/backups\/shop\/web-1_shop_postgres_\d{8}T\d{6}Z(-\d+)?\.dump\.(gz|zst)$/.test(k),
    );
    assert.equal(mine.length, 2, `kept: ${mine.join(', ')}`);
    for (const k of seed.filter((k) => !k.includes('web-1_shop_postgres_2020')))
      assert.ok(keysAfter.has(k), `${k} untouched`);
  });

  it('keep-newest never deletes the backup just uploaded, even when newer-named objects exist (clock skew), and orders -2 after its second', async () => {
    const c: S3Credentials = { settings: settings(), secretKey: secret };
    const future = ['20990101T000000Z.dump.gz', '20990101T000000Z-2.dump.gz'].map(
      (f) => `${prefix}shop/web-1_shop_postgres_${f}`,
    );
    // Newer than all of them but without its .sha256 (an unfinished upload): not counted, not deleted.
    const unmarked = `${prefix}shop/web-1_shop_postgres_20990102T000000Z.dump.gz`;
    const put = await putObjects(c, [...future.flatMap((k) => [k, `${k}.sha256`]), unmarked]);
    assert.equal(put.code, 0, put.stderr);
    assert.equal((await run(installScheduleScript(options(1)))).code, 0);
    const r = await run(q(paths().script));
    assert.equal(r.code, 0, `${r.stderr}\n${log()}`);
    const s = status();
    const keys = new Set(s3Keys());
    assert.ok(keys.has(`${prefix}shop/${s.file}`), 'just uploaded: kept');
    assert.ok(keys.has(future[1]), 'the newest (-2 of the same second): kept');
    assert.ok(!keys.has(future[0]), 'the older of the same second: deleted');
    assert.ok(keys.has(unmarked), 'an unfinished upload is neither counted nor deleted by retention');
    const mine = [...keys].filter(
      (k) =>
        /shop\/web-1_shop_postgres_\d{8}T\d{6}Z(-\d+)?\.dump\.(gz|zst)$/.test(k) && keys.has(`${k}.sha256`),
    );
    assert.equal(mine.length, 2, mine.join(', '));
  });

  it('unschedule removes the crontab entry, the script and its status; a second run has nothing to do', async () => {
    const u = await run(
      unscheduleScript({
        databaseId,
        backupDir: server.backupDir,
        databaseName: 'shop',
        passwordFile: passwordPath,
      }),
    );
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(ourCronLines(), []);
    assert.ok((readCrontab() ?? '').includes(foreignLine), 'the other crontab lines are kept');
    assert.ok(!fs.existsSync(paths().script));
    assert.ok(!fs.existsSync(paths().status));
    assert.ok(!fs.existsSync(passwordPath));
    const again = await run(
      unscheduleScript({ databaseId, backupDir: server.backupDir, databaseName: 'shop' }),
    );
    assert.equal(again.code, 0, again.stderr);
    const rm = await run(removeCredentialsFileScript(credPath));
    assert.equal(rm.code, 0, rm.stderr);
    assert.ok(!fs.existsSync(credPath));
    const l = await run(localListingScript(server, { schedules: true }));
    const parsed = parseScheduleStatus(l.stdout);
    assert.equal(parsed.status.size, 0);
    assert.equal(parsed.scripts.size, 0);
    assert.ok(!parsed.cron.has(databaseId));
    assert.equal(EXIT.busy, 83);
  });

  it('as the extension runs it: the password moves into a root-only file, new S3 settings reach the credentials file and the script, S3 off removes both, removing the last schedule removes the credentials file', async () => {
    const runner = { run: (script: string, o?: { secrets?: string[] }) => pool.run(server, script, o) };
    const secretB = `sched-canary-b-${randomBytes(8).toString('hex')}`;
    const base = options();
    const plan = (s3Settings?: { secretKey: string; prefix: string }): SchedulePlan => ({
      databaseId,
      expression: base.expression,
      retention: { local: { within: 7 } },
      target: { ...base.target, password: { kind: 'inline', password: pg.password } },
      s3: s3Settings && {
        creds: { settings: { ...settings(), prefix: s3Settings.prefix }, secretKey: s3Settings.secretKey },
      },
      files: { credentialsPath: credPath, passwordFile: passwordPath },
    });
    const channels = pool.stats.channels;
    const first = await installSchedule(runner, plan({ secretKey: secret, prefix }));
    assert.equal(first.changed, true);
    assert.equal(pool.stats.channels - channels, 1, 'credentials, password file and install: one round trip');
    assert.equal(fs.statSync(passwordPath).mode & 0o777, 0o600, 'the password is in a root-only file');
    assert.ok(fs.readFileSync(credPath, 'utf8').includes(secret));
    const script = () => fs.readFileSync(paths().script, 'utf8');
    for (const value of [pg.password, secret, S3RVER_KEY]) assert.ok(!script().includes(value));
    assert.equal(ourCronLines().length, 1);
    let r = await runLikeCron();
    assert.equal(r.code, 0, `${r.stderr}\n${log()}`);
    assert.equal(status().uploaded, true);

    // S3 settings saved with a new secret and prefix: the file and the script follow.
    const before = pool.stats.channels;
    const synced = await syncServerSchedules(runner, [plan({ secretKey: secretB, prefix: 'moved/' })]);
    assert.equal(pool.stats.channels - before, 1, 'one round trip per server');
    assert.deepEqual(synced.reinstalled, ['shop']);
    const cred = fs.readFileSync(credPath, 'utf8');
    assert.ok(cred.includes(secretB) && !cred.includes(secret), 'the old secret is gone from the server');
    assert.match(script(), /moved\//);
    r = await runLikeCron();
    assert.equal(r.code, 0, `${r.stderr}\n${log()}`);
    const moved = (await s3Keys()).filter((k) =>
      /^moved\/shop\/web-1_shop_postgres_.*\.dump\.(zst|gz)$/.test(k),
    );
    assert.equal(moved.length, 1, 'the scheduled run uploaded under the new prefix');

    // S3 removed: no credentials left on the server, runs stay local and succeed.
    await syncServerSchedules(runner, [plan(undefined)]);
    assert.ok(!fs.existsSync(credPath), 'credentials file removed');
    // Its preamble: no sink, no S3 step, no credentials file.
    assert.match(script(), /\ninfrakt_sinks=''\n/, 'the script no longer uploads');
    assert.match(script(), /\ninfrakt_s_s3=0\n/);
    assert.doesNotMatch(script(), /\ninfrakt_s3_credentials_file=/);
    r = await runLikeCron();
    assert.equal(r.code, 0, `${r.stderr}\n${log()}`);
    assert.equal(status().ok, true);
    assert.notEqual(status().uploaded, true);

    await installSchedule(runner, plan({ secretKey: secretB, prefix }));
    assert.ok(fs.existsSync(credPath));
    await removeSchedule(runner, {
      databaseId,
      backupDir: server.backupDir,
      databaseName: 'shop',
      hadPasswordFile: true,
      lastOnServer: true,
      files: { credentialsPath: credPath, passwordFile: passwordPath },
    });
    assert.deepEqual(ourCronLines(), []);
    for (const f of [paths().script, passwordPath, credPath]) assert.ok(!fs.existsSync(f), `${f} removed`);
    const leaked = spawnSync('grep', ['-rlF', '-e', secretB, '-e', pg.password, server.backupDir], {
      encoding: 'utf8',
    });
    assert.equal(leaked.stdout.trim(), '', 'no secret in any file under the backup dir');
  });
});
