import * as assert from 'node:assert/strict';
import { parseProvisionOutput, provisionScript, summariseProvision } from '../../src/core/provision';
import type { Database } from '../../src/core/model';

const pg: Database = {
  id: 'd1',
  serverId: 's1',
  name: 'app',
  engine: 'postgres',
  mode: 'host',
  dbHost: '127.0.0.1',
  dbPort: 5432,
  dbUser: 'postgres',
  dbName: 'app',
  createdAt: '',
};

describe('provision plan', () => {
  it('checks tools only for the engines in use, and docker only for container mode', () => {
    const hostOnly = provisionScript({ backupDir: '/opt/infrakt/backups', databases: [pg] });
    assert.match(hostOnly, /command -v pg_dump/);
    assert.doesNotMatch(hostOnly, /mysqldump/);
    assert.doesNotMatch(hostOnly, /docker --version/);
    const withContainer = provisionScript({
      backupDir: '/opt/infrakt/backups',
      databases: [{ ...pg, id: 'd2', name: 'c', mode: 'container', container: 'infrakt-db-c' }],
    });
    assert.match(withContainer, /docker --version/);
  });

  it("checks pg_dump against the database's server with its stored password, only as psql's environment", () => {
    const script = provisionScript({
      backupDir: '/b',
      databases: [pg],
      passwords: new Map([['d1', "s3cr'et"]]),
    });
    const lines = script.split('\n').filter((l) => l.includes('s3cr'));
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /sv=\$\(PGPASSWORD='s3cr'\\''et' psql -h '127\.0\.0\.1' -p 5432 -U 'postgres' -d 'app' /,
    );
    assert.match(script, /step pgversion-app warn 'could not ask app'\\''s server for its version/);
    assert.doesNotMatch(provisionScript({ backupDir: '/b', databases: [pg] }), /PGPASSWORD/);
  });

  it('never swallows a failed install with || true', () => {
    assert.doesNotMatch(provisionScript({ backupDir: '/b', databases: [pg] }), /\|\| true\s*$/m);
  });

  it('refuses a backup dir that is not a safe absolute path', () => {
    assert.throws(() => provisionScript({ backupDir: '/tmp/x; rm -rf /', databases: [] }));
  });

  it('parses steps and summarises an idempotent second run', () => {
    const out = [
      'noise',
      '@@infrakt:step privileges done root',
      '@@infrakt:step package-manager done apt-get',
      '@@infrakt:step awscli done aws-cli/2.9.19 Python/3.11.2 Linux/6 source/x86_64.debian.12',
      '@@infrakt:step backup-dir done /opt/infrakt/backups exists (0700)',
    ].join('\n');
    const r = parseProvisionOutput(out);
    assert.equal(r.steps.length, 4);
    assert.equal(r.awsVersion, '2.9.19');
    assert.equal(r.awsCliVersion, 'aws-cli/2.9.19');
    assert.equal(r.unchanged, true);
    assert.equal(r.ok, true);
    assert.equal(summariseProvision('web-1', r), 'web-1 is already provisioned — nothing had to change');
    const warned = parseProvisionOutput(
      `${out}\n@@infrakt:step tool-pg_dump warn pg_dump not found: install the postgres client package`,
    );
    assert.equal(
      summariseProvision('web-1', warned),
      'web-1 is already provisioned — nothing had to change (1 warning: pg_dump not found: install the postgres client package)',
    );
    const firstRun = parseProvisionOutput(
      [
        '@@infrakt:step privileges done root',
        '@@infrakt:step awscli changed installed aws-cli/1.22.34 Python/3.10.12 Linux/5.15 botocore/1.23.34',
        '@@infrakt:step backup-dir changed /opt/infrakt/backups ready (0700)',
      ].join('\n'),
    );
    assert.equal(firstRun.unchanged, false);
    assert.equal(firstRun.awsVersion, '1.22.34');
    assert.equal(summariseProvision('web-1', firstRun), 'web-1 provisioned — changed: awscli, backup-dir');
    const failed = parseProvisionOutput('@@infrakt:step awscli failed could not install awscli');
    assert.equal(failed.ok, false);
    assert.match(summariseProvision('web-1', failed), /Provisioning web-1 failed: awscli: could not install/);
  });
});
