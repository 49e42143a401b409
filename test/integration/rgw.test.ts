// Against a signature-checking S3 server (Ceph RGW, started once for this
// file): every failure a user can meet is named in the words the user sees,
// with both awscli versions this machine has (v1 from pyenv, which the test
// sshd's shell finds; v2, Debian's /usr/bin/aws); and the product path over
// real SSH — a multipart Back Up Now, the merged listing, an S3-only restore
// with the right and with a wrong secret — and part sizes that grow with the
// expected size.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backUpNow, forServer, restoreBackup, type BackupTarget } from '../../src/core/backup';
import type { Database, Server } from '../../src/core/model';
import { SH } from '../../src/core/remote/modules';
import {
  type S3Credentials,
  diagnoseS3Error,
  parseS3Steps,
  s3DownloadScript,
  s3UploadSink,
  testConnectionScript,
} from '../../src/core/s3/scripts';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { awsShell } from '../support/aws';
import { parseRetention, parseRetentionPlan } from '../../src/core/backup/retention';
import { retentionNowScript } from '../../src/core/backup/retentionNow';
import { listBackups } from '../support/listing';
import { runLocalScript } from '../support/localShell';
import { keyServer, testEnv } from '../support/sshEnv';
import { toolPath } from '../support/stubBin';
import { findOnPath } from '../../src/core/backup/localRestore';
import { type Postgres, startPostgres } from '../world/databases';
import { RGW_SECRET_KEY, type RgwWorld, rgwSettings, startRgw } from '../world/rgw';
import { localRunner } from '../world/localRunner';
import { startSshServer, type SshServer } from '../world/sshServer';

const FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** The awscli installs of this machine: [label, a PATH that finds it first]. */
function awsclis(work: string): [string, NodeJS.ProcessEnv][] {
  const out: [string, NodeJS.ProcessEnv][] = [];
  const seen = new Set<string>();
  for (const candidate of [toolPath('aws'), '/usr/bin/aws']) {
    if (!candidate || !fs.existsSync(candidate)) continue;
    const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim().split(' ')[0];
    if (seen.has(version)) continue;
    seen.add(version);
    const bin = path.join(work, `bin-${out.length}`);
    fs.mkdirSync(bin);
    fs.symlinkSync(candidate, path.join(bin, 'aws'));
    out.push([version, { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }]);
  }
  return out;
}

describe('a signature-checking S3 server (Ceph RGW): failures named, multipart uploads, restores', function () {
  this.timeout(300_000);
  let rgw: RgwWorld;
  let work: string;
  const creds = (
    over: Partial<S3Credentials['settings']> = {},
    secretKey = RGW_SECRET_KEY,
  ): S3Credentials => ({
    settings: rgwSettings(rgw, over),
    secretKey,
  });
  /** Credentials RGW refuses, each with the cause the user must read. */
  const namedFailures = (): [string, S3Credentials, string][] => [
    [
      'wrong secret',
      creds({}, 'not-the-secret-key'),
      'the secret key is wrong: the S3 endpoint rejected the request signature',
    ],
    [
      'unknown access key',
      creds({ accessKey: 'NOSUCHACCESSKEY00000' }),
      'the access key is not known to the storage provider',
    ],
    ['missing bucket', creds({ bucket: 'no-such-bucket' }), 'the bucket does not exist at this endpoint'],
  ];
  /** Keys under a prefix, with the right credentials. */
  const keys = async (prefix: string): Promise<string[]> => {
    const r = await runLocalScript(
      awsShell(
        creds(),
        `awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix="${prefix}" --query 'Contents[].Key' --output text`,
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim() === 'None' ? [] : r.stdout.trim().split(/\s+/).filter(Boolean).sort();
  };
  /** Test Connection as the settings page runs it; the cause the user reads. */
  const testConnection = async (c: S3Credentials, env: NodeJS.ProcessEnv) => {
    const r = await runLocalScript(testConnectionScript(c, `infrakt-probe-${Date.now()}.txt`), env);
    const steps = parseS3Steps(r.stdout);
    const failed = steps.find((s) => !s.ok);
    return {
      r,
      steps,
      failed,
      said: failed ? diagnoseS3Error(failed.detail, 'web-1', failed.step) : undefined,
    };
  };

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-rgw-test-'));
    rgw = await startRgw();
  });
  after(async () => {
    await rgw?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('Test Connection and its failures, with each awscli', () => {
    let found: [string, NodeJS.ProcessEnv][] | undefined;
    const clis = () => (found ??= awsclis(work));
    it('both awscli versions are here (v1 and v2)', () => {
      assert.deepEqual(
        clis()
          .map(([v]) => v.replace(/\..*/, ''))
          .sort(),
        ['aws-cli/1', 'aws-cli/2'],
      );
    });

    for (const major of ['1', '2']) {
      const env = () => {
        const found = clis().find(([v]) => v.startsWith(`aws-cli/${major}.`));
        assert.ok(found, `awscli v${major} is installed`);
        return found[1];
      };

      it(`awscli v${major}: good credentials pass every step and leave nothing`, async () => {
        const { r, steps } = await testConnection(creds(), env());
        assert.deepEqual(
          steps.map((s) => `${s.step}:${s.ok}`),
          ['put:true', 'head:true', 'get:true', 'list:true', 'delete:true'],
          r.stderr,
        );
        assert.deepEqual(await keys('infrakt/backups/infrakt-probe-'), [], 'the probe is removed');
      });

      it(`awscli v${major}: a wrong secret key, an unknown access key and a missing bucket are each named`, async () => {
        const cases = namedFailures();
        for (const [label, c, cause] of cases) {
          const { r, failed, said } = await testConnection(c, env());
          assert.equal(failed?.step, 'put', `${label}: ${r.stdout}`);
          assert.equal(said?.cause, cause, `${label}: ${failed?.detail}`);
          assert.doesNotMatch(`${said?.cause} ${said?.next}`, /NoneType|aws-cli\//, label);
        }
      });

      it(`awscli v${major}: retention deletes in signed batches (delete-objects) exactly what the rule selects, marks after their objects`, async () => {
        const db = `ret${major}`;
        const prefix = `infrakt/backups/${db}/`;
        const names = [1, 2, 3, 4, 5].map((d) => `web-1_${db}_postgres_2026110${d}T020000Z.dump.zst`);
        const tree = fs.mkdtempSync(path.join(work, 'ret-'));
        fs.mkdirSync(path.join(tree, prefix), { recursive: true });
        for (const n of names)
          for (const f of [n, `${n}.sha256`]) fs.writeFileSync(path.join(tree, prefix, f), 'x');
        const put = await runLocalScript(
          awsShell(creds(), `awsx s3 cp --only-show-errors --recursive "${tree}" "s3://$infrakt_bucket/"`),
          env(),
        );
        assert.equal(put.code, 0, put.stderr);
        const database = { name: db, engine: 'postgres' as const, retention: { s3: { last: 2 } } };
        const server = { name: 'web-1', backupDir: path.join(tree, 'none') };
        const preview = await runLocalScript(retentionNowScript(server, database, creds()), env());
        const plan = parseRetentionPlan(preview.stdout);
        const go = plan.s3.filter((d) => !d.keep).map((d) => d.name);
        assert.deepEqual(
          go,
          names
            .slice(0, 3)
            .reverse()
            .map((n) => `${prefix}${n}`),
          preview.stderr,
        );
        const r = await runLocalScript(
          retentionNowScript(server, database, creds(), { local: [], s3: go }),
          env(),
        );
        assert.deepEqual(
          parseRetention(r.stdout),
          { deletedLocal: [], deletedS3: go, error: undefined },
          r.stderr,
        );
        assert.deepEqual(
          await keys(prefix),
          names
            .slice(3)
            .flatMap((n) => [`${prefix}${n}`, `${prefix}${n}.sha256`])
            .sort(),
        );
      });

      it(`awscli v${major}: a key without access to the bucket, and a full quota, are each named`, async () => {
        const other = 'INFRAKTRGWOTHERKEY01';
        await rgw.admin([
          'user',
          'create',
          `--uid=other-${major}`,
          '--display-name=other',
          `--access-key=${other}${major}`,
          `--secret=other-secret-${major}`,
        ]);
        const denied = await testConnection(
          creds({ accessKey: `${other}${major}` }, `other-secret-${major}`),
          env(),
        );
        assert.equal(
          denied.said?.cause,
          'the key is not allowed to write to this bucket',
          denied.failed?.detail,
        );

        await rgw.admin(['quota', 'set', '--quota-scope=user', '--uid=infrakt', '--max-size=8']);
        await rgw.admin(['quota', 'enable', '--quota-scope=user', '--uid=infrakt']);
        try {
          const full = await testConnection(creds(), env());
          assert.match(full.said?.cause ?? '', /^the bucket is full/, full.failed?.detail);
        } finally {
          await rgw.admin(['quota', 'disable', '--quota-scope=user', '--uid=infrakt']);
        }
      });

      it(`awscli v${major}: a server clock an hour behind is named, with the offset`, async function () {
        if (!fs.existsSync(FAKETIME_LIB)) assert.fail(`faketime is not installed (${FAKETIME_LIB})`);
        // A server an hour behind: its awscli and its `date` (which the offset is taken
        // from). Each process loads libfaketime itself; loaded into the shell, its shared
        // semaphore would be the shell's, and a subshell that exits runs the library's
        // clean-up too, removing it under the tools started after.
        const base = env();
        const bin = fs.mkdtempSync(path.join(work, 'skewed-'));
        for (const tool of ['aws', 'date']) {
          const real = findOnPath(tool, base.PATH);
          assert.ok(real, `${tool} on the PATH of this awscli`);
          fs.writeFileSync(
            path.join(bin, tool),
            `#!/bin/sh\nLD_PRELOAD=${FAKETIME_LIB} FAKETIME=-1h FAKETIME_DONT_FAKE_MONOTONIC=1 exec ${real} "$@"\n`,
            { mode: 0o755 },
          );
        }
        const skewed = { ...base, PATH: `${bin}:${base.PATH ?? ''}` };
        const { failed, said } = await testConnection(creds(), skewed);
        assert.match(
          said?.cause ?? '',
          /^web-1’s clock is off by 3[56]\d\d s \(behind the S3 endpoint\), so the S3 endpoint refuses its signed requests$/,
          failed?.detail,
        );
        assert.match(said?.next ?? '', /NTP/);
      });
    }
  });

  it('the part size of a streamed upload grows with the expected size (as the S3 server stores the parts)', async () => {
    /** Uploads 40 MB through the S3 sink; the number of parts S3 made of it (a multipart ETag ends in -<parts>). */
    const parts = async (expected: string, key: string): Promise<number> => {
      const script = awsShell(
        creds(),
        [
          `infrakt_s3_stall=60 infrakt_s3_prefix=parts/ infrakt_name=${key} infrakt_expected_size=${expected}`,
          'head -c 40000000 /dev/urandom | (infrakt_sink_s3_run) || exit 1',
          `awsx s3api head-object --bucket "$infrakt_bucket" --key=parts/${key} --query ETag --output text`,
          `awsx s3api delete-object --bucket "$infrakt_bucket" --key=parts/${key}`,
        ].join('\n'),
        [SH.s3sink],
      );
      const r = await runLocalScript(script);
      assert.equal(r.code, 0, r.stderr);
      const etag = /-(\d+)"?\s*$/.exec(r.stdout.trim());
      assert.ok(etag, `a multipart ETag: ${r.stdout}`);
      return Number(etag[1]);
    };
    // awscli's part size for a stream: 8 MiB, doubled until 10,000 parts hold the expected size.
    const MiB = 1024 * 1024;
    const partFor = (expected: number) => {
      let part = 8 * MiB;
      while (Math.ceil(expected / part) > 10_000) part *= 2;
      return part;
    };
    const expected = 200 * 1024 ** 3;
    assert.equal(partFor(expected), 32 * MiB);
    // No size known: 8 MiB parts (a stream ends at about 78 GiB); 200 GiB expected: 32 MiB parts.
    assert.equal(await parts('', 'small'), Math.ceil(40_000_000 / (8 * MiB)));
    assert.equal(await parts(String(expected), 'big'), Math.ceil(40_000_000 / partFor(expected)));
  });

  describe('the product path over real SSH (the server’s awscli)', () => {
    let sshd: SshServer;
    let pg: Postgres;
    let pool: ConnectionPool;
    let server: Server;
    const database = {
      id: 'db-1',
      serverId: 'srv-1',
      name: 'shop',
      engine: 'postgres',
      retention: {},
      mode: 'host',
      dbHost: '127.0.0.1',
      dbUser: 'postgres',
      dbName: 'shop',
      createdAt: '',
    } as Database;
    const target = (): BackupTarget => ({
      server: { name: server.name, backupDir: server.backupDir },
      database: { ...database, dbPort: pg.port },
      password: { kind: 'inline', password: pg.password },
    });
    const rows = () =>
      pg.sql("SELECT count(*), md5(string_agg(md5(body), ',' ORDER BY id)) FROM blobs", 'shop');

    before(async () => {
      [sshd, pg] = await Promise.all([startSshServer(), startPostgres()]);
      server = keyServer(sshd, path.join(work, 'backups'));
      pool = new ConnectionPool(testEnv());
      pg.createDatabase('shop');
      // About 24 MB of random bytes: a compressed dump over awscli's 8 MiB multipart threshold.
      pg.sql('CREATE EXTENSION IF NOT EXISTS pgcrypto', 'shop');
      pg.sql(
        'CREATE TABLE blobs (id int PRIMARY KEY, body bytea); INSERT INTO blobs SELECT g, gen_random_bytes(1024) FROM generate_series(1, 24000) g',
        'shop',
      );
    });
    after(async () => {
      pool?.dispose();
      await sshd?.stop();
      pg?.stop();
    });

    it('Back Up Now uploads in parts with its .sha256 last; the listing shows S3 + Local; an S3-only restore works with the right secret and names a wrong one', async () => {
      const c = creds();
      const b = await backUpNow(forServer(pool, server), target(), { extraSinks: [s3UploadSink(c, 'shop')] });
      assert.deepEqual(b.failedSinks, []);
      assert.ok(b.size > 8 * 1024 * 1024, `a multipart upload (${b.size} bytes)`);
      const key = `infrakt/backups/shop/${b.file}`;
      assert.deepEqual(await keys('infrakt/backups/shop/'), [key, `${key}.sha256`]);
      const got = await runLocalScript(
        awsShell(
          c,
          [
            `awsx s3api head-object --bucket "$infrakt_bucket" --key="${key}" --query ETag --output text`,
            `awsx s3 cp --only-show-errors "s3://$infrakt_bucket/${key}" - | sha256sum | cut -c1-64`,
            `awsx s3 cp --only-show-errors "s3://$infrakt_bucket/${key}.sha256" -`,
          ].join('\n'),
        ),
      );
      assert.equal(got.code, 0, got.stderr);
      const [etag, sum, mark] = got.stdout.trim().split('\n');
      assert.ok(Number(/-(\d+)"?$/.exec(etag)?.[1]) >= 2, `uploaded in parts (ETag ${etag})`);
      assert.equal(sum, b.sha256, 'the object is the backup, byte for byte');
      assert.equal(mark, `${b.sha256}  ${b.file}`);

      const listed = await listBackups(
        server,
        [{ name: 'shop', engine: 'postgres' }],
        (script) => pool.run(server, script, { secrets: [c.secretKey] }),
        c,
      );
      assert.deepEqual(listed.s3, { state: 'ok' });
      assert.deepEqual(
        listed.byDatabase.get('shop')?.map((e) => [e.filename, e.location]),
        [[b.file, 'both']],
      );

      // Only in S3 now. A wrong secret: the restore's download names it, and leaves nothing.
      for (const f of [b.file, `${b.file}.sha256`, `${b.file}.counts`])
        fs.rmSync(path.join(server.backupDir, f));
      const wrong = creds({}, 'not-the-secret-key');
      const denied = await pool.run(server, s3DownloadScript(wrong, server, 'shop', b.file), {
        secrets: [wrong.secretKey],
      });
      assert.notEqual(denied.code, 0);
      assert.doesNotMatch(denied.stderr, /no checksum object/);
      assert.equal(
        diagnoseS3Error(denied.stderr, server.name).cause,
        'the secret key is wrong: the S3 endpoint rejected the request signature',
        denied.stderr,
      );
      assert.deepEqual(
        fs.readdirSync(server.backupDir).filter((f) => f.includes(b.file)),
        [],
        'no partial download is left',
      );

      const original = rows();
      pg.sql('UPDATE blobs SET body = NULL WHERE id <= 10', 'shop');
      const d = await pool.run(server, s3DownloadScript(c, server, 'shop', b.file), {
        secrets: [c.secretKey],
      });
      assert.equal(d.code, 0, d.stderr);
      const r = await restoreBackup(forServer(pool, server), target(), b.file);
      assert.equal(r.verified, true);
      assert.equal(rows(), original);
    });

    it('Back Up Now with each failure RGW can produce, with each awscli: the local backup is kept, the cause named, nothing left in S3', async () => {
      pg.createDatabase('tiny');
      pg.sql('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)', 'tiny');
      const tiny = (): BackupTarget => ({
        ...target(),
        database: { ...target().database, name: 'tiny', dbName: 'tiny' },
      });
      const other = 'INFRAKTRGWDENIEDKEY1';
      await rgw.admin([
        'user',
        'create',
        '--uid=denied',
        '--display-name=denied',
        `--access-key=${other}`,
        '--secret=denied-secret',
      ]);
      const cases: [string, S3Credentials, string][] = [
        ...namedFailures(),
        ['no access to the bucket', creds({ accessKey: other }, 'denied-secret'), 'access denied'],
      ];
      const clis = awsclis(fs.mkdtempSync(path.join(work, 'clis-')));
      assert.equal(clis.length, 2, 'awscli v1 and v2');
      for (const [version, env] of clis) {
        for (const [label, c, cause] of cases) {
          const before = await keys('infrakt/backups/tiny/');
          let stderr = '';
          const b = await backUpNow(localRunner({ env }), tiny(), {
            extraSinks: [s3UploadSink(c, 'tiny')],
            onStderr: (chunk) => (stderr += chunk),
          });
          const what = `${version}, ${label}`;
          assert.deepEqual(b.failedSinks, ['s3'], what);
          assert.ok(fs.existsSync(path.join(server.backupDir, b.file)), `${what}: the local backup is kept`);
          assert.equal(diagnoseS3Error(stderr, server.name).cause, cause, `${what}: ${stderr}`);
          assert.deepEqual(await keys('infrakt/backups/tiny/'), before, `${what}: nothing in S3`);
          assert.ok(!stderr.includes(c.secretKey), `${what}: the secret is never printed`);
        }
      }
    });
  });
});
