// Test Connection's probe (probe.sh) run under bash, dash and busybox ash: once
// on this machine as it is, and once with stub tools choosing the user, sudo,
// docker and awscli.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupError } from '../../src/core/backup';
import { describeProbe, parseProbe, probeScript } from '../../src/core/server/probe';
import { SHELLS, makeBin, runShell } from '../support/stubBin';

describe('server probe', () => {
  let work: string;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-probe-'));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const [label, shell] of SHELLS) {
    describe(label, () => {
      it('this machine: OS, user, privilege, aws, and a missing backup dir that can be created', () => {
        const r = runShell(shell, probeScript('/tmp/infrakt-probe-test/backups'), process.env);
        assert.equal(r.code, 0, r.stderr);
        const p = parseProbe(r.stdout);
        assert.match(p.os, /Debian|Linux/);
        assert.equal(p.user, 'root');
        assert.equal(p.privilege, 'root');
        assert.match(p.aws ?? '', /aws-cli\//);
        assert.equal(p.backupDir, 'creatable');
        assert.match(describeProbe('web-1', p, '/b'), /^web-1: .*user root \(root\)/);
      });

      it('stub tools: a user without root or sudo, no docker or aws; then sudo, docker and aws (first lines only)', () => {
        const bin = makeBin(path.join(work, `${label.replace(/\W/g, '')}-bare`), {
          real: ['dirname', 'head', 'uname'],
          stubs: {
            id: 'case "$1" in -u) echo 1000 ;; -un) echo deploy ;; esac',
            sudo: '[ "${STUB_SUDO:-}" = ok ]',
          },
        });
        const full = makeBin(path.join(work, `${label.replace(/\W/g, '')}-full`), {
          stubs: {
            docker: "echo 'Docker version 27.3.1, build ce12230'; echo second line",
            aws: "echo 'aws-cli/2.15.0 Python/3.11.8 Linux/6.1.0' >&2; echo more >&2",
          },
        });
        const probe = (dir: string, pathDirs: string[], env: NodeJS.ProcessEnv = {}) => {
          const r = runShell(shell, probeScript(dir), { PATH: pathDirs.join(':'), ...env });
          assert.equal(r.code, 0, r.stderr);
          return parseProbe(r.stdout);
        };
        const bare = probe(work, [bin]);
        assert.equal(bare.user, 'deploy');
        assert.equal(bare.privilege, 'none');
        assert.equal(bare.docker, undefined);
        assert.equal(bare.aws, undefined);
        assert.equal(bare.backupDir, 'writable', 'an existing dir');
        assert.match(
          describeProbe('web-1', bare, work),
          /no root or passwordless sudo.*no docker.*awscli not found/,
        );

        const all = probe(path.join(work, 'new', 'backups'), [bin, full], { STUB_SUDO: 'ok' });
        assert.equal(all.privilege, 'sudo');
        assert.equal(all.docker, 'Docker version 27.3.1, build ce12230');
        assert.equal(all.aws, 'aws-cli/2.15.0 Python/3.11.8 Linux/6.1.0');
        assert.equal(all.backupDir, 'creatable');
      });
    });
  }

  it('refuses a backup dir that is not a safe absolute path, before any script exists', () => {
    assert.throws(
      () => probeScript('/tmp/$(id)'),
      (e: unknown) => e instanceof BackupError && /^Backup directory: /.test(e.message),
    );
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
