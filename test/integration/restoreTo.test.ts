// Restore To… on real parts: the pooled ssh2 transport into a real sshd, two
// real PostgreSQL clusters (the second one is the "other server": a second
// server row on the same sshd, with its own backup dir and its own pooled
// connection), a real S3 server (s3rver) with the real awscli.
//   - into a new database on the same server (created first, refused when it exists);
//   - into a database of the other server from S3 (streamed into pg_restore, hashed on the way);
//   - into the other server streamed from the source server through this
//     process's two SSH connections (no file here, none on the target's disk);
//   - a tampered S3 object: the streamed restore is stopped before pg_restore
//     could commit, and the target database is unchanged.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as age from 'age-encryption';
import {
  type BackupTarget,
  type BackupResult,
  BackupError,
  backUpNow,
  forServer,
  restoreBackup,
  restoreRelayed,
} from '../../src/core/backup';
import type { Server } from '../../src/core/model';
import { parseBackupName } from '../../src/core/backup';
import { findOnPath, localRestoreTools, runLocalRestore } from '../../src/core/backup/localRestore';
import { type S3Credentials, s3UploadSink } from '../../src/core/s3/scripts';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { keyServer, testEnv } from '../support/sshEnv';
import { type Postgres, hostDatabase, startPostgres } from '../world/databases';
import { s3rverSettings, startS3, stopS3AndRemove, type S3World } from '../world/s3';
import { startSshServer, type SshServer } from '../world/sshServer';

describe('Restore To… (sshd + two PostgreSQL servers + s3rver)', function () {
  this.timeout(240_000);
  let sshd: SshServer;
  let s3: S3World;
  let pg: Postgres;
  let pg2: Postgres;
  let pool: ConnectionPool;
  let work: string;
  let web1: Server;
  let web2: Server;
  let creds: S3Credentials;
  let plain: BackupResult;
  let identity: string;
  const on = (server: Server, cluster: Postgres, name: string): BackupTarget => ({
    server,
    database: hostDatabase(cluster, name),
    password: { kind: 'inline', password: cluster.password },
  });
  const rows = (cluster: Postgres, db: string) =>
    cluster.sql("SELECT count(*), md5(string_agg(name, ',' ORDER BY id)) FROM items", db);
  const databases = (cluster: Postgres) =>
    cluster.sql('SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1').split('\n');
  let source: string;

  before(async () => {
    [sshd, s3, pg, pg2] = await Promise.all([
      startSshServer(),
      startS3(),
      startPostgres(),
      startPostgres('pg2-Secret-4b8'),
    ]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-restoreto-'));
    web1 = keyServer(sshd, path.join(work, 'web-1'));
    web2 = { ...keyServer(sshd, path.join(work, 'web-2')), id: 'srv-2', name: 'web-2' };
    pool = new ConnectionPool(testEnv());
    creds = { settings: s3rverSettings(s3), secretKey: 'S3RVER' };
    pg.createDatabase('shop');
    // About 2 MB compressed: well past what a streamed restore holds back (1 MiB).
    pg.sql(
      'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(random()::text) || md5(g::text) FROM generate_series(1, 60000) g',
      'shop',
    );
    source = rows(pg, 'shop');
    pg2.createDatabase('shop');
    pg2.sql(
      "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'other')",
      'shop',
    );
    plain = await backUpNow(forServer(pool, web1), on(web1, pg, 'shop'), {
      extraSinks: [s3UploadSink(creds, 'shop')],
    });
    assert.deepEqual(plain.failedSinks, []);
    identity = await age.generateIdentity();
  });
  after(async () => {
    pool?.dispose();
    await sshd?.stop();
    if (s3) await stopS3AndRemove(s3);
    pg?.stop();
    pg2?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('restores into a new database on the same server, created first; an existing name is refused untouched', async () => {
    const r = await restoreBackup(forServer(pool, web1), on(web1, pg, 'shop_copy'), plain.file, {
      createDatabase: true,
    });
    assert.equal(r.verified, true);
    assert.equal(rows(pg, 'shop_copy'), source);
    assert.equal(rows(pg, 'shop'), source, 'the source is untouched');

    await assert.rejects(
      restoreBackup(forServer(pool, web1), on(web1, pg, 'shop_copy'), plain.file, { createDatabase: true }),
      (e: BackupError) => e.kind === 'database-exists' && /already exists on web-1/.test(e.message),
    );
    assert.equal(rows(pg, 'shop_copy'), source, 'the existing database is left as it was');
  });

  it('a new database whose restore fails is dropped again', async () => {
    const before = databases(pg);
    await assert.rejects(
      restoreBackup(
        forServer(pool, web1),
        { ...on(web1, pg, 'shop_bad'), password: { kind: 'inline', password: 'wrong-password-1' } },
        plain.file,
        { createDatabase: true },
      ),
      (e: BackupError) => e instanceof BackupError,
    );
    assert.deepEqual(databases(pg), before);
  });

  it('restores into a database on another server from S3: streamed into pg_restore, nothing written to its disk', async () => {
    const r = await restoreBackup(forServer(pool, web2), on(web2, pg2, 'shop'), plain.file, {
      source: { kind: 's3', access: creds, databaseName: 'shop' },
    });
    assert.equal(r.verified, true);
    assert.equal(rows(pg2, 'shop'), source);
    assert.deepEqual(fs.existsSync(web2.backupDir) ? fs.readdirSync(web2.backupDir) : [], []);
  });

  it('a tampered S3 object stops the streamed restore before pg_restore commits: the database is unchanged', async () => {
    pg2.sql("DELETE FROM items WHERE id > 5; UPDATE items SET name = 'kept' WHERE id = 1", 'shop');
    const before = rows(pg2, 'shop');
    const object = path.join(s3.directory, s3.bucket, `infrakt/backups/shop/${plain.file}._S3rver_object`);
    const original = fs.readFileSync(object);
    // Other bytes that decompress to the same dump (recompressed, no frame checksum): zstd and
    // pg_restore would take them whole; only the sha256 tells them apart.
    const dump = execFileSync('zstd', ['-dc'], { input: original, maxBuffer: 256 << 20 });
    const other = execFileSync('zstd', ['-q', '-c', '-3', '--no-check'], {
      input: dump,
      maxBuffer: 256 << 20,
    });
    assert.ok(!other.equals(original));
    fs.writeFileSync(object, other);
    try {
      await assert.rejects(
        restoreBackup(forServer(pool, web2), on(web2, pg2, 'shop'), plain.file, {
          source: { kind: 's3', access: creds, databaseName: 'shop' },
        }),
        (e: BackupError) => e.kind === 'checksum-mismatch',
      );
    } finally {
      fs.writeFileSync(object, original);
    }
    assert.equal(rows(pg2, 'shop'), before, 'rolled back');
    assert.equal(pg2.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'shop'").trim(), '0');
  });

  it('an S3 object without its .sha256 mark (an unfinished upload) is refused, the database unchanged', async () => {
    const before = rows(pg2, 'shop');
    const mark = path.join(
      s3.directory,
      s3.bucket,
      `infrakt/backups/shop/${plain.file}.sha256._S3rver_object`,
    );
    const saved = fs.readFileSync(mark);
    fs.rmSync(mark);
    try {
      await assert.rejects(
        restoreBackup(forServer(pool, web2), on(web2, pg2, 'shop'), plain.file, {
          source: { kind: 's3', access: creds, databaseName: 'shop' },
        }),
        (e: BackupError) => e.kind === 'no-checksum',
      );
    } finally {
      fs.writeFileSync(mark, saved);
    }
    assert.equal(rows(pg2, 'shop'), before);
  });

  it('streams an encrypted backup from the source server through this computer into a new database on the other server', async () => {
    const recipient = await age.identityToRecipient(identity);
    const enc = await backUpNow(forServer(pool, web1), on(web1, pg, 'shop'), { encryptTo: recipient });
    const sha256 = fs.readFileSync(path.join(web1.backupDir, `${enc.file}.sha256`), 'utf8').slice(0, 64);
    const r = await restoreRelayed(
      forServer(pool, web2),
      on(web2, pg2, 'shop_streamed'),
      enc.file,
      (fifo, signal) => pool.relay(web1, path.join(web1.backupDir, enc.file), web2, fifo, { signal }),
      {
        source: { kind: 'stream', sha256 },
        createDatabase: true,
        identities: [identity],
        onStderr: (c) => process.env.DEBUG19 && process.stderr.write(c),
      },
    );
    assert.equal(r.verified, true);
    assert.equal(r.relayed, enc.size);
    assert.equal(rows(pg2, 'shop_streamed'), source);
  });

  it('a stream that does not match its sha256 leaves no new database behind', async () => {
    const before = databases(pg2);
    await assert.rejects(
      restoreRelayed(
        forServer(pool, web2),
        on(web2, pg2, 'shop_wrong'),
        plain.file,
        (fifo, signal) => pool.relay(web1, path.join(web1.backupDir, plain.file), web2, fifo, { signal }),
        { source: { kind: 'stream', sha256: '0'.repeat(64) }, createDatabase: true },
      ),
      (e: BackupError) => e.kind === 'checksum-mismatch',
    );
    assert.deepEqual(databases(pg2), before);
  });

  it('Restore to This Computer: downloaded over SFTP, sha256 checked, restored with the local pg_restore into a local database', async () => {
    const here = fs.mkdtempSync(path.join(work, 'here-'));
    const local = path.join(here, plain.file);
    await pool.download(web1, path.join(web1.backupDir, plain.file), local);
    const sha256 = fs.readFileSync(path.join(web1.backupDir, `${plain.file}.sha256`), 'utf8').slice(0, 64);
    assert.equal(createHash('sha256').update(fs.readFileSync(local)).digest('hex'), sha256);
    pg2.createDatabase('shop_local');
    const parsed = parseBackupName(plain.file);
    assert.ok(parsed);
    const tools = localRestoreTools(parsed).map((g) => g.map((t) => findOnPath(t)).find(Boolean) ?? '');
    assert.ok(tools.every(Boolean), `the local tools are here: ${tools.join(', ')}`);
    const target = {
      host: '127.0.0.1',
      port: pg2.port,
      user: 'postgres',
      database: 'shop_local',
      password: pg2.password,
    };
    let progress = 0;
    await runLocalRestore(
      local,
      parsed,
      target,
      { restore: tools[0], zstd: tools[1] },
      {
        workDir: here,
        onProgress: (read) => (progress = read),
      },
    );
    assert.equal(progress, plain.size, 'progress counts the whole file');
    assert.equal(rows(pg2, 'shop_local'), source);

    // A wrong password: the tool's own words, and the database is as it was.
    pg2.sql('DELETE FROM items WHERE id > 10', 'shop_local');
    const before = rows(pg2, 'shop_local');
    await assert.rejects(
      runLocalRestore(
        local,
        parsed,
        { ...target, password: 'not-the-password' },
        { restore: tools[0], zstd: tools[1] },
        {
          workDir: here,
        },
      ),
      (e: BackupError) => e.kind === 'restore-failed' && /pg_restore failed/.test(e.message),
    );
    assert.equal(rows(pg2, 'shop_local'), before);
  });
});
