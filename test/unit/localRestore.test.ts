// Restore to This Computer's plan: which local tools a backup needs, and the
// tool's argv (no shell) with the password only in its environment.
import * as assert from 'node:assert/strict';
import { BackupError } from '../../src/core/backup';
import { findOnPath, localRestoreCommand, localRestoreTools } from '../../src/core/backup/localRestore';

describe('Restore to This Computer: tools and command lines', () => {
  const pg = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'shop', password: 'pw-canary-19' };

  it('names the tools a backup needs: the client, and zstd for a .zst file', () => {
    assert.deepEqual(localRestoreTools({ engine: 'postgres', format: 'dump', compression: 'zst' }), [
      ['pg_restore'],
      ['zstd'],
    ]);
    assert.deepEqual(localRestoreTools({ engine: 'postgres', format: 'sql', compression: 'gz' }), [['psql']]);
    assert.deepEqual(localRestoreTools({ engine: 'mysql', format: 'sql', compression: 'gz' }), [
      ['mariadb', 'mysql'],
    ]);
    // Redis: redis-cli drives the target, a temporary redis-server here serves the RDB.
    assert.deepEqual(localRestoreTools({ engine: 'redis', format: 'rdb', compression: 'zst' }), [
      ['redis-cli'],
      ['redis-server'],
      ['zstd'],
    ]);
    assert.throws(
      () => localRestoreTools({ engine: 'mongodb', format: 'archive', compression: 'zst' }),
      /does not support mongodb backups yet — use Download Backup/,
    );
  });

  it('finds a tool on PATH, and nothing on an empty one', () => {
    assert.match(findOnPath('sh', '/usr/bin:/bin'), /\/sh$/);
    assert.equal(findOnPath('pg_restore', ''), '');
  });

  it('PostgreSQL: one transaction, the password in PGPASSWORD only', () => {
    const c = localRestoreCommand({ engine: 'postgres', format: 'dump' }, pg, '/usr/bin/pg_restore');
    assert.deepEqual(c.args, [
      '--clean',
      '--if-exists',
      '--no-owner',
      '--single-transaction',
      '-h',
      '127.0.0.1',
      '-p',
      '5432',
      '-U',
      'postgres',
      '-d',
      'shop',
    ]);
    assert.deepEqual(c.env, { PGPASSWORD: 'pw-canary-19' });
    assert.ok(!c.args.join(' ').includes('pw-canary-19'));
    assert.equal(c.input, 'stdin');
  });

  it('MySQL/MariaDB: MYSQL_PWD, never argv', () => {
    const c = localRestoreCommand(
      { engine: 'mysql', format: 'sql' },
      { ...pg, port: 3306, user: 'root' },
      'mariadb',
    );
    assert.deepEqual(c.args, ['-h', '127.0.0.1', '-P', '3306', '-u', 'root', 'shop']);
    assert.deepEqual(c.env, { MYSQL_PWD: 'pw-canary-19' });
  });

  it('SQLite: the online backup API into an absolute path', () => {
    const c = localRestoreCommand(
      { engine: 'sqlite', format: 'sqlite' },
      { host: '', port: 0, user: '', database: '/home/me/app.sqlite' },
      'sqlite3',
      '/tmp/x/restore.sqlite',
    );
    assert.deepEqual(c.args, ['-bail', '/home/me/app.sqlite', '.restore "/tmp/x/restore.sqlite"']);
    assert.throws(
      () =>
        localRestoreCommand(
          { engine: 'sqlite', format: 'sqlite' },
          { host: '', port: 0, user: '', database: 'app.sqlite' },
          'sqlite3',
          '/tmp/r',
        ),
      /must be an absolute file path/,
    );
  });

  it('refuses values no database takes, with what is wrong', () => {
    assert.throws(
      () =>
        localRestoreCommand(
          { engine: 'postgres', format: 'dump' },
          { ...pg, database: 'shop; drop' },
          'pg_restore',
        ),
      (e: BackupError) => e.kind === 'invalid-input' && /^Database: /.test(e.message),
    );
    assert.throws(
      () => localRestoreCommand({ engine: 'postgres', format: 'dump' }, { ...pg, port: 70000 }, 'pg_restore'),
      /^BackupError: Port: |Port: /,
    );
  });
});
