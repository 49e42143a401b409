// The product path end to end, below the VS Code glue: the pooled ssh2
// transport into a real sshd, Back Up Now streaming to a real S3 server
// (s3rver) with the machine's real awscli, the tree's one-round-trip listing
// (local + S3 merged into badges), download of an S3-only backup with its
// checksum checked, and restore into a real PostgreSQL.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backUpNow, forServer, restoreBackup, type BackupTarget } from '../../src/core/backup';
import { listBackups } from '../support/listing';
import type { Database, Server } from '../../src/core/model';
import {
  type S3Credentials,
  diagnoseS3Error,
  s3DeleteScript,
  s3DownloadScript,
  s3UploadFileScript,
  s3UploadSink,
} from '../../src/core/s3/scripts';
import { awsShell } from '../support/aws';
import { EXIT } from '../../src/core/remote/protocol';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { keyServer, testEnv } from '../support/sshEnv';
import { type Postgres, startPostgres } from '../world/databases';
import { S3RVER_KEY, startS3, stopS3AndRemove, type S3World } from '../world/s3';
import { startSshServer, type SshServer } from '../world/sshServer';

describe('backups over real SSH with S3 copies (sshd + s3rver + PostgreSQL)', function () {
  this.timeout(120_000);
  let sshd: SshServer;
  let s3: S3World;
  let pg: Postgres;
  let pool: ConnectionPool;
  let work: string;
  let server: Server;
  const database: Database = {
    id: 'db-1',
    serverId: 'srv-1',
    name: 'shop',
    engine: 'postgres',
    retention: {},
    mode: 'host',
    dbHost: '127.0.0.1',
    dbPort: 0,
    dbUser: 'postgres',
    dbName: 'shop',
    createdAt: '',
    updatedAt: '',
  } as Database;
  const creds = (accessKey = S3RVER_KEY): S3Credentials => ({
    settings: {
      endpointUrl: s3.endpointUrl,
      bucket: s3.bucket,
      region: 'us-east-1',
      accessKey,
      prefix: 'infrakt/backups/',
      pathStyle: true,
      checksumWhenRequired: true,
    },
    secretKey: 'S3RVER',
  });
  const target = (): BackupTarget => ({
    server: { name: server.name, backupDir: server.backupDir },
    database: { ...database, dbPort: pg.port },
    password: { kind: 'inline', password: pg.password },
  });
  const rows = () => pg.sql("SELECT count(*), md5(string_agg(name, ',' ORDER BY id)) FROM items", 'shop');
  const listing = async (c?: S3Credentials) => {
    const dbs = [{ name: 'shop', engine: 'postgres' as const }];
    const before = pool.stats.channels;
    const l = await listBackups(
      server,
      dbs,
      (script) => pool.run(server, script, { secrets: c ? [c.secretKey] : [] }),
      c,
    );
    assert.equal(
      pool.stats.channels - before,
      c ? 2 : 1,
      'one round trip for the local files, and one for the S3 listing',
    );
    return l;
  };

  before(async () => {
    [sshd, s3, pg] = await Promise.all([startSshServer(), startS3(), startPostgres()]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-ssh-backup-'));
    server = keyServer(sshd, path.join(work, 'backups'));
    pool = new ConnectionPool(testEnv());
    pg.createDatabase('shop');
    pg.sql(
      'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 2000) g',
      'shop',
    );
  });
  after(async () => {
    pool?.dispose();
    await sshd?.stop();
    if (s3) await stopS3AndRemove(s3);
    pg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('Back Up Now uploads while it writes; the listing shows "both"; S3-only backups download verified and restore', async () => {
    const original = rows();
    const c = creds();
    const b = await backUpNow(forServer(pool, server), target(), {
      extraSinks: [s3UploadSink(c, 'shop')],
    });
    assert.deepEqual(b.failedSinks, []);
    const key = `infrakt/backups/shop/${b.file}`;
    assert.deepEqual(s3.readObject(key), fs.readFileSync(path.join(server.backupDir, b.file)));
    assert.equal(s3.readObject(`${key}.sha256`)?.toString(), `${b.sha256}  ${b.file}\n`);

    let l = await listing(c);
    assert.deepEqual(l.s3, { state: 'ok' });
    assert.deepEqual(
      l.byDatabase.get('shop')?.map((e) => [e.filename, e.location, e.hasChecksum]),
      [[b.file, 'both', true]],
    );

    // Only in S3 now: the listing says so, and restore first downloads it (verified).
    fs.rmSync(path.join(server.backupDir, b.file));
    fs.rmSync(path.join(server.backupDir, `${b.file}.sha256`));
    l = await listing(c);
    assert.equal(l.byDatabase.get('shop')?.[0].location, 's3');

    pg.sql("UPDATE items SET name = 'changed'", 'shop');
    assert.notEqual(rows(), original);
    const d = await pool.run(server, s3DownloadScript(c, server, 'shop', b.file), { secrets: [c.secretKey] });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(fs.readdirSync(server.backupDir).filter((f) => f.endsWith('.partial')).length, 0);
    const r = await restoreBackup(forServer(pool, server), target(), b.file);
    assert.equal(r.verified, true);
    assert.equal(rows(), original);
    assert.equal((await listing(c)).byDatabase.get('shop')?.[0].location, 'both');
  });

  it('Back Up Now applies the database’s retention in the same run: local beyond the last 3 and S3 beyond the last 2 go, the new backup stays', async () => {
    const c = creds();
    const prefix = 'infrakt/backups/shop/';
    for (const k of s3.listKeys().filter((k) => k.startsWith(prefix)))
      fs.rmSync(path.join(s3.directory, s3.bucket, `${k}._S3rver_object`), { force: true });
    for (const f of fs.readdirSync(server.backupDir))
      fs.rmSync(path.join(server.backupDir, f), { recursive: true, force: true });
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const b = await backUpNow(forServer(pool, server), target(), { extraSinks: [s3UploadSink(c, 'shop')] });
      assert.deepEqual(b.failedSinks, []);
      assert.equal(b.retention, undefined, 'no policy: no retention step');
      made.push(b.file);
    }
    const b = await backUpNow(forServer(pool, server), target(), {
      extraSinks: [s3UploadSink(c, 'shop')],
      retention: { local: { last: 3 }, s3: { last: 2 } },
    });
    assert.deepEqual(b.retention, {
      deletedLocal: [made[0]],
      deletedS3: [`${prefix}${made[1]}`, `${prefix}${made[0]}`],
      error: undefined,
    });
    assert.deepEqual(
      fs
        .readdirSync(server.backupDir)
        .filter((f) => !f.startsWith('.'))
        .sort(),
      // Each backup with its checksum and its row counts (Verify Backup's); made[0]'s went with it.
      [made[1], made[2], b.file].flatMap((f) => [f, `${f}.sha256`, `${f}.counts`]).sort(),
    );
    assert.deepEqual(
      s3
        .listKeys()
        .filter((k) => k.startsWith(prefix))
        .sort(),
      [made[2], `${made[2]}.sha256`, b.file, `${b.file}.sha256`].map((f) => `${prefix}${f}`).sort(),
    );
  });

  it('a tampered S3 object is refused on download and leaves no file that looks complete', async () => {
    const c = creds();
    const b = await backUpNow(forServer(pool, server), target(), {
      extraSinks: [s3UploadSink(c, 'shop')],
    });
    for (const f of [b.file, `${b.file}.sha256`, `${b.file}.counts`])
      fs.rmSync(path.join(server.backupDir, f));
    // Replace the object with other bytes (as a broken upload or a tampered bucket would).
    const upload = await pool.run(
      server,
      awsShell(
        c,
        `printf 'not the backup' | awsx s3 cp --only-show-errors - "s3://$infrakt_bucket/infrakt/backups/shop/${b.file}"`,
      ),
      { secrets: [c.secretKey] },
    );
    assert.equal(upload.code, 0, upload.stderr);
    const d = await pool.run(server, s3DownloadScript(c, server, 'shop', b.file), { secrets: [c.secretKey] });
    assert.equal(d.code, EXIT.checksumMismatch, d.stderr);
    assert.match(d.stderr, /does not match its checksum/);
    const left = fs.readdirSync(server.backupDir).filter((f) => f.startsWith(b.file));
    assert.deepEqual(left, []);
  });

  it('a local-only backup can be uploaded later; an S3 failure still lists the local files, with the cause', async () => {
    const b = await backUpNow(forServer(pool, server), target());
    let l = await listing(creds());
    assert.equal(l.byDatabase.get('shop')?.find((e) => e.filename === b.file)?.location, 'local');

    const bad = creds('WRONGKEY');
    l = await listing(bad);
    assert.equal(l.s3.state, 'error');
    assert.match(l.s3.state === 'error' ? l.s3.message : '', /InvalidAccessKeyId/);
    assert.ok(l.byDatabase.get('shop')?.some((e) => e.filename === b.file && e.location === 'local'));

    const c = creds();
    const up = await pool.run(server, s3UploadFileScript(c, server, 'shop', b.file), {
      secrets: [c.secretKey],
    });
    assert.equal(up.code, 0, up.stderr);
    l = await listing(c);
    assert.equal(l.byDatabase.get('shop')?.find((e) => e.filename === b.file)?.location, 'both');

    // Never an unverifiable or damaged copy: without its .sha256, or not matching it, nothing is uploaded.
    const other = await backUpNow(forServer(pool, server), target());
    const file = path.join(server.backupDir, other.file);
    const sum = fs.readFileSync(`${file}.sha256`);
    fs.rmSync(`${file}.sha256`);
    const noSum = await pool.run(server, s3UploadFileScript(c, server, 'shop', other.file), {
      secrets: [c.secretKey],
    });
    assert.equal(noSum.code, EXIT.noChecksum, noSum.stderr);
    assert.match(noSum.stderr, /has no \.sha256 beside it/);
    fs.writeFileSync(`${file}.sha256`, sum);
    fs.appendFileSync(file, 'x');
    const damaged = await pool.run(server, s3UploadFileScript(c, server, 'shop', other.file), {
      secrets: [c.secretKey],
    });
    assert.equal(damaged.code, EXIT.checksumMismatch, damaged.stderr);
    l = await listing(c);
    assert.equal(l.byDatabase.get('shop')?.find((e) => e.filename === other.file)?.location, 'local');
    assert.ok(!s3.listKeys().some((k) => k.includes(other.file)), 'nothing of it reached S3');
  });

  it('without awscli on the server the listing says so and still shows local backups', async () => {
    const c = creds();
    const dbs = [{ name: 'shop', engine: 'postgres' as const }];
    // A PATH with only what the local listing needs (find, stat, sh): the same script, on a server without aws.
    const bin = path.join(work, 'bin-without-aws');
    fs.mkdirSync(bin, { recursive: true });
    for (const tool of ['stat', 'find', 'sh']) {
      const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      if (!fs.existsSync(path.join(bin, tool))) fs.symlinkSync(real, path.join(bin, tool));
    }
    const l = await listBackups(
      server,
      dbs,
      (script) => pool.run(server, `PATH=${bin}\n${script}`, { secrets: [c.secretKey] }),
      c,
    );
    assert.deepEqual(l.s3, { state: 'error', message: 'awscli (aws) not found on this server' });
    assert.ok((l.byDatabase.get('shop') ?? []).length > 0);
  });

  it('Delete from S3 removes the object and its checksum; a canary secret never reaches ps, the backup dir or /tmp', async () => {
    const canary = 'canary-S3-secret-5d1e9';
    const c = { ...creds(), secretKey: canary }; // s3rver checks the access key only
    const marker = path.join(work, 'before-upload');
    fs.writeFileSync(marker, '');
    const seen: string[] = [];
    const sampler = setInterval(() => {
      try {
        const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
        if (ps.includes(canary)) seen.push(ps.split('\n').find((l) => l.includes(canary)) ?? '');
      } catch {
        // ps raced with an exiting process; the next sample counts
      }
    }, 20);
    let b;
    try {
      b = await backUpNow(forServer(pool, server), target(), {
        extraSinks: [s3UploadSink(c, 'shop')],
      });
    } finally {
      clearInterval(sampler);
    }
    assert.deepEqual(seen, [], 'the secret showed in the process list');
    assert.deepEqual(b.failedSinks, []);
    // Every file written during the backup, on the server's backup dir and /tmp.
    const grep = spawnSync(
      'sh',
      [
        '-c',
        'find "$1" /tmp -xdev -type f -newer "$2" -print0 2>/dev/null | xargs -0 -r grep -l --binary-files=text -F -e "$3"',
        'sh',
        server.backupDir,
        marker,
        canary,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(grep.stdout.trim(), '', `files holding the secret:\n${grep.stdout}`);

    const key = `infrakt/backups/shop/${b.file}`;
    assert.ok(s3.readObject(key));
    const r = await pool.run(server, s3DeleteScript(c, server, 'shop', [b.file]), { secrets: [canary] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s3.readObject(key), undefined);
    assert.equal(s3.readObject(`${key}.sha256`), undefined);
    const l = await listing(c);
    assert.equal(l.byDatabase.get('shop')?.find((e) => e.filename === b.file)?.location, 'local');
  });

  it('S3 unreachable during Back Up Now → the local backup is kept and the cause is clear', async () => {
    const c = creds();
    await s3.stop();
    let stderr = '';
    try {
      const b = await backUpNow(forServer(pool, server), target(), {
        extraSinks: [s3UploadSink(c, 'shop')],
        onStderr: (chunk) => {
          stderr += chunk;
        },
      });
      assert.deepEqual(b.failedSinks, ['s3']);
      const local = path.join(server.backupDir, b.file);
      assert.equal(fs.statSync(local).size, b.size);
      assert.ok(fs.existsSync(`${local}.sha256`));
      assert.match(diagnoseS3Error(stderr, server.name).cause, /web-1 cannot reach the S3 endpoint/);
    } finally {
      await s3.restart();
    }
  });
});
