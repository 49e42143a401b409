// Schedule Backups, script text and parsers: what the installed script holds
// (no key, no secret, the one backup pipeline, no `|| true`), how values are
// quoted, the crontab entry's idempotence, and the status records. A few
// checks run the generated text with this machine's bash/sh (no server
// needed): quoting is proven by what the shell actually writes.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupError, type BackupTarget, backupScript } from '../../src/core/backup';
import { ENGINES, type Engine } from '../../src/core/model';
import type { S3Credentials } from '../../src/core/s3Scripts';
import { EXIT } from '../../src/core/remote/protocol';
import { SH } from '../../src/core/remote/modules';
import { engineSpec } from '../../src/core/engines';
import { installCronLines, removeCronLines, scheduleHealth } from '../../src/core/schedule';
import {
  DEFAULT_AWS_CREDENTIALS_PATH,
  type ScheduledBackupOptions,
  credentialsFileScript,
  installScheduleScript,
  parseInstallResult,
  parseScheduleStatus,
  passwordFileScript,
  removeCredentialsFileScript,
  schedulePaths,
  scheduledBackupScript,
  statusLines,
  unscheduleScript,
} from '../../src/core/scheduleScript';

const KEY = 'AKIAEXAMPLEKEY123';
const SECRET = `s3cr'et"$(touch${'$'}{IFS}/tmp/infrakt-canary)\`x\`;|&\\`;

const settings: S3Credentials['settings'] = {
  endpointUrl: 'https://s3.example.com',
  bucket: 'my-backups',
  region: 'eu-central-1',
  accessKey: KEY,
  prefix: 'infrakt/',
  pathStyle: true,
  checksumWhenRequired: false,
};

function target(engine: Engine = 'postgres', mode: 'host' | 'container' = 'host'): BackupTarget {
  return {
    server: { name: 'web-1', backupDir: '/opt/infrakt/backups' },
    database:
      engineSpec(engine).location === 'file'
        ? { name: 'shop', engine, mode, dbPath: '/srv/shop/data.db' }
        : mode === 'host'
          ? { name: 'shop', engine, mode, dbHost: '127.0.0.1', dbPort: 5432, dbUser: 'app', dbName: 'shop' }
          : { name: 'shop', engine, mode, container: 'infrakt-db-shop' },
    password: mode === 'host' ? { kind: 'file', path: '/opt/infrakt/.secrets/shop.env' } : undefined,
  };
}

const opts = (over: Partial<ScheduledBackupOptions> = {}): ScheduledBackupOptions => ({
  target: target(),
  localRetentionDays: 7,
  s3: { settings, keepNewest: 5 },
  ...over,
});

function sh(shell: string, script: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(shell, ['-s'], { input: script, encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('scheduled backup script', () => {
  it('holds neither the access key nor the secret, and names the root-only file awscli reads them from', () => {
    const text = scheduledBackupScript(opts());
    assert.ok(!text.includes(KEY), 'no access key');
    assert.ok(!text.includes('s3cr'), 'no secret');
    assert.ok(text.includes(`\ninfrakt_s3_credentials_file='${DEFAULT_AWS_CREDENTIALS_PATH}'\n`));
    assert.doesNotMatch(text, /\nAWS_ACCESS_KEY_ID=|\nAWS_SECRET_ACCESS_KEY=/);
    assert.ok(text.includes("\ninfrakt_sinks='s3'\n"));
  });

  it('runs the same pipeline as Back Up Now: its modules and every value of its preamble', () => {
    const text = scheduledBackupScript(opts({ s3: undefined }));
    for (const m of [SH.common, SH.pipeline, engineSpec('postgres').shell])
      assert.equal(text.split(m.text.trimEnd()).length, 2, `${m.name} once`);
    const pipeline = backupScript(target(), { progressInterval: 60 });
    const preamble = pipeline.split('\n').filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l));
    for (const line of preamble) assert.ok(text.includes(`\n${line}\n`), line);
    assert.ok(text.includes("\ninfrakt_sinks=''\n") && text.includes('\ninfrakt_s_s3=0\n'), 'no S3');
  });

  it('has no `|| true`, starts with a shebang, and parses in sh and bash for every engine and mode', () => {
    for (const engine of ENGINES) {
      const modes =
        engineSpec(engine).location === 'file' ? (['host'] as const) : (['host', 'container'] as const);
      for (const mode of modes) {
        const text = scheduledBackupScript(opts({ target: target(engine, mode) }));
        assert.ok(text.startsWith('#!/bin/sh\n'));
        assert.doesNotMatch(text, /\|\|\s*true/, `${engine}/${mode}`);
        for (const shell of ['sh', 'bash']) {
          const r = spawnSync(shell, ['-n'], { input: text, encoding: 'utf8' });
          assert.equal(r.status, 0, `${shell} -n ${engine}/${mode}: ${r.stderr}`);
        }
      }
    }
  });

  it('every configured value is single-quoted', () => {
    const text = scheduledBackupScript(opts());
    for (const line of [
      "infrakt_dir='/opt/infrakt/backups'",
      "infrakt_s_status='/opt/infrakt/backups/.status/shop.json'",
      "infrakt_s_log='/opt/infrakt/backups/.status/shop.log'",
      "infrakt_s_lock='/opt/infrakt/backups/.status/shop.lock'",
      "infrakt_base='web-1_shop_postgres_'",
      "infrakt_s3_endpoint='https://s3.example.com'",
      "infrakt_s3_bucket='my-backups'",
      "infrakt_s3_region='eu-central-1'",
      "infrakt_s3_prefix='infrakt/shop/'",
      "infrakt_db_password_file='/opt/infrakt/.secrets/shop.env'",
    ])
      assert.ok(text.includes(`\n${line}\n`), line);
  });

  it('refuses what would put a secret in the script or an unsafe value in a shell', () => {
    const inline: BackupTarget = { ...target(), password: { kind: 'inline', password: 'pw' } };
    assert.throws(
      () => scheduledBackupScript(opts({ target: inline })),
      /cannot carry the database password/,
    );
    assert.throws(() => scheduledBackupScript(opts({ localRetentionDays: 0 })), BackupError);
    assert.throws(() => scheduledBackupScript(opts({ localRetentionDays: 1.5 })), BackupError);
    assert.throws(() => scheduledBackupScript(opts({ s3: { settings, keepNewest: 1001 } })), BackupError);
    assert.throws(
      () => scheduledBackupScript(opts({ s3: { settings: { ...settings, prefix: "x'/" } } })),
      /prefix/,
    );
    assert.throws(
      () => scheduledBackupScript(opts({ s3: { settings, credentialsPath: '/opt/x y/credentials' } })),
      /credentials file/i,
    );
    const badDir = { ...target(), server: { name: 'web-1', backupDir: '/opt/$(reboot)' } };
    assert.throws(() => scheduledBackupScript(opts({ target: badDir })), /Backup directory/);
    const badName = { ...target(), database: { ...target().database, name: "shop';x" } };
    assert.throws(() => scheduledBackupScript(opts({ target: badName })), /Database name/);
  });

  it('S3 keep-newest is set only when asked for (the run applies it after a successful upload)', () => {
    assert.ok(scheduledBackupScript(opts()).includes('\ninfrakt_s_keep=5\n'));
    assert.ok(scheduledBackupScript(opts({ s3: { settings } })).includes('\ninfrakt_s_keep=0\n'));
  });
});

describe('credentials and password files', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-cred-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the credentials file exactly (secret quoted, 0600 in a 0700 dir), unchanged on a second run, and removes it', () => {
    const file = path.join(dir, 'aws', 'credentials');
    const script = credentialsFileScript(settings, SECRET, file);
    const r1 = sh('bash', script);
    assert.equal(r1.status, 0, r1.stderr);
    assert.match(r1.stdout, /"changed":true/);
    assert.equal(
      fs.readFileSync(file, 'utf8'),
      `[infrakt]\naws_access_key_id = ${KEY}\naws_secret_access_key = ${SECRET}\n`,
    );
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.ok(!fs.existsSync('/tmp/infrakt-canary'), 'nothing in the secret ran');
    const r2 = sh('sh', script);
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /"changed":false/);
    assert.equal(fs.readdirSync(path.dirname(file)).length, 1, 'no temp file left');
    const rm = sh('sh', removeCredentialsFileScript(file));
    assert.match(rm.stdout, /"removed":true/);
    assert.match(sh('sh', removeCredentialsFileScript(file)).stdout, /"removed":false/);
  });

  it('the secret is only in the stdin script: never in an argv', () => {
    const script = credentialsFileScript(settings, SECRET, path.join(dir, 'c'));
    // Every line that carries the secret is a builtin (printf) writing to a file.
    const lines = script.split('\n').filter((l) => l.includes('s3cr'));
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^\s*printf '%s\\n' /);
    assert.throws(() => credentialsFileScript(settings, 'has space', path.join(dir, 'c')), /Secret key/);
    assert.throws(() => credentialsFileScript(settings, '', path.join(dir, 'c')), /required/);
  });

  it('refuses a credentials dir that belongs to someone else or is a symlink', () => {
    fs.symlinkSync(os.tmpdir(), path.join(dir, 'link'));
    const r = sh('sh', credentialsFileScript(settings, 'x', path.join(dir, 'link', 'credentials')));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /symbolic link/);
  });

  it('the password file, sourced, gives the engine its password exactly', () => {
    const file = path.join(dir, 'shop.env');
    const pw = `p'w"$(touch /tmp/infrakt-canary)\`x\`\n;|&\\ end`;
    const r = sh('bash', passwordFileScript('postgres', pw, file));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const got = spawnSync('sh', ['-c', `. '${file}'; printf '%s' "$PGPASSWORD"`], { encoding: 'utf8' });
    assert.equal(got.stdout, pw);
    assert.ok(!fs.existsSync('/tmp/infrakt-canary'));
  });
});

describe('install and unschedule', () => {
  it('install writes atomically (temp file, syntax check, 0700, rename) and adds the marked crontab line', () => {
    const text = installScheduleScript({ ...opts(), databaseId: 'd-1', expression: '0 2 * * *' });
    assert.match(text, /mktemp "\$infrakt_dir\/\.backup-shop\.sh\.XXXXXX"/);
    assert.match(text, /sh -n "\$infrakt_tmp"/);
    assert.match(text, /chmod 700 -- "\$infrakt_tmp"/);
    assert.match(text, /mv -f -- "\$infrakt_tmp" "\$infrakt_script"/);
    assert.match(
      text,
      /0 2 \* \* \* \/opt\/infrakt\/backups\/backup-shop\.sh >> \/opt\/infrakt\/backups\/\.status\/shop\.log 2>&1 # infrakt:backup:d-1/,
    );
    assert.ok(!text.includes(KEY) && !text.includes('s3cr'));
    assert.throws(
      () => installScheduleScript({ ...opts(), databaseId: 'd-1', expression: '0 2 * *' }),
      /5 fields/,
    );
    assert.throws(() => installScheduleScript({ ...opts(), databaseId: 'd 1', expression: '0 2 * * *' }));
  });

  it('parses the install result and its warnings', () => {
    const out = [
      '@@infrakt:warning no cron daemon is running on this server',
      '@@infrakt:result {"script":"/opt/infrakt/backups/backup-shop.sh","changed":false,"cron":"0 2 * * *"}',
    ].join('\n');
    assert.deepEqual(parseInstallResult(out), {
      script: '/opt/infrakt/backups/backup-shop.sh',
      changed: false,
      cron: '0 2 * * *',
      warnings: ['no cron daemon is running on this server'],
    });
    assert.equal(parseInstallResult('nothing'), undefined);
  });

  it('unschedule removes the entry first, then the script and its status', () => {
    const text = unscheduleScript({
      databaseId: 'd-1',
      backupDir: '/opt/infrakt/backups',
      databaseName: 'shop',
    });
    const p = schedulePaths('/opt/infrakt/backups', 'shop');
    assert.ok(text.indexOf("grep -vF '# infrakt:backup:d-1'") < text.indexOf(`rm -f -- '${p.script}'`));
    assert.ok(text.includes(`'${p.status}'`));
  });
});

describe('crontab entry (run against a crontab stand-in: a shell function over a temp file)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-cron-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const fake = (tab: string) =>
    [
      `TAB='${tab}'`,
      'crontab() {',
      '  case "$1" in',
      `    -l) if [ -f "$TAB" ]; then cat "$TAB"; else echo "no crontab for $(id -un)" >&2; return 1; fi ;;`,
      '    -) cat > "$TAB" ;;',
      '  esac',
      '}',
    ].join('\n');
  const install = (tab: string, expr = '0 2 * * *') =>
    sh(
      'bash',
      [
        fake(tab),
        ...installCronLines({
          databaseId: 'd-1',
          expression: expr,
          scriptPath: '/opt/infrakt/backups/backup-shop.sh',
          logPath: '/opt/infrakt/backups/.status/shop.log',
        }),
      ].join('\n'),
    );

  it('adds one line, keeps the other lines, replaces its own line on a second install, removes only its own', () => {
    const tab = path.join(dir, 'tab');
    fs.writeFileSync(tab, 'MAILTO=""\n5 * * * * /usr/local/bin/other-job # infrakt:backup:d-2\n');
    assert.equal(install(tab).status, 0);
    assert.equal(install(tab).status, 0);
    assert.equal(install(tab, '0 */6 * * *').status, 0);
    const lines = fs.readFileSync(tab, 'utf8').trim().split('\n');
    assert.deepEqual(lines, [
      'MAILTO=""',
      '5 * * * * /usr/local/bin/other-job # infrakt:backup:d-2',
      '0 */6 * * * /opt/infrakt/backups/backup-shop.sh >> /opt/infrakt/backups/.status/shop.log 2>&1 # infrakt:backup:d-1',
    ]);
    const rm = sh('bash', [fake(tab), ...removeCronLines('d-1')].join('\n'));
    assert.equal(rm.status, 0, rm.stderr);
    assert.deepEqual(fs.readFileSync(tab, 'utf8').trim().split('\n'), lines.slice(0, 2));
    assert.equal(
      sh('bash', [fake(tab), ...removeCronLines('d-1')].join('\n')).status,
      0,
      'twice: nothing to do',
    );
  });

  it('with no crontab yet, creates one; an unreadable crontab is never overwritten', () => {
    const tab = path.join(dir, 'new');
    assert.equal(install(tab).status, 0);
    assert.equal(fs.readFileSync(tab, 'utf8').trim().split('\n').length, 1);
    const broken = [
      'crontab() { case "$1" in -l) echo "crontab: permission denied" >&2; return 1 ;; -) echo overwritten > ' +
        path.join(dir, 'clobbered') +
        ' ;; esac; }',
      ...installCronLines({
        databaseId: 'd-1',
        expression: '0 2 * * *',
        scriptPath: '/opt/x.sh',
        logPath: '/opt/x.log',
      }),
    ].join('\n');
    const r = sh('bash', broken);
    assert.equal(r.status, EXIT.crontab);
    assert.match(r.stderr, /cannot read the crontab: crontab: permission denied/);
    assert.ok(!fs.existsSync(path.join(dir, 'clobbered')));
  });

  it('paths in the crontab line must be plain absolute paths (cron hands the line to sh)', () => {
    for (const bad of ['/opt/x y.sh', '/opt/$(id).sh', 'relative.sh', '/opt/50%.sh'])
      assert.throws(() =>
        installCronLines({ databaseId: 'd-1', expression: '0 2 * * *', scriptPath: bad, logPath: '/opt/l' }),
      );
  });
});

describe('status records', () => {
  it('parses records, installed scripts and crontab entries from the listing output', () => {
    const out = [
      '@@infrakt:file 10 1700000000 web-1_shop_postgres_20260101T020000Z.dump.zst',
      '@@infrakt:schedstatus shop {"started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:01:00Z","ok":true,"exitCode":0,"file":"web-1_shop_postgres_20261124T020000Z.dump.zst","size":123,"sha256":"ab","uploaded":true,"deletedLocal":1,"deletedS3":0,"lastSuccess":"2026-11-24T02:01:00Z","extra":"ignored"}',
      '@@infrakt:schedstatus orders {"started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:00:09Z","ok":false,"exitCode":75,"uploaded":false,"error":"saved locally; upload to S3 failed: \\"x\\""}',
      '@@infrakt:schedstatus broken {"started":',
      '@@infrakt:schedstatus empty ',
      '@@infrakt:schedscript shop',
      '@@infrakt:schedcron 1b4e28ba-2fa1-11d2-883f-0016d3cca427 0 2 * * * /opt/infrakt/backups/backup-shop.sh >> /opt/infrakt/backups/.status/shop.log 2>&1',
    ].join('\n');
    const p = parseScheduleStatus(out);
    assert.equal(p.status.get('shop')?.ok, true);
    assert.equal(p.status.get('shop')?.size, 123);
    assert.equal(p.status.get('shop')?.lastSuccess, '2026-11-24T02:01:00Z');
    assert.equal(p.status.get('orders')?.error, 'saved locally; upload to S3 failed: "x"');
    assert.equal(p.unreadable.get('broken'), 'the status record is not valid JSON');
    assert.equal(p.unreadable.get('empty'), 'the status record is empty');
    assert.deepEqual([...p.scripts], ['shop']);
    assert.match(p.cron.get('1b4e28ba-2fa1-11d2-883f-0016d3cca427') ?? '', /^0 2 \* \* \* \/opt/);
    const health = scheduleHealth(
      '0 2 * * *',
      p.status.get('orders'),
      undefined,
      new Date('2026-11-24T03:00:00Z'),
    );
    assert.equal(health.kind, 'failed');
  });

  it('statusLines print what is on disk, one line per record (run with sh on a temp dir)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-status-'));
    try {
      fs.mkdirSync(path.join(dir, '.status'));
      fs.writeFileSync(path.join(dir, '.status', 'shop.json'), '{"started":"s",\n"ok":true}\n');
      fs.writeFileSync(path.join(dir, '.status', 'shop.log'), 'not a record');
      fs.writeFileSync(path.join(dir, 'backup-shop.sh'), '');
      const r = sh('sh', ['set -u', ...statusLines(dir), 'exit 0'].join('\n'), { PATH: '/usr/bin:/bin' });
      assert.equal(r.status, 0, r.stderr);
      const p = parseScheduleStatus(r.stdout);
      assert.deepEqual(p.status.get('shop'), { started: 's', ok: true });
      assert.equal(p.status.size, 1);
      assert.deepEqual([...p.scripts], ['shop']);
      // An empty or missing backup dir prints nothing.
      const none = sh('sh', ['set -u', ...statusLines(path.join(dir, 'nope')), 'exit 0'].join('\n'));
      assert.equal(none.status, 0);
      assert.doesNotMatch(none.stdout, /schedstatus|schedscript/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
