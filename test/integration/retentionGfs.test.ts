// GFS retention on real parts: the pooled ssh2 transport into a real sshd, a
// real S3 server (s3rver) with the machine's real awscli, a real PostgreSQL.
// A database with 60 backups over 400 days (names with old timestamps, some
// without their checksum) gets a policy — last 5 on the server; 7 daily, 4
// weekly, 12 monthly, 2 yearly in S3 — applied by a real Back Up Now, by the
// scheduled script run as cron runs it, and by Apply Retention Now (preview,
// then only the confirmed deletions). What remains is exactly what the
// selection keeps (held to its calendar tables in the unit tests), and nothing
// of another database or server is touched.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backUpNow, forServer } from '../../src/core/backup';
import { type RetentionCandidate, selectRetention } from '../../src/core/backup/retention';
import { deletionsOf, runRetentionNow } from '../../src/core/backup/retentionNow';
import type { RetentionPolicy, Server } from '../../src/core/model';
import { shellQuote as q } from '../../src/core/remote/script';
import type { RunStatus } from '../../src/core/schedule/cron';
import {
  credentialsFileScript,
  passwordFileScript,
  scheduledBackupScript,
  schedulePaths,
} from '../../src/core/schedule/script';
import { type S3Credentials, s3UploadSink } from '../../src/core/s3/scripts';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { awsShell } from '../support/aws';
import { keyServer, testEnv } from '../support/sshEnv';
import { type Postgres, hostDatabase, startPostgres } from '../world/databases';
import { s3rverSettings, startS3, stopS3AndRemove, type S3World } from '../world/s3';
import { startSshServer, type SshServer } from '../world/sshServer';

const DAY = 86_400_000;
const BASE = 'web-1_shop_postgres_';
const POLICY: RetentionPolicy = { local: { last: 5 }, s3: { daily: 7, weekly: 4, monthly: 12, yearly: 2 } };
const stamp = (t: number) => `${new Date(t).toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;

describe('GFS retention over real SSH and S3 (sshd + s3rver + PostgreSQL): 60 backups over 400 days', function () {
  this.timeout(240_000);
  let sshd: SshServer;
  let s3: S3World;
  let pg: Postgres;
  let pool: ConnectionPool;
  let work: string;
  let server: Server;
  let creds: S3Credentials;
  const prefix = 'infrakt/backups/';
  const dbPrefix = `${prefix}shop/`;
  /** Another database's and another server's backups, on the disk and in S3: never touched. */
  const strangers = [
    'web-1_shop2_postgres_20250101T000000Z.dump.zst',
    'web-2_shop_postgres_20250101T000000Z.dump.zst',
  ];
  const run = (script: string, secrets: string[] = []) => pool.run(server, script, { secrets });
  const localFiles = () =>
    // A run's row counts (<backup>.counts, for Verify Backup) go with their backup: verify.test.ts checks them.
    fs
      .readdirSync(server.backupDir)
      .filter((f) => !f.startsWith('.') && !f.startsWith('backup-') && !f.endsWith('.counts'));
  const s3Keys = () => s3.listKeys().filter((k) => k.startsWith(prefix));

  /**
   * The 60 backups: one every ~6.8 days back to 400 days ago (two on some
   * days); every 7th has no .sha256 on the disk (kept, never counted). In S3
   * all are marked, and two newer objects have no mark (unfinished uploads).
   */
  let seeded: { local: RetentionCandidate[]; s3: RetentionCandidate[]; unmarked: string[] };
  const seed = async () => {
    for (const f of fs.readdirSync(server.backupDir))
      fs.rmSync(path.join(server.backupDir, f), { recursive: true, force: true });
    for (const k of s3.listKeys())
      fs.rmSync(path.join(s3.directory, s3.bucket, `${k}._S3rver_object`), { force: true });
    const now = Date.now();
    const names: string[] = [];
    for (let i = 0; names.length < 60; i++) {
      const t = now - 3_600_000 - Math.round((i * 400 * DAY) / 52);
      names.push(`${BASE}${stamp(t)}.dump.zst`);
      if (i % 6 === 2) names.push(`${BASE}${stamp(t - 2 * 3_600_000)}.dump.zst`);
    }
    const local: RetentionCandidate[] = names.map((n, i) => ({ name: n, verified: i % 7 !== 0 }));
    for (const c of local) {
      fs.writeFileSync(path.join(server.backupDir, c.name), 'x');
      if (c.verified) fs.writeFileSync(path.join(server.backupDir, `${c.name}.sha256`), 'y');
    }
    for (const f of strangers) {
      fs.writeFileSync(path.join(server.backupDir, f), 'x');
      fs.writeFileSync(path.join(server.backupDir, `${f}.sha256`), 'y');
    }
    const unmarked = [
      `${dbPrefix}${BASE}${stamp(now - 60_000)}.dump.zst`,
      `${dbPrefix}${BASE}${stamp(now - 120_000)}.dump.zst`,
    ];
    const tree = fs.mkdtempSync(path.join(work, 'seed-'));
    const keys = [
      ...names.flatMap((n) => [`${dbPrefix}${n}`, `${dbPrefix}${n}.sha256`]),
      ...unmarked,
      `${prefix}shop2/${strangers[0]}`,
      `${prefix}shop2/${strangers[0]}.sha256`,
      `${dbPrefix}${strangers[1]}`,
      `${dbPrefix}${strangers[1]}.sha256`,
    ];
    for (const k of keys) {
      fs.mkdirSync(path.dirname(path.join(tree, k)), { recursive: true });
      fs.writeFileSync(path.join(tree, k), 'x');
    }
    const put = await run(
      awsShell(creds, `awsx s3 cp --only-show-errors --recursive ${q(tree)} "s3://$infrakt_bucket/"`),
      [creds.secretKey],
    );
    assert.equal(put.code, 0, put.stderr);
    seeded = { local, s3: names.map((n) => ({ name: n, verified: true })), unmarked };
  };

  /** After a run that made `made`: exactly what the selection keeps is left, on each side, and nothing else went. */
  const assertKeptExactly = (made: string) => {
    const now = new Date();
    const localPlan = selectRetention([...seeded.local, { name: made, verified: true }], POLICY.local!, {
      now,
      justMade: made,
    });
    const s3Plan = selectRetention([...seeded.s3, { name: made, verified: true }], POLICY.s3!, {
      now,
      justMade: made,
    });
    const verifiedLocal = new Set(seeded.local.filter((c) => c.verified).map((c) => c.name)).add(made);
    const expectLocal = localPlan
      .filter((d) => d.keep)
      .flatMap((d) => (verifiedLocal.has(d.name) ? [d.name, `${d.name}.sha256`] : [d.name]));
    assert.deepEqual(
      localFiles().sort(),
      [...expectLocal, ...strangers.flatMap((f) => [f, `${f}.sha256`])].sort(),
      'on the server',
    );
    // Hand-checked facts of this listing: the new backup and the 4 newest verified ones; the 9 without a checksum.
    assert.equal(localPlan.filter((d) => d.keep && d.reasons.includes('last 5')).length, 5);
    assert.equal(localPlan.filter((d) => d.keep && d.reasons.includes('no checksum')).length, 9);
    const expectS3 = s3Plan
      .filter((d) => d.keep)
      .flatMap((d) => [`${dbPrefix}${d.name}`, `${dbPrefix}${d.name}.sha256`]);
    assert.deepEqual(
      s3Keys().sort(),
      [
        ...expectS3,
        ...seeded.unmarked,
        `${prefix}shop2/${strangers[0]}`,
        `${prefix}shop2/${strangers[0]}.sha256`,
        `${dbPrefix}${strangers[1]}`,
        `${dbPrefix}${strangers[1]}.sha256`,
      ].sort(),
      'in S3',
    );
    const keptS3 = s3Plan.filter((d) => d.keep);
    assert.ok(keptS3.length >= 12 && keptS3.length <= 7 + 4 + 12 + 2 + 1, `${keptS3.length} kept in S3`);
    assert.ok(
      keptS3.some((d) => d.reasons.some((r) => r.startsWith('yearly '))),
      'a yearly one is kept',
    );
    return {
      deletedLocal: localPlan.filter((d) => !d.keep).length,
      deletedS3: s3Plan.filter((d) => !d.keep).length,
    };
  };

  before(async () => {
    [sshd, s3, pg] = await Promise.all([startSshServer(), startS3(), startPostgres()]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-gfs-'));
    server = keyServer(sshd, path.join(work, 'backups'));
    fs.mkdirSync(server.backupDir, { recursive: true });
    pool = new ConnectionPool(testEnv());
    pg.createDatabase('shop');
    pg.sql(
      'CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100)',
      'shop',
    );
    creds = { settings: s3rverSettings(s3, { prefix }), secretKey: 'S3RVER' };
  });
  after(async () => {
    pool?.dispose();
    await sshd?.stop();
    if (s3) await stopS3AndRemove(s3);
    pg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('Back Up Now applies the policy in the same run: exactly what the selection keeps remains, locally and in S3', async () => {
    await seed();
    const b = await backUpNow(
      forServer(pool, server),
      { server, database: hostDatabase(pg, 'shop'), password: { kind: 'inline', password: pg.password } },
      { extraSinks: [s3UploadSink(creds, 'shop')], retention: POLICY },
    );
    assert.deepEqual(b.failedSinks, []);
    assert.equal(b.retention?.error, undefined);
    const expected = assertKeptExactly(b.file);
    assert.equal(b.retention?.deletedLocal.length, expected.deletedLocal);
    assert.equal(b.retention?.deletedLocal.length, 51 - 4, 'the 51 verified minus the 4 newest');
    assert.equal(b.retention?.deletedS3.length, expected.deletedS3);
  });

  it('the scheduled script, run as cron runs it, applies the same policy', async () => {
    await seed();
    const credPath = path.join(work, 'opt', '.aws', 'credentials');
    const passwordPath = path.join(work, 'opt', '.secrets', 'shop.env');
    assert.equal(
      (await run(credentialsFileScript(creds.settings, creds.secretKey, credPath), [creds.secretKey])).code,
      0,
    );
    assert.equal(
      (await run(passwordFileScript('postgres', pg.password, passwordPath), [pg.password])).code,
      0,
    );
    const script = path.join(work, 'scheduled.sh');
    fs.writeFileSync(
      script,
      scheduledBackupScript({
        target: {
          server,
          database: hostDatabase(pg, 'shop'),
          password: { kind: 'file', path: passwordPath },
        },
        retention: POLICY,
        s3: { settings: creds.settings, credentialsPath: credPath },
      }),
      { mode: 0o700 },
    );
    const r = await run(`env -i PATH=/usr/bin:/bin HOME=/root SHELL=/bin/sh LOGNAME=root ${q(script)}`);
    const paths = schedulePaths(server.backupDir, 'shop');
    const status = JSON.parse(fs.readFileSync(paths.status, 'utf8')) as RunStatus;
    assert.equal(r.code, 0, `${r.stderr}\n${fs.readFileSync(paths.log, 'utf8')}`);
    assert.equal(status.ok, true, status.error);
    for (const f of fs.readdirSync(server.backupDir))
      if (f === '.status') fs.rmSync(path.join(server.backupDir, f), { recursive: true });
    const expected = assertKeptExactly(status.file ?? '');
    assert.equal(status.deletedLocal, expected.deletedLocal);
    assert.equal(status.deletedS3, expected.deletedS3);
  });

  it('Apply Retention Now: the preview deletes nothing; then only the confirmed deletions go', async () => {
    await seed();
    const before = { local: localFiles().sort(), s3: s3Keys().sort() };
    const database = { name: 'shop', engine: 'postgres' as const, retention: POLICY };
    const preview = await runRetentionNow(forServer(pool, server), server, database, creds);
    assert.equal(preview.outcome.error, undefined);
    assert.deepEqual(
      { local: localFiles().sort(), s3: s3Keys().sort() },
      before,
      'a preview deletes nothing',
    );
    const now = new Date();
    const oracle = (side: 'local' | 's3') =>
      selectRetention(seeded[side], POLICY[side]!, { now }).map((d) => ({
        ...d,
        name: side === 's3' ? `${dbPrefix}${d.name}` : d.name,
      }));
    assert.deepEqual(preview.local, oracle('local'), 'the server’s plan is the selection, reasons included');
    assert.deepEqual(preview.s3, oracle('s3'));

    const goLocal = preview.local
      .filter((d) => !d.keep)
      .slice(0, 3)
      .map((d) => d.name);
    const goS3 = preview.s3
      .filter((d) => !d.keep)
      .slice(0, 2)
      .map((d) => d.name);
    const done = await runRetentionNow(forServer(pool, server), server, database, creds, {
      local: goLocal,
      s3: goS3,
    });
    assert.deepEqual(done.outcome, { deletedLocal: goLocal, deletedS3: goS3, error: undefined });
    assert.deepEqual(
      localFiles().sort(),
      before.local.filter((f) => !goLocal.some((g) => f === g || f === `${g}.sha256`)),
    );
    assert.deepEqual(
      s3Keys().sort(),
      before.s3.filter((k) => !goS3.some((g) => k === g || k === `${g}.sha256`)),
    );
    const notConfirmed = done.local.filter((d) => d.reasons.includes('not confirmed'));
    assert.equal(notConfirmed.length, preview.local.filter((d) => !d.keep).length - 3);
  });

  it('a failed S3 listing deletes nothing in S3 and says why; the rule on the server still runs', async () => {
    await seed();
    const before = s3Keys().sort();
    const bad: S3Credentials = { ...creds, settings: { ...creds.settings, accessKey: 'WRONGKEY' } };
    const database = { name: 'shop', engine: 'postgres' as const, retention: POLICY };
    const all = deletionsOf(await runRetentionNow(forServer(pool, server), server, database, bad));
    const done = await runRetentionNow(forServer(pool, server), server, database, bad, all);
    assert.match(done.outcome.error ?? '', /^S3: cannot list infrakt\/backups\/shop\/: .*InvalidAccessKeyId/);
    assert.deepEqual(done.outcome.deletedS3, []);
    assert.deepEqual(s3Keys().sort(), before);
    assert.equal(done.outcome.deletedLocal.length, 51 - 5, 'the local rule ran');
  });
});
