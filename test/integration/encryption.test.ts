// Encrypted backups on real parts: the pooled ssh2 transport into a real sshd,
// the real `age` on the server, a real S3 server (s3rver) with the real
// awscli, a real PostgreSQL. The server gets only the recipient; the identity
// (generated here with age-encryption, as the extension does) is the canary:
// it must never show in a process list, a file under the backup dir or /tmp,
// or anything the run returns.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as age from 'age-encryption';
import {
  type BackupTarget,
  BackupError,
  backUpNow,
  checksumScript,
  forServer,
  parseChecksum,
  restoreBackup,
  shortKey,
} from '../../src/core/backup';
import { checkIdentities, recipientProblem, sshIdentity } from '../../src/core/backup/encryption';
import type { Server } from '../../src/core/model';
import { shellQuote as q } from '../../src/core/remote/script';
import { scheduledBackupScript, passwordFileScript } from '../../src/core/schedule/script';
import { type S3Credentials, s3DownloadScript, s3UploadSink } from '../../src/core/s3/scripts';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { keyServer, testEnv } from '../support/sshEnv';
import { type Postgres, hostDatabase, startPostgres } from '../world/databases';
import { s3rverSettings, startS3, stopS3AndRemove, type S3World } from '../world/s3';
import { startSshServer, type SshServer } from '../world/sshServer';

const AGE_HEADER = 'age-encryption.org/v1\n';

describe('encrypted backups with age (sshd + age + s3rver + PostgreSQL)', function () {
  this.timeout(180_000);
  let sshd: SshServer;
  let s3: S3World;
  let pg: Postgres;
  let pool: ConnectionPool;
  let work: string;
  let server: Server;
  let creds: S3Credentials;
  let identity: string;
  let recipient: string;
  const target = (): BackupTarget => ({
    server,
    database: hostDatabase(pg, 'shop'),
    password: { kind: 'inline', password: pg.password },
  });
  const rows = () => pg.sql("SELECT count(*), md5(string_agg(name, ',' ORDER BY id)) FROM items", 'shop');
  /** Every file under a directory whose content holds the text. */
  const filesWith = (dir: string, text: string) =>
    spawnSync('grep', ['-rlF', '--', text, dir], { encoding: 'utf8' }).stdout.trim();

  before(async () => {
    [sshd, s3, pg] = await Promise.all([startSshServer(), startS3(), startPostgres()]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-age-'));
    server = keyServer(sshd, path.join(work, 'backups'));
    pool = new ConnectionPool(testEnv());
    creds = { settings: s3rverSettings(s3, { prefix: 'infrakt/backups/' }), secretKey: 'S3RVER' };
    pg.createDatabase('shop');
    pg.sql(
      'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 2000) g',
      'shop',
    );
    identity = await age.generateIdentity();
    recipient = await age.identityToRecipient(identity);
  });
  after(async () => {
    pool?.dispose();
    await sshd?.stop();
    if (s3) await stopS3AndRemove(s3);
    pg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('recipients and identities are checked before any script exists', () => {
    assert.equal(recipientProblem(recipient), undefined);
    assert.match(recipientProblem(identity) ?? '', /private key/);
    assert.match(recipientProblem('age1short') ?? '', /age public key/);
    assert.match(recipientProblem("ssh-ed25519 AAAA'; reboot") ?? '', /ssh-ed25519/);
    assert.throws(
      () => checkIdentities(['AGE-SECRET-KEY-1; rm -rf /']),
      /recovery key must be an age identity/,
    );
  });

  it('Back Up Now encrypts after compression: the file and the S3 object are age files (.age), restorable only with the identity', async () => {
    const before = rows();
    const b = await backUpNow(forServer(pool, server), target(), {
      extraSinks: [s3UploadSink(creds, 'shop')],
      encryptTo: recipient,
    });
    assert.match(b.file, /\.dump\.zst\.age$/);
    assert.deepEqual(b.failedSinks, []);
    const file = path.join(server.backupDir, b.file);
    assert.equal(fs.readFileSync(file).subarray(0, AGE_HEADER.length).toString(), AGE_HEADER);
    const object = path.join(s3.directory, s3.bucket, `infrakt/backups/shop/${b.file}._S3rver_object`);
    assert.deepEqual(fs.readFileSync(object), fs.readFileSync(file), 'the object is the encrypted bytes');
    assert.notEqual(spawnSync('zstd', ['-t', file]).status, 0, 'it does not decompress as zstd');
    // The bytes are age's: decrypted with the identity here, they are the zstd of a pg_dump archive.
    const d = new age.Decrypter();
    d.addIdentity(identity);
    const plain = await d.decrypt(fs.readFileSync(file));
    assert.equal(execFileSync('zstd', ['-dc'], { input: plain }).subarray(0, 5).toString(), 'PGDMP');

    // A wrong identity: refused before the database is touched.
    pg.sql("UPDATE items SET name = 'changed' WHERE id <= 10", 'shop');
    const changed = rows();
    const other = await age.generateIdentity();
    // The .sha256 names the key (sha256sum -c skips the comment); a refusal names it too.
    const sum = fs.readFileSync(`${file}.sha256`, 'utf8');
    assert.equal(sum, `${b.sha256}  ${b.file}\n# age recipient: ${recipient}\n`);
    assert.equal(spawnSync('sha256sum', ['-c', `${b.file}.sha256`], { cwd: server.backupDir }).status, 0);
    const marker = path.join(s3.directory, s3.bucket, `infrakt/backups/shop/${b.file}.sha256._S3rver_object`);
    assert.equal(fs.readFileSync(marker, 'utf8'), sum, 'the commit mark in S3 says the same');
    const recorded = parseChecksum((await pool.run(server, checksumScript(server, b.file))).stdout);
    assert.deepEqual(recorded, { sha256: b.sha256, recipient });
    await assert.rejects(
      restoreBackup(forServer(pool, server), target(), b.file, { identities: [other] }),
      (e: BackupError) =>
        e.kind === 'decrypt' &&
        e.details.recipient === recipient &&
        e.message.includes(`was encrypted for key ${shortKey(recipient)}, which is not on this computer`) &&
        /import its recovery key/.test(e.message),
    );
    await assert.rejects(
      restoreBackup(forServer(pool, server), target(), b.file),
      (e: BackupError) => e.kind === 'decrypt',
    );
    assert.equal(rows(), changed, 'untouched');

    // The right one, watched: never in a process list, never in a file.
    let sampling = true;
    const seen: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        const ps = spawnSync('ps', ['-eww', '-o', 'args'], { encoding: 'utf8' }).stdout;
        if (ps.includes(identity)) seen.push(ps);
        for (const f of fs.readdirSync('/tmp').filter((n) => n.startsWith('infrakt'))) {
          if (filesWith(path.join('/tmp', f), identity)) seen.push(`a file under /tmp/${f}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const r = await restoreBackup(forServer(pool, server), target(), b.file, {
        identities: [other, identity],
      });
      assert.equal(r.verified, true);
    } finally {
      sampling = false;
      await sampler;
    }
    assert.equal(rows(), before, 'restored');
    assert.deepEqual(seen, [], 'the identity never showed in ps or a temp file');
    assert.equal(filesWith(server.backupDir, identity), '', 'nor under the backup dir');
    assert.equal(filesWith(work, identity), '');
  });

  it('a tampered .age file fails the checksum before anything is touched', async () => {
    const b = await backUpNow(forServer(pool, server), target(), { encryptTo: recipient });
    const file = path.join(server.backupDir, b.file);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 20] ^= 0xff;
    fs.writeFileSync(file, bytes);
    await assert.rejects(
      restoreBackup(forServer(pool, server), target(), b.file, { identities: [identity] }),
      (e: BackupError) => e.kind === 'checksum-mismatch',
    );
  });

  it('an S3-only encrypted backup downloads (checked) and restores with the identity', async () => {
    const b = await backUpNow(forServer(pool, server), target(), {
      extraSinks: [s3UploadSink(creds, 'shop')],
      encryptTo: recipient,
    });
    const before = rows();
    for (const f of [b.file, `${b.file}.sha256`]) fs.rmSync(path.join(server.backupDir, f));
    const dl = await pool.run(server, s3DownloadScript(creds, server, 'shop', b.file), {
      secrets: [creds.secretKey],
    });
    assert.equal(dl.code, 0, dl.stderr);
    pg.sql('DELETE FROM items WHERE id > 1000', 'shop');
    await restoreBackup(forServer(pool, server), target(), b.file, { identities: [identity] });
    assert.equal(rows(), before);
  });

  it('an S3-only encrypted backup streams from S3 into the restore: a wrong key is named and changes nothing, the right one restores', async () => {
    const b = await backUpNow(forServer(pool, server), target(), {
      extraSinks: [s3UploadSink(creds, 'shop')],
      encryptTo: recipient,
    });
    const before = rows();
    for (const f of [b.file, `${b.file}.sha256`]) fs.rmSync(path.join(server.backupDir, f));
    pg.sql('DELETE FROM items WHERE id > 500', 'shop');
    const changed = rows();
    const fromS3 = { kind: 's3' as const, access: creds, databaseName: 'shop' };
    const run = forServer(pool, server);
    await assert.rejects(
      restoreBackup(run, target(), b.file, { identities: [await age.generateIdentity()], source: fromS3 }),
      (e: BackupError) => e.kind === 'decrypt' && e.details.recipient === recipient,
    );
    assert.equal(rows(), changed, 'untouched');
    const r = await restoreBackup(run, target(), b.file, { identities: [identity], source: fromS3 });
    assert.equal(r.verified, true);
    assert.equal(rows(), before, 'restored from the stream');
    assert.ok(!fs.existsSync(path.join(server.backupDir, b.file)), 'no copy left on the server');
  });

  it('a backup encrypted to an ssh-ed25519 key restores on the server with that private key, checked first', async () => {
    const keyFile = path.join(work, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'me@laptop', '-f', keyFile]);
    const sshRecipient = fs.readFileSync(`${keyFile}.pub`, 'utf8').trim();
    assert.equal(recipientProblem(sshRecipient), undefined);
    const b = await backUpNow(forServer(pool, server), target(), { encryptTo: sshRecipient });
    const before = rows();
    pg.sql('DELETE FROM items WHERE id > 1500', 'shop');
    const changed = rows();
    // No key here opens it: the refusal names the SSH key, and says what to do.
    await assert.rejects(
      restoreBackup(forServer(pool, server), target(), b.file, { identities: [identity] }),
      (e: BackupError) =>
        e.kind === 'decrypt' &&
        e.details.recipient === sshRecipient &&
        /ssh-ed25519 AAAAC3Nz…\S+ me@laptop.*private key file/.test(e.message),
    );
    assert.equal(rows(), changed, 'untouched');
    // The key file is checked before it is sent: the right key, no passphrase.
    const protectedCopy = path.join(work, 'id_protected');
    fs.copyFileSync(keyFile, protectedCopy);
    execFileSync('ssh-keygen', ['-q', '-p', '-N', 'pass phrase', '-f', protectedCopy]);
    assert.throws(() => sshIdentity(fs.readFileSync(protectedCopy, 'utf8'), sshRecipient), /passphrase/);
    const otherKey = path.join(work, 'id_other');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    assert.throws(
      () => sshIdentity(fs.readFileSync(otherKey, 'utf8'), sshRecipient),
      /not the one for ssh-ed25519/,
    );
    assert.throws(() => sshIdentity(sshRecipient, sshRecipient), /not an OpenSSH private key/);
    const key = sshIdentity(fs.readFileSync(keyFile, 'utf8'), sshRecipient);
    const r = await restoreBackup(forServer(pool, server), target(), b.file, { identities: [key] });
    assert.equal(r.verified, true);
    assert.equal(rows(), before, 'restored');
    const secretPart = key.split('\n')[3];
    assert.equal(
      filesWith(server.backupDir, secretPart),
      '',
      'the private key is on no file under the backup dir',
    );
  });

  it('the scheduled script encrypts with only the recipient on the server', async () => {
    const passwordPath = path.join(work, 'opt', '.secrets', 'shop.env');
    assert.equal(
      (
        await pool.run(server, passwordFileScript('postgres', pg.password, passwordPath), {
          secrets: [pg.password],
        })
      ).code,
      0,
    );
    const text = scheduledBackupScript({
      target: { ...target(), password: { kind: 'file', path: passwordPath } },
      retention: { local: { last: 10 } },
      encryptTo: recipient,
    });
    assert.ok(text.includes(recipient) && !text.includes(identity), 'the recipient, never the identity');
    const script = path.join(work, 'scheduled.sh');
    fs.writeFileSync(script, text, { mode: 0o700 });
    const r = await pool.run(server, `env -i PATH=/usr/bin:/bin HOME=/root SHELL=/bin/sh ${q(script)}`);
    assert.equal(r.code, 0, r.stderr);
    const status = JSON.parse(
      fs.readFileSync(path.join(server.backupDir, '.status', 'shop.json'), 'utf8'),
    ) as {
      ok: boolean;
      file?: string;
    };
    assert.equal(status.ok, true);
    assert.match(status.file ?? '', /\.dump\.zst\.age$/);
    const head = fs
      .readFileSync(path.join(server.backupDir, status.file ?? ''))
      .subarray(0, AGE_HEADER.length);
    assert.equal(head.toString(), AGE_HEADER);
  });
});
