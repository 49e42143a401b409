import * as assert from 'node:assert/strict';
import { describeProbe, parseProbe, probeScript } from '../../src/core/serverProbe';
import { runLocalScript } from '../support/localShell';

describe('server probe', () => {
  it('runs in one script and reports OS, user, privilege, aws and the backup dir (run by bash on this machine)', async () => {
    const r = await runLocalScript(probeScript('/tmp/infrakt-probe-test/backups'));
    assert.equal(r.code, 0, r.stderr);
    const p = parseProbe(r.stdout);
    assert.match(p.os, /Debian|Linux/);
    assert.equal(p.user, 'root');
    assert.equal(p.privilege, 'root');
    assert.match(p.aws ?? '', /aws-cli\//);
    assert.equal(p.backupDir, 'creatable');
    assert.match(describeProbe('web-1', p, '/b'), /^web-1: .*user root \(root\)/);
  });

  it('says what is missing', () => {
    const p = parseProbe(
      '@@infrakt:probe os Alpine\n@@infrakt:probe user deploy\n@@infrakt:probe privilege none\n@@infrakt:probe backupdir not-writable',
    );
    assert.equal(p.aws, undefined);
    assert.match(
      describeProbe('web-1', p, '/opt/b'),
      /awscli not found — run Provision Server.*\/opt\/b NOT writable/,
    );
  });
});
