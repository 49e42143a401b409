import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { ConfigStore, StoreError } from '../../src/store/configStore';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/migrations';
import { type Database, type S3SettingsFields, usable } from '../../src/core/model';
import { checkTarget } from '../../src/core/backup/target';
import { BackupError } from '../../src/core/backup/errors';
import { rowFor } from '../../src/core/treeRows';
import { WASM_PATH, tempDir } from '../support/paths';

const WORKER = path.join(__dirname, '..', 'support', 'storeWorker.js');

function s3(fields: Partial<S3SettingsFields> = {}): S3SettingsFields {
  return {
    endpointUrl: 'https://s3.amazonaws.com',
    bucket: 'my-backups',
    region: 'us-east-1',
    accessKey: 'AKIAIOSFODNN7EXAMPLE',
    prefix: 'infrakt/',
    provider: 'aws',
    pathStyle: false,
    checksumWhenRequired: false,
    ...fields,
  };
}

describe('ConfigStore', () => {
  let dir: string;
  let cleanup: () => void;
  let file: string;
  const open = (f = file) => ConfigStore.open(f, { wasmPath: WASM_PATH });

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    file = path.join(dir, 'infrakt.sqlite');
  });
  afterEach(() => cleanup());

  describe('S3 settings model', () => {
    it('creates S3 settings', async () => {
      const { store } = await open();
      const saved = store.saveS3Settings(s3());
      assert.equal(saved.bucket, 'my-backups');
      assert.ok(saved.createdAt);
      store.dispose();
    });

    it('reads S3 settings back from a reopened file', async () => {
      const { store } = await open();
      store.saveS3Settings(
        s3({
          endpointUrl: 'https://nyc3.digitaloceanspaces.com',
          bucket: 'backups',
          region: 'nyc3',
          accessKey: 'DO_KEY',
          prefix: '',
        }),
      );
      store.dispose();
      const { store: again } = await open();
      const found = again.getS3Settings();
      assert.ok(found);
      assert.equal(found.endpointUrl, 'https://nyc3.digitaloceanspaces.com');
      assert.equal(found.bucket, 'backups');
      again.dispose();
    });

    it('prefix defaults to ""', async () => {
      const { store } = await open();
      const { prefix: _omit, ...withoutPrefix } = s3();
      const saved = store.saveS3Settings(withoutPrefix as S3SettingsFields);
      assert.equal(saved.prefix, '');
      store.dispose();
    });

    it('keeps a single row: a second save updates it', async () => {
      const { store } = await open();
      store.saveS3Settings(s3({ bucket: 'old-bucket' }));
      store.saveS3Settings(s3({ bucket: 'new-bucket', region: 'us-west-2' }));
      assert.equal(store.getS3Settings()?.bucket, 'new-bucket');
      assert.equal(store.getS3Settings()?.region, 'us-west-2');
      store.removeS3Settings();
      assert.equal(store.getS3Settings(), undefined);
      store.removeS3Settings(); // removing when nothing is configured is not an error
      store.dispose();
    });

    it('has no column that could hold a secret', async () => {
      const { store } = await open();
      store.saveS3Settings(s3());
      store.dispose();
      const bytes = fs.readFileSync(file).toString('latin1');
      assert.doesNotMatch(bytes, /secret/i);
    });
  });

  describe('schema', () => {
    it('sets PRAGMA user_version to the latest migration', async () => {
      const { store } = await open();
      store.dispose();
      const initSqlJs = (await import('sql.js')).default;
      const SQL = await initSqlJs({ locateFile: () => WASM_PATH });
      const db = new SQL.Database(fs.readFileSync(file));
      assert.equal(db.exec('PRAGMA user_version')[0].values[0][0], SCHEMA_VERSION);
      db.close();
    });

    it('refuses a file from a newer schema and leaves it untouched', async () => {
      const initSqlJs = (await import('sql.js')).default;
      const SQL = await initSqlJs({ locateFile: () => WASM_PATH });
      const db = new SQL.Database();
      db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 5}`);
      fs.writeFileSync(file, db.export());
      const before = fs.readFileSync(file);
      await assert.rejects(
        open(),
        (err: Error) => err instanceof StoreError && /newer version/.test(err.message),
      );
      assert.deepEqual(fs.readFileSync(file), before);
    });
  });

  describe('migrations and schedules', () => {
    it('upgrades a version-1 file forward and keeps its rows', async () => {
      const initSqlJs = (await import('sql.js')).default;
      const SQL = await initSqlJs({ locateFile: () => WASM_PATH });
      const db = new SQL.Database();
      db.run(MIGRATIONS[0]);
      db.run(
        "INSERT INTO servers (id, name, host, port, user, auth, backup_dir, created_at, updated_at) VALUES ('s1', 'web-1', 'h', 22, 'root', 'agent', '/b', 't', 't')",
      );
      db.run('PRAGMA user_version = 1');
      fs.writeFileSync(file, db.export());
      db.close();
      const { store } = await open();
      assert.deepEqual(
        store.listServers().map((s) => s.name),
        ['web-1'],
      );
      assert.deepEqual(store.listSchedules(), []);
      store.dispose();
    });

    it('upgrades a version-3 file to 4: databases keep every column, engines are checked in code, a server still takes its databases with it', async () => {
      const initSqlJs = (await import('sql.js')).default;
      const SQL = await initSqlJs({ locateFile: () => WASM_PATH });
      const db = new SQL.Database();
      for (const m of MIGRATIONS.slice(0, 3)) db.run(m);
      db.run(
        "INSERT INTO servers (id, name, host, port, user, auth, backup_dir, created_at, updated_at) VALUES ('s1', 'web-1', 'h', 22, 'root', 'agent', '/b', 't', 't')",
      );
      db.run(
        "INSERT INTO databases (id, server_id, name, engine, mode, db_host, db_port, db_user, db_name, created_at) VALUES ('d1', 's1', 'shop', 'mysql', 'host', '10.0.0.5', 3307, 'app', 'shop_prod', 't')",
      );
      db.run('PRAGMA user_version = 3');
      fs.writeFileSync(file, db.export());
      db.close();
      const { store } = await open();
      const [d] = store.listDatabases('s1');
      assert.deepEqual(
        { ...d, createdAt: undefined },
        {
          id: 'd1',
          serverId: 's1',
          name: 'shop',
          engine: 'mysql',
          mode: 'host',
          container: undefined,
          dbHost: '10.0.0.5',
          dbPort: 3307,
          dbUser: 'app',
          dbName: 'shop_prod',
          dbPath: undefined,
          retention: {},
          createdAt: undefined,
        },
      );
      store.removeServer('s1');
      assert.deepEqual(store.listDatabases('s1'), []);
      store.dispose();
      const check = new SQL.Database(fs.readFileSync(file));
      // No CHECK on the engine any more: the registry validates it before a row is written.
      check.run(
        "INSERT INTO servers (id, name, host, port, user, auth, backup_dir, created_at, updated_at) VALUES ('s2', 'web-2', 'h', 22, 'root', 'agent', '/b', 't', 't')",
      );
      check.run(
        "INSERT INTO databases (id, server_id, name, engine, mode, db_path, created_at) VALUES ('d2', 's2', 'x', 'some-new-engine', 'host', '/srv/x.db', 't')",
      );
      check.close();
    });

    it('upgrades a version-4 file to 5: a schedule’s retention becomes its database’s policy, the schedule keeps its time', async () => {
      const initSqlJs = (await import('sql.js')).default;
      const SQL = await initSqlJs({ locateFile: () => WASM_PATH });
      const db = new SQL.Database();
      for (const m of MIGRATIONS.slice(0, 4)) db.run(m);
      db.run(
        "INSERT INTO servers (id, name, host, port, user, auth, backup_dir, created_at, updated_at) VALUES ('s1', 'web-1', 'h', 22, 'root', 'agent', '/b', 't', 't')",
      );
      for (const id of ['d1', 'd2', 'd3'])
        db.run(
          `INSERT INTO databases (id, server_id, name, engine, mode, container, created_at) VALUES ('${id}', 's1', '${id}', 'postgres', 'container', 'c', 't')`,
        );
      db.run(
        "INSERT INTO schedules (database_id, cron, local_retention_days, s3_keep_newest, installed_at, updated_at) VALUES ('d1', '0 2 * * *', 14, 3, 'i', 'u'), ('d2', '0 4 * * *', 7, NULL, 'i', 'u')",
      );
      db.run('PRAGMA user_version = 4');
      fs.writeFileSync(file, db.export());
      db.close();
      const { store } = await open();
      assert.deepEqual(store.getDatabase('d1')?.retention, { local: { within: 14 }, s3: { last: 3 } });
      assert.deepEqual(store.getDatabase('d2')?.retention, { local: { within: 7 } });
      assert.deepEqual(store.getDatabase('d3')?.retention, {}, 'no schedule: every backup kept, as before');
      assert.deepEqual(
        store.listSchedules().map((x) => [x.databaseId, x.cron, x.installedAt, x.updatedAt, x.verify]),
        [
          ['d1', '0 2 * * *', 'i', 'u', 'off'],
          ['d2', '0 4 * * *', 'i', 'u', 'off'],
        ],
      );
      store.dispose();
      const check = new SQL.Database(fs.readFileSync(file));
      const cols = check.exec('PRAGMA table_info(schedules)')[0].values.map((r) => r[1]);
      // The old retention columns are gone; a later migration added the verification setting.
      assert.deepEqual(cols, ['database_id', 'cron', 'installed_at', 'updated_at', 'verify']);
      check.close();
    });

    it('upgrades a version-2 file to 3: servers keep their rows and schedules, and are not provisioned yet', async () => {
      const initSqlJs = (await import('sql.js')).default;
      const SQL = await initSqlJs({ locateFile: () => WASM_PATH });
      const db = new SQL.Database();
      db.run(MIGRATIONS[0]);
      db.run(MIGRATIONS[1]);
      db.run(
        "INSERT INTO servers (id, name, host, port, user, auth, backup_dir, created_at, updated_at) VALUES ('s1', 'web-1', 'h', 22, 'root', 'agent', '/b', 't', 't')",
      );
      db.run(
        "INSERT INTO databases (id, server_id, name, engine, mode, container, created_at) VALUES ('d1', 's1', 'app', 'postgres', 'container', 'infrakt-db-app', 't')",
      );
      db.run(
        "INSERT INTO schedules (database_id, cron, local_retention_days, installed_at, updated_at) VALUES ('d1', '0 2 * * *', 7, 't', 't')",
      );
      db.run('PRAGMA user_version = 2');
      fs.writeFileSync(file, db.export());
      db.close();
      const { store } = await open();
      const [server] = store.listServers();
      assert.equal(server.name, 'web-1');
      assert.equal(server.provisionedAt, undefined);
      assert.equal(server.awsCliVersion, undefined);
      assert.deepEqual(
        store.listSchedules().map((x) => x.cron),
        ['0 2 * * *'],
      );
      assert.deepEqual(
        store.getDatabase('d1')?.retention,
        { local: { within: 7 } },
        'the schedule’s local days became the database’s policy (it had no S3 rule)',
      );
      store.recordProvisioned('s1', { awsCliVersion: 'aws-cli/2.9.19' });
      store.dispose();
      const check = new SQL.Database(fs.readFileSync(file));
      assert.equal(check.exec('PRAGMA user_version')[0].values[0][0], SCHEMA_VERSION);
      check.close();
      const { store: again } = await open();
      assert.equal(again.getServer('s1')?.awsCliVersion, 'aws-cli/2.9.19');
      again.dispose();
    });

    it('records a provisioned server; Edit Server (updateServer) keeps it; another window sees it', async () => {
      const { store: a } = await open();
      const { store: b } = await open();
      const s = a.addServer({ name: 'web-1', host: 'h', user: 'root', auth: 'agent' });
      const before = Date.now();
      const recorded = b.recordProvisioned(s.id, { awsCliVersion: 'aws-cli/1.22.34' });
      assert.ok(recorded?.provisionedAt);
      const at = Date.parse(recorded.provisionedAt);
      assert.ok(at >= before - 1000 && at <= Date.now() + 1000, recorded.provisionedAt);
      assert.equal(recorded.provisionedAt, new Date(at).toISOString());
      assert.equal(a.getServer(s.id)?.awsCliVersion, 'aws-cli/1.22.34', "window A sees B's record");
      const edited = a.updateServer(s.id, {
        name: 'web-1b',
        host: 'h2',
        user: 'deploy',
        auth: 'agent',
        backupDir: '/srv/b',
      });
      assert.equal(edited.name, 'web-1b');
      assert.equal(edited.provisionedAt, recorded.provisionedAt);
      assert.equal(edited.awsCliVersion, 'aws-cli/1.22.34');
      // A later run whose awscli version could not be read does not keep a stale one.
      assert.equal(a.recordProvisioned(s.id, {})?.awsCliVersion, undefined);
      // Removed in another window while provisioning: nothing to record, not an error.
      b.removeServer(s.id);
      assert.equal(a.recordProvisioned(s.id, { awsCliVersion: 'aws-cli/2.0.0' }), undefined);
      assert.deepEqual(a.listServers(), []);
      a.dispose();
      b.dispose();
    });

    it('saves, updates and removes a schedule; removing the database or server removes it', async () => {
      const { store } = await open();
      const server = store.addServer({ name: 'web-1', host: 'h', user: 'root', auth: 'agent' });
      const dbA = store.addDatabase({
        serverId: server.id,
        name: 'a',
        engine: 'postgres',
        mode: 'container',
      });
      const dbB = store.addDatabase({ serverId: server.id, name: 'b', engine: 'redis', mode: 'container' });
      store.saveSchedule(dbA.id, { cron: '0 2 * * *' });
      assert.equal(store.getSchedule(dbA.id)?.verify, 'off', 'no verification unless asked');
      const updated = store.saveSchedule(dbA.id, { cron: '0 */6 * * *', verify: 'weekly' });
      assert.equal(updated.cron, '0 */6 * * *');
      assert.equal(store.getSchedule(dbA.id)?.verify, 'weekly');
      assert.throws(
        () => store.saveSchedule(dbA.id, { cron: '0 2 * * *', verify: 'daily' as 'each' }),
        /Verification must be off, each \(after every run\) or weekly/,
      );
      assert.deepEqual(dbA.retention, {}, 'a new database keeps every backup');
      const kept = store.setRetention(dbA.id, { local: { within: 14 }, s3: { last: 5 } });
      assert.deepEqual(kept.retention, { local: { within: 14 }, s3: { last: 5 } });
      assert.deepEqual(store.getDatabase(dbA.id)?.retention, { local: { within: 14 }, s3: { last: 5 } });
      assert.throws(() => store.setRetention(dbB.id, { local: { within: 0 } }), /"within" keeps at least 1/);
      assert.deepEqual(store.setRetention(dbA.id, {}).retention, {}, 'back to keeping all');
      // The default for new databases: set once, given to each database added after (not to those before).
      assert.deepEqual(store.getDefaultRetention(), {});
      const policy = { local: { last: 7 }, s3: { daily: 7, weekly: 4, monthly: 12 } };
      assert.deepEqual(store.setDefaultRetention(policy), policy);
      const dbC = store.addDatabase({
        serverId: server.id,
        name: 'c',
        engine: 'postgres',
        mode: 'container',
      });
      assert.deepEqual(dbC.retention, policy);
      assert.deepEqual(store.getDatabase(dbB.id)?.retention, {}, 'databases added before keep theirs');
      assert.throws(() => store.setDefaultRetention({ s3: { weekly: 0 } }), /"weekly" keeps at least 1/);
      assert.deepEqual(store.setDefaultRetention({}), {});
      // Encryption: the recipient only (a public key), validated; off again without a trace.
      assert.equal(store.getEncryption(), undefined);
      const recipient = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
      store.setEncryption({ recipient, own: true });
      assert.deepEqual(store.getEncryption(), { recipient, own: true });
      assert.throws(() => store.setEncryption({ recipient: 'AGE-SECRET-KEY-1X', own: true }), /private key/);
      store.setEncryption(undefined);
      assert.equal(store.getEncryption(), undefined);
      // Alert destinations: kind, name and when only (the URL is a secret), in the order added.
      assert.deepEqual(store.listAlertDestinations(), []);
      const slack = { id: 'a1', name: 'Team', kind: 'slack', when: 'failure' } as const;
      const hc = { id: 'a2', name: 'Dead man', kind: 'healthchecks', when: 'always' } as const;
      store.saveAlertDestination(slack);
      store.saveAlertDestination(hc);
      store.saveAlertDestination({ ...slack, when: 'always' });
      assert.deepEqual(store.listAlertDestinations(), [{ ...slack, when: 'always' }, hc]);
      assert.throws(() => store.saveAlertDestination({ ...hc, id: 'a3' }), /named "Dead man" already exists/);
      assert.throws(
        () => store.saveAlertDestination({ ...hc, id: 'a3', kind: 'email' as 'slack' }),
        /Kind must be one of/,
      );
      store.removeAlertDestination('a1');
      assert.deepEqual(store.listAlertDestinations(), [hc]);
      store.removeDatabase(dbC.id);
      store.saveSchedule(dbB.id, { cron: '0 3 * * *' });
      store.removeDatabase(dbA.id);
      assert.deepEqual(
        store.listSchedules().map((x) => x.databaseId),
        [dbB.id],
      );
      store.removeServer(server.id);
      assert.deepEqual(store.listSchedules(), []);
      store.dispose();
    });
  });

  describe('servers and databases', () => {
    it('validates servers with messages a person understands', async () => {
      const { store } = await open();
      assert.throws(
        () => store.addServer({ name: 'web 1', host: 'h', user: 'root', auth: 'agent' }),
        /Server name may use letters, digits, \. _ -/,
      );
      assert.throws(
        () => store.addServer({ name: 'web-1', host: 'h', port: 70000, user: 'root', auth: 'agent' }),
        /Port must be 1–65535/,
      );
      assert.throws(
        () => store.addServer({ name: 'web-1', host: 'root@h', user: 'root', auth: 'agent' }),
        /Host must be a hostname or IP/,
      );
      assert.throws(
        () => store.addServer({ name: 'web-1', host: 'h', user: 'root', auth: 'key' }),
        /Choose a private key file/,
      );
      const s = store.addServer({ name: 'web-1', host: 'web-1.example.com', user: 'deploy', auth: 'agent' });
      assert.equal(s.port, 22);
      assert.equal(s.backupDir, '/opt/infrakt/backups');
      assert.throws(
        () => store.addServer({ name: 'WEB-1', host: 'h', user: 'root', auth: 'agent' }),
        /already exists/,
      );
      store.dispose();
    });

    it('refuses a database name that would reach a shell unsafely', async () => {
      const { store } = await open();
      const s = store.addServer({ name: 'web-1', host: 'h', user: 'root', auth: 'agent' });
      assert.throws(
        () =>
          store.addDatabase({
            serverId: s.id,
            name: 'x; touch /tmp/pwned',
            engine: 'postgres',
            mode: 'host',
          }),
        /Database name may use letters, digits/,
      );
      assert.equal(store.listDatabases(s.id).length, 0);
      store.dispose();
    });

    it('rows read back pass the typed-input schemas: a hostile stored row is marked broken, kept for the tree, never usable', async () => {
      const { store } = await open();
      const s = store.addServer({ name: 'web-1', host: 'h', user: 'root', auth: 'agent' });
      const good = store.addDatabase({ serverId: s.id, name: 'good', engine: 'postgres', mode: 'host' });
      const bad = store.addDatabase({ serverId: s.id, name: 'shop', engine: 'postgres', mode: 'host' });
      const other = store.addServer({ name: 'web-2', host: 'h2', user: 'root', auth: 'agent' });
      store.dispose();
      // Another program (or a damaged copy) wrote these rows; the store never would.
      const initSqlJs = (await import('sql.js')).default;
      const SQL = await initSqlJs({ locateFile: () => WASM_PATH });
      const db = new SQL.Database(fs.readFileSync(file));
      db.run('UPDATE databases SET name = ? WHERE id = ?', ['shop$(touch /tmp/infrakt-x)', bad.id]);
      db.run('UPDATE servers SET backup_dir = ? WHERE id = ?', ['/opt/$(id)', other.id]);
      fs.writeFileSync(file, db.export());
      db.close();

      const { store: again } = await open();
      const dbs = again.listDatabases(s.id);
      assert.equal(dbs.find((d) => d.id === good.id)?.problem, undefined);
      const broken = dbs.find((d) => d.id === bad.id);
      assert.equal(broken?.name, 'shop$(touch /tmp/infrakt-x)', 'kept as stored, for the tree to show');
      assert.match(
        broken?.problem ?? '',
        /^The stored database "shop\$\(touch \/tmp\/infrakt-x\)" is broken: Database name may use letters.* — /,
      );
      assert.deepEqual(
        usable(dbs).map((d) => d.id),
        [good.id],
      );
      const server2 = again.getServer(other.id);
      assert.match(
        server2?.problem ?? '',
        /^The stored server "web-2" is broken: .*absolute path.* — edit the server to fix it, or remove it$/,
      );
      assert.equal(again.getServer(s.id)?.problem, undefined);
      const row = rowFor({ kind: 'database', server: s, database: broken as Database });
      assert.equal(row.contextValue, 'infrakt.brokenDatabase');
      assert.equal(row.tooltip, broken?.problem);
      assert.throws(
        () => checkTarget({ server: s, database: broken as Database }),
        (e: unknown) => e instanceof BackupError && e.message === broken?.problem,
      );
      again.dispose();
    });

    it('fills container and host defaults, and removing a server removes its databases', async () => {
      const { store } = await open();
      const s = store.addServer({ name: 'web-1', host: 'h', user: 'root', auth: 'agent' });
      const c = store.addDatabase({ serverId: s.id, name: 'app', engine: 'postgres', mode: 'container' });
      assert.equal(c.container, 'infrakt-db-app');
      const h = store.addDatabase({ serverId: s.id, name: 'cache', engine: 'redis', mode: 'host' });
      assert.equal(h.dbPort, 6379);
      assert.equal(h.dbHost, '127.0.0.1');
      const removed = store.removeServer(s.id);
      assert.deepEqual(removed.databaseIds.sort(), [c.id, h.id].sort());
      assert.equal(store.listDatabases().length, 0);
      store.dispose();
    });
  });

  describe('durability', () => {
    it('a failure mid-save leaves the previous file intact and no temp file behind', async () => {
      const { store } = await open();
      store.addServer({ name: 'keep-me', host: 'h', user: 'root', auth: 'agent' });
      store.dispose();
      const before = fs.readFileSync(file);

      const { store: crashing } = await ConfigStore.open(file, {
        wasmPath: WASM_PATH,
        writeHooks: {
          beforeRename: () => {
            throw new Error('simulated crash before rename');
          },
        },
      });
      assert.throws(
        () => crashing.addServer({ name: 'lost', host: 'h', user: 'root', auth: 'agent' }),
        /simulated crash/,
      );
      // memory matches disk again: the failed change is not visible
      assert.deepEqual(
        crashing.listServers().map((s) => s.name),
        ['keep-me'],
      );
      crashing.dispose();

      assert.deepEqual(fs.readFileSync(file), before);
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
        [],
      );
    });

    it('a process killed while saving in a loop leaves a readable file', async function () {
      this.timeout(20_000);
      const { store } = await open();
      store.addServer({ name: 'survivor', host: 'h', user: 'root', auth: 'agent' });
      store.dispose();
      for (let round = 0; round < 3; round++) {
        const child = spawn(process.execPath, [WORKER, file, 'churn'], { stdio: ['ignore', 'pipe', 'pipe'] });
        await new Promise<void>((resolve, reject) => {
          child.stdout.once('data', () => resolve());
          child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
        });
        await new Promise((r) => setTimeout(r, 150 + round * 70));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        const { store: after, movedAside } = await open();
        assert.equal(movedAside, undefined, 'the file must never need to be moved aside after a crash');
        assert.deepEqual(
          after.listServers().map((s) => s.name),
          ['survivor'],
        );
        assert.equal(after.getS3Settings()?.bucket, 'churn-bucket');
        after.dispose();
      }
    });

    it('two windows: A adds a server, B saves S3 settings — both survive', async () => {
      const { store: a } = await open();
      const { store: b } = await open();
      a.addServer({ name: 'from-window-a', host: 'h', user: 'root', auth: 'agent' });
      b.saveS3Settings(s3({ bucket: 'from-window-b' })); // B loaded before A's write
      a.addDatabase({ serverId: a.listServers()[0].id, name: 'appdb', engine: 'postgres', mode: 'host' });
      const { store: c } = await open();
      assert.deepEqual(
        c.listServers().map((s) => s.name),
        ['from-window-a'],
      );
      assert.equal(c.getS3Settings()?.bucket, 'from-window-b');
      assert.equal(c.listDatabases().length, 1);
      // B sees A's work without reopening
      assert.deepEqual(
        b.listServers().map((s) => s.name),
        ['from-window-a'],
      );
      a.dispose();
      b.dispose();
      c.dispose();
    });

    it('two processes writing at once lose nothing', async function () {
      this.timeout(30_000);
      const { store } = await open();
      store.dispose();
      const run = (prefix: string) =>
        new Promise<number>((resolve) => {
          const child = spawn(process.execPath, [WORKER, file, 'add-servers', prefix, '15'], {
            stdio: 'inherit',
          });
          child.once('exit', (code) => resolve(code ?? -1));
        });
      const codes = await Promise.all([run('alpha'), run('beta')]);
      assert.deepEqual(codes, [0, 0]);
      const { store: after } = await open();
      assert.equal(after.listServers().length, 30);
      after.dispose();
    });

    it('a version-0 file that already has tables, or a current-version file with none, is moved aside with the reason', async () => {
      const initSqlJs = (await import('sql.js')).default;
      const SQL = await initSqlJs({ locateFile: () => WASM_PATH });
      const cases: [string, string, RegExp][] = [
        [
          'version 0 with a servers table',
          'CREATE TABLE servers (id TEXT PRIMARY KEY, name TEXT); PRAGMA user_version = 0;',
          /tables do not match its schema version, so it cannot be updated \(.*already exists/,
        ],
        ['current version, no tables', `PRAGMA user_version = ${SCHEMA_VERSION};`, /lacks the table /],
      ];
      for (const [label, sqlText, reason] of cases) {
        const db = new SQL.Database();
        db.run(sqlText);
        fs.writeFileSync(file, db.export());
        db.close();
        const bytes = fs.readFileSync(file);
        const { store, movedAside } = await open();
        assert.ok(movedAside, label);
        assert.match(movedAside.reason, reason, label);
        assert.deepEqual(fs.readFileSync(movedAside.path), bytes, `${label}: the old file is kept as it was`);
        assert.deepEqual(store.listServers(), [], label);
        store.addServer({ name: 'web-1', host: 'h', user: 'root', auth: 'agent' });
        store.dispose();
        const { store: again, movedAside: second } = await open();
        assert.equal(second, undefined, `${label}: the fresh store is good`);
        assert.equal(again.listServers().length, 1);
        again.dispose();
        fs.rmSync(file);
      }
    });

    for (const [label, damage] of [
      ['garbage', (f: string) => fs.writeFileSync(f, 'this is not a database at all, just some text')],
      ['truncated', (f: string) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2))],
      ['empty', (f: string) => fs.writeFileSync(f, '')],
    ] as const) {
      it(`a ${label} file is moved aside (kept), and a fresh store starts`, async () => {
        const { store } = await open();
        for (let i = 0; i < 40; i++)
          store.addServer({ name: `srv-${i}`, host: 'h', user: 'root', auth: 'agent' });
        store.dispose();
        damage(file);
        const damaged = fs.readFileSync(file);
        const { store: fresh, movedAside } = await open();
        assert.ok(movedAside, 'the user must be told where the old file went');
        assert.ok(fs.existsSync(movedAside.path));
        assert.deepEqual(fs.readFileSync(movedAside.path), damaged);
        assert.equal(fresh.listServers().length, 0);
        fresh.addServer({ name: 'new', host: 'h', user: 'root', auth: 'agent' });
        fresh.dispose();
        const check = spawnSync('ls', [dir]);
        assert.match(check.stdout.toString(), /infrakt\.sqlite\.corrupt-/);
      });
    }
  });
});
