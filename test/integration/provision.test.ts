// Provision Server on real parts: the product's script through the pooled
// ssh2 transport into a real sshd (as root), with one host-mode PostgreSQL
// database pointing at a real PostgreSQL so the pg_dump version check asks a
// real server. The machine already has what the script would install
// (scripts/ensure-deps.sh installs awscli, zstd, cron, postgresql first; the
// awscli found may be v1 or v2, whichever the ssh session's PATH finds first),
// so the first run mostly reports "already done" and installs nothing; the one
// thing it must create is the backup dir, which starts out missing. Nothing is ever removed from the machine. The second run
// must change nothing and say so; the result is then recorded in a real store
// and shown on the server row, as the command does.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Database, Server } from '../../src/core/model';
import {
  type ProvisionReport,
  parseProvisionOutput,
  provisionScript,
  summariseProvision,
} from '../../src/core/server/provision';
import { rowFor } from '../../src/core/treeRows';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { ConfigStore } from '../../src/store/configStore';
import { WASM_PATH } from '../support/paths';
import { keyServer, testEnv } from '../support/sshEnv';
import { type Postgres, hostDatabase, startPostgres } from '../world/databases';
import { startSshServer, type SshServer } from '../world/sshServer';

describe('Provision Server on the test world (real sshd + PostgreSQL)', function () {
  this.timeout(180_000);
  let sshd: SshServer;
  let pg: Postgres;
  let pool: ConnectionPool;
  let work: string;
  let server: Server;
  let database: Database;
  const reports: ProvisionReport[] = [];

  const provision = async (): Promise<ProvisionReport> => {
    const passwords = new Map([[database.id, pg.password]]);
    const r = await pool.run(server, provisionScript({ server, databases: [database], passwords }), {
      secrets: [pg.password],
    });
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return parseProvisionOutput(r.stdout);
  };
  /** The test world's server as Add Server would save it. */
  const serverInput = (s: Server) => ({
    name: s.name,
    host: s.host,
    port: s.port,
    user: s.user,
    auth: 'agent' as const,
    backupDir: s.backupDir,
  });
  const stepsText = (r: ProvisionReport) => r.steps.map((s) => `${s.id} ${s.status} ${s.detail}`).join('\n');

  before(async () => {
    // PostgreSQL asks for a password: the version check gets the stored one (as Provision Server passes it).
    [sshd, pg] = await Promise.all([startSshServer(), startPostgres()]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-provision-'));
    server = keyServer(sshd, path.join(work, 'opt', 'infrakt', 'backups'));
    database = { id: 'db-1', serverId: server.id, ...hostDatabase(pg, 'shop'), retention: {}, createdAt: '' };
    pg.createDatabase('shop');
    pool = new ConnectionPool(testEnv());
  });
  after(async () => {
    pool?.dispose();
    await sshd?.stop();
    pg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      for (const [i, r] of reports.entries()) console.log(`--- run ${i + 1} ---\n${stepsText(r)}`);
  });

  it('first run: ok, creates the backup dir 0700, finds awscli and checks pg_dump against the server', async () => {
    assert.equal(fs.existsSync(server.backupDir), false);
    const first = await provision();
    reports.push(first);
    assert.equal(first.ok, true, stepsText(first));
    assert.deepEqual(
      first.steps.find((s) => s.id === 'privileges'),
      { id: 'privileges', status: 'done', detail: 'root' },
    );
    assert.equal(first.packageManager, 'apt-get');

    const dir = first.steps.find((s) => s.id === 'backup-dir');
    assert.equal(dir?.status, 'changed', 'the backup dir did not exist before');
    const st = fs.statSync(server.backupDir);
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o777, 0o700);

    const aws = first.steps.find((s) => s.id === 'awscli');
    assert.ok(aws && aws.status !== 'failed', stepsText(first));
    assert.match(aws.detail, /aws-cli\/\d+\.\d+\.\d+/);
    assert.match(first.awsCliVersion ?? '', /^aws-cli\/\d+\.\d+\.\d+$/);

    for (const tool of ['pg_dump', 'pg_restore', 'psql'])
      assert.equal(first.steps.find((s) => s.id === `tool-${tool}`)?.status, 'done', tool);
    const pgVersion = first.steps.find((s) => s.id === 'pgversion-shop');
    assert.ok(pgVersion, `the version check must reach the server:\n${stepsText(first)}`);
    assert.doesNotMatch(pgVersion.detail, /could not ask/, 'the stored password let psql in');
    const serverMajor = Math.floor(Number(pg.sql('SHOW server_version_num')) / 10000);
    // Either verdict is right for some machine; it must name the server's real major version.
    assert.match(pgVersion.detail, new RegExp(`\\b${serverMajor}\\b`));
    // The cron daemon runs after provisioning: started by it (changed) or already running (done).
    const crond = first.steps.find((s) => s.id === 'crond');
    assert.ok(crond && ['done', 'changed'].includes(crond.status), stepsText(first));
    assert.equal(
      first.steps.some((s) => s.id === 'docker'),
      false,
      'no container-mode database',
    );
  });

  it('second run changes nothing and says so', async () => {
    const second = await provision();
    reports.push(second);
    assert.equal(second.ok, true, stepsText(second));
    assert.deepEqual(
      second.steps.filter((s) => s.status === 'changed'),
      [],
    );
    assert.equal(second.unchanged, true);
    assert.deepEqual(
      second.steps.map((s) => s.id),
      reports[0].steps.map((s) => s.id),
      'the same steps ran',
    );
    assert.equal(second.steps.find((s) => s.id === 'backup-dir')?.status, 'done');
    assert.equal(second.awsCliVersion, reports[0].awsCliVersion);
    assert.match(
      summariseProvision('web-1', second),
      /^web-1 is already provisioned — nothing had to change/,
    );
    assert.equal(fs.statSync(server.backupDir).mode & 0o777, 0o700);
  });

  it('the result is recorded on the server row', async () => {
    const { store } = await ConfigStore.open(path.join(work, 'infrakt.sqlite'), { wasmPath: WASM_PATH });
    try {
      const saved = store.addServer(serverInput(server));
      assert.match(
        rowFor({ kind: 'server', server: saved, state: { kind: 'idle' } }).tooltip,
        /^Not provisioned by infrakt; its tools are checked when it is listed/m,
      );
      const recorded = store.recordProvisioned(saved.id, { awsCliVersion: reports[1].awsCliVersion });
      assert.ok(recorded);
      assert.equal(recorded.awsCliVersion, reports[1].awsCliVersion);
      const line = rowFor({ kind: 'server', server: recorded, state: { kind: 'connected' } })
        .tooltip.split('\n')
        .find((l) => l.startsWith('Provisioned: '));
      assert.match(line ?? '', /^Provisioned: \d{4}-\d\d-\d\d \d\d:\d\d UTC · aws-cli\/\d+\.\d+\.\d+$/);
      assert.ok(line?.endsWith(` · ${reports[1].awsCliVersion}`), line);
    } finally {
      store.dispose();
    }
  });

  it('a store row with a hostile database name is shown broken and refused; no script is built from it', async () => {
    const file = path.join(work, 'hostile.sqlite');
    const hostile = `shop$(touch ${path.join(work, 'provision-canary')})`;
    const first = await ConfigStore.open(file, { wasmPath: WASM_PATH });
    const saved = first.store.addServer(serverInput(server));
    const row = first.store.addDatabase({ ...hostDatabase(pg, 'shop'), serverId: saved.id });
    first.store.dispose();
    // The file is changed behind the store's back, as another program could.
    const initSqlJs = (await import('sql.js')).default;
    const SQL = await initSqlJs({ locateFile: () => WASM_PATH });
    const db = new SQL.Database(fs.readFileSync(file));
    db.run('UPDATE databases SET name = ? WHERE id = ?', [hostile, row.id]);
    fs.writeFileSync(file, db.export());
    db.close();

    const { store } = await ConfigStore.open(file, { wasmPath: WASM_PATH });
    try {
      const databases = store.listDatabases(saved.id).map((d) => ({ ...d, serverId: server.id }));
      assert.equal(databases[0].name, hostile);
      assert.match(databases[0].problem ?? '', /is broken: Database name may use letters/);
      assert.equal(
        rowFor({ kind: 'database', server, database: databases[0] }).contextValue,
        'infrakt.brokenDatabase',
      );
      // What Provision Server does with the stored rows: no script is ever built from them.
      let script: string | undefined;
      assert.throws(
        () => {
          script = provisionScript({ server, databases, passwords: new Map() });
        },
        (e: Error) => e.message === databases[0].problem,
      );
      assert.equal(script, undefined);
    } finally {
      store.dispose();
    }
  });
});
