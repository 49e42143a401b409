import * as assert from 'node:assert/strict';
import {
  containerName,
  databaseInput,
  fieldValidator,
  hostName,
  parseReadable,
  passwordProblem,
  port,
  remoteDir,
  retentionRule,
  serverInput,
  serverName,
  typedValue,
} from '../../src/core/model';
import { checkTarget } from '../../src/core/backup/target';
import { cronLine } from '../../src/core/schedule/cron';
import { rowFor, type TreeNode } from '../../src/core/treeRows';

describe('model validation', () => {
  it('gives field messages a person can act on', () => {
    assert.equal(fieldValidator(port)('0'), 'Port must be 1–65535');
    assert.equal(fieldValidator(port)('abc'), 'Port must be a number from 1 to 65535 (digits only)');
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

describe('the edges of input', () => {
  it('numbers are decimal digits only: no hex, exponent, sign or fraction', () => {
    for (const bad of ['0x16', '1e3', '+22', '22.0', '2 2', '0b1', '']) {
      assert.equal(port.safeParse(bad).success, false, bad);
      assert.equal(retentionRule.shape.daily.safeParse(bad).success, false, bad);
      assert.equal(retentionRule.shape.last.safeParse(bad).success, false, bad);
    }
    assert.equal(fieldValidator(port)('0x16'), 'Port must be a number from 1 to 65535 (digits only)');
    assert.equal(port.parse(' 2222 '), 2222);
    assert.equal(port.parse(2222), 2222, 'a stored number passes as it is');
    assert.equal(retentionRule.shape.within.parse('14'), 14);
  });

  it('typed passwords are kept exactly as typed; a line break or NUL is refused with a sentence', () => {
    assert.equal(typedValue('  pa ss  ', true), '  pa ss  ');
    assert.equal(typedValue('  web-1  '), 'web-1');
    assert.equal(passwordProblem(' leading and trailing '), undefined);
    assert.equal(
      passwordProblem('two\nlines'),
      'Password must not contain a line break — paste it again as one line',
    );
    assert.equal(
      passwordProblem('cr\rhere'),
      'Password must not contain a line break — paste it again as one line',
    );
    assert.equal(passwordProblem('nul\0here'), 'Password must not contain a NUL character');
  });

  it('a stored database password with a line break is refused before any script exists (MongoDB would fold it)', () => {
    assert.throws(
      () =>
        checkTarget({
          server: { name: 'web-1', backupDir: '/opt/infrakt/backups' },
          database: { name: 'app', engine: 'mongodb', mode: 'host', dbHost: '127.0.0.1' },
          password: { kind: 'inline', password: 'first\nsecond' },
        }),
      /^BackupError: The database password must not contain a line break — paste it again as one line \(Remove Database, then add it again\)$/,
    );
  });

  it('messages say how to fix the value, and name every problem of it in one sentence', () => {
    assert.match(fieldValidator(containerName)('-db') ?? '', /must start with a letter or digit/);
    assert.equal(
      containerName.parse('  infrakt-db-shop '),
      'infrakt-db-shop',
      'trimmed like every other field',
    );
    assert.match(fieldValidator(hostName)(`${'a'.repeat(64)}.example.com`) ?? '', /at most 63 characters/);
    assert.equal(
      fieldValidator(hostName)('x y'.repeat(100)),
      'Host must be at most 253 characters; Host must be a hostname or IP address: letters, digits, dots and hyphens, each dot-separated part at most 63 characters and not starting or ending with a hyphen (no spaces or user@)',
    );
  });

  it('a bad stored backup dir or cron expression is one readable sentence, never zod JSON', () => {
    assert.throws(
      () => parseReadable(remoteDir, 'relative/dir', 'Backup directory'),
      /^Error: Backup directory: [^[{]+$/,
    );
    assert.throws(
      () =>
        cronLine({
          databaseId: 'd1',
          expression: '61 * * * *',
          scriptPath: '/opt/infrakt/backups/backup-shop.sh',
          logPath: '/opt/infrakt/backups/.logs/shop.log',
        }),
      (e: unknown) => e instanceof Error && /^Schedule: /.test(e.message) && !/[[{]/.test(e.message),
    );
    assert.throws(
      () =>
        cronLine({
          databaseId: 'd1',
          expression: '0 2 * * *',
          scriptPath: 'backup-shop.sh',
          logPath: '/opt/infrakt/backups/.logs/shop.log',
        }),
      (e: unknown) => e instanceof Error && /^Script path: /.test(e.message) && !/[[{]/.test(e.message),
    );
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
      /^Not provisioned by infrakt; its tools are checked when it is listed \(expand it\)$/m,
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

  it('a server row says what its listing found of the tools: provisioning is asked for only when one is missing', () => {
    const idle = { kind: 'idle' } as const;
    const all = rowFor({
      kind: 'server',
      server,
      state: idle,
      tools: [
        { name: 'aws', found: true },
        { name: 'pg_dump', found: true },
      ],
    });
    assert.match(
      all.tooltip,
      /^Not provisioned by infrakt, and not needed: awscli, pg_dump found on the server$/m,
    );
    assert.doesNotMatch(all.tooltip, /run Provision Server/);
    assert.equal(all.description, 'deploy@web-1.example.com:2222');
    const missing = rowFor({
      kind: 'server',
      server: { ...server, provisionedAt: '2026-11-28T08:30:12.345Z' },
      state: idle,
      tools: [
        { name: 'aws', found: false },
        { name: 'pg_dump', found: true },
        { name: 'mysqldump|mariadb-dump', found: false },
      ],
    });
    assert.match(
      missing.tooltip,
      /^Missing on the server: awscli, mysqldump or mariadb-dump — run Provision Server$/m,
    );
    assert.match(missing.tooltip, /^Found: pg_dump$/m);
    assert.equal(missing.description, 'deploy@web-1.example.com:2222 · tools missing');
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
