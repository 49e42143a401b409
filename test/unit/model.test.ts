import * as assert from 'node:assert/strict';
import {
  databaseInput,
  fieldValidator,
  hostName,
  port,
  remoteDir,
  serverInput,
  serverName,
} from '../../src/core/model';
import { rowFor, type TreeNode } from '../../src/core/treeRows';

describe('model validation', () => {
  it('gives field messages a person can act on', () => {
    assert.equal(fieldValidator(port)('0'), 'Port must be 1–65535');
    assert.equal(fieldValidator(port)('abc'), 'Port must be a number from 1 to 65535');
    assert.equal(fieldValidator(port)('22'), undefined);
    assert.match(fieldValidator(serverName)('web 1') ?? '', /letters, digits, \. _ - \(max 63\)/);
    assert.match(fieldValidator(serverName)('a'.repeat(64)) ?? '', /max 63/);
    assert.match(fieldValidator(hostName)('-oProxyCommand=x') ?? '', /hostname or IP/);
    assert.equal(fieldValidator(hostName)('2001:db8::1'), undefined);
    assert.equal(fieldValidator(hostName)('203.0.113.7'), undefined);
    assert.match(fieldValidator(remoteDir)('backups') ?? '', /absolute path/);
    assert.match(fieldValidator(remoteDir)('/opt/../etc') ?? '', /\.\./);
    assert.match(fieldValidator(remoteDir)("/opt/it's") ?? '', /absolute path of letters/);
  });

  it('trims pasted whitespace and strips a trailing slash from the backup dir', () => {
    const s = serverInput.parse({
      name: ' web-1 ',
      host: ' example.com ',
      user: 'root',
      auth: 'agent',
      backupDir: '/srv/b/',
    });
    assert.equal(s.name, 'web-1');
    assert.equal(s.host, 'example.com');
    assert.equal(s.backupDir, '/srv/b');
    assert.equal(s.port, 22);
  });

  it('refuses shell metacharacters in every database field that reaches a shell', () => {
    for (const bad of ['x; touch /tmp/pwned', '$(id)', '`id`', 'a b', "a'b", 'a\nb', '-rf']) {
      assert.equal(
        databaseInput.safeParse({ serverId: 's', name: bad, engine: 'postgres', mode: 'host' }).success,
        false,
        bad,
      );
      assert.equal(
        databaseInput.safeParse({
          serverId: 's',
          name: 'ok',
          engine: 'postgres',
          mode: 'container',
          container: bad,
        }).success,
        false,
        bad,
      );
    }
  });
});

describe('tree rows', () => {
  const server = {
    id: 's1',
    name: 'web-1',
    host: 'web-1.example.com',
    port: 2222,
    user: 'deploy',
    auth: 'key' as const,
    keyPath: '/home/me/.ssh/id_ed25519',
    backupDir: '/opt/infrakt/backups',
    createdAt: '',
    updatedAt: '',
  };

  it('a server row shows user@host:port, its state, and the last error in the tooltip', () => {
    const row = rowFor({ kind: 'server', server, state: { kind: 'error', message: 'Connection refused' } });
    assert.equal(row.label, 'web-1');
    assert.equal(row.description, 'deploy@web-1.example.com:2222');
    assert.equal(row.contextValue, 'infrakt.server.error');
    assert.match(row.tooltip, /Host: web-1\.example\.com:2222/);
    assert.match(row.tooltip, /User: deploy/);
    assert.match(row.tooltip, /Last error: Connection refused/);
    assert.equal(row.id, 'server:s1');
  });

  it('a server row says when it was provisioned and which awscli it has, or that it never was', () => {
    const idle = { kind: 'idle' } as const;
    assert.match(
      rowFor({ kind: 'server', server, state: idle }).tooltip,
      /^Not provisioned yet — run Provision Server$/m,
    );
    const provisioned = rowFor({
      kind: 'server',
      server: { ...server, provisionedAt: '2026-11-28T08:30:12.345Z', awsCliVersion: 'aws-cli/2.15.0' },
      state: idle,
    });
    assert.match(provisioned.tooltip, /^Provisioned: 2026-11-28 08:30 UTC · aws-cli\/2\.15\.0$/m);
    assert.doesNotMatch(provisioned.tooltip, /Not provisioned/);
    assert.equal(provisioned.description, 'deploy@web-1.example.com:2222', 'the description stays user@host');
    const noVersion = rowFor({
      kind: 'server',
      server: { ...server, provisionedAt: '2026-11-28T08:30:12.345Z' },
      state: idle,
    });
    assert.match(noVersion.tooltip, /^Provisioned: 2026-11-28 08:30 UTC$/m);
  });

  it('a database row names its engine and how it is reached', () => {
    const node: TreeNode = {
      kind: 'database',
      server,
      database: {
        id: 'd1',
        retention: {},
        serverId: 's1',
        name: 'app',
        engine: 'postgres',
        mode: 'container',
        container: 'infrakt-db-app',
        createdAt: '',
      },
    };
    const row = rowFor(node);
    assert.equal(row.description, 'PostgreSQL');
    assert.match(row.tooltip, /container infrakt-db-app \(Docker container\)/);
    const now = new Date('2026-11-25T05:00:00Z');
    const listed = rowFor(
      { ...node, backups: { state: 'listed', count: 2, newest: new Date('2026-11-25T02:00:00Z') } },
      now,
    );
    assert.equal(listed.description, 'PostgreSQL · 2 backups, last 3 h ago');
    assert.equal(
      rowFor({ ...node, backups: { state: 'listed', count: 0 } }).description,
      'PostgreSQL · no backups',
    );
    assert.equal(rowFor({ ...node, backups: { state: 'loading' } }).description, 'PostgreSQL · listing…');
    assert.equal(row.contextValue, 'infrakt.database.postgres');
    assert.match(row.tooltip, /Not scheduled/);
    const scheduled = rowFor(
      {
        ...node,
        backups: { state: 'listed', count: 2, newest: new Date('2026-11-25T02:00:00Z') },
        schedule: {
          text: 'daily 02:00 · failed: disk full',
          problem: true,
          detail: ['Schedule: daily 02:00'],
        },
      },
      now,
    );
    assert.equal(
      scheduled.description,
      'PostgreSQL · 2 backups, last 3 h ago · daily 02:00 · failed: disk full',
    );
    assert.equal(
      scheduled.contextValue,
      'infrakt.database.postgres.scheduled',
      'Remove Schedule shows on it',
    );
    assert.deepEqual(scheduled.icon, { id: 'error', color: 'list.errorForeground' });
    assert.match(scheduled.tooltip, /Schedule: daily 02:00/);
  });
});
