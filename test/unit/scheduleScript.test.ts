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
import type { S3Credentials } from '../../src/core/s3/scripts';
import { EXIT } from '../../src/core/remote/protocol';
import { SH } from '../../src/core/remote/modules';
import { engineSpec } from '../../src/core/engines';
import { cronLine, scheduleHealth } from '../../src/core/schedule/cron';
import { localListingScript } from '../../src/core/backup/serverListing';
import { remoteScript } from '../../src/core/remote/script';
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
  unscheduleScript,
} from '../../src/core/schedule/script';

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
  retention: { local: { within: 7 }, s3: { last: 5 } },
  s3: { settings },
  ...over,
});

function sh(shell: string, script: string, env: NodeJS.ProcessEnv = {}) {
  const [cmd, ...args] = shell === 'busybox' ? ['busybox', 'sh'] : [shell];
  return spawnSync(cmd, [...args, '-s'], {
    input: script,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
}

/** The shells the remote library runs under: bash (Back Up Now), dash (cron's sh), busybox ash (Alpine). */
const SHELLS = ['bash', 'sh', 'busybox'] as const;

/** A crontab stand-in over a temp file, defined before a script: `-l` prints it (or fails as "no crontab"), `-` replaces it. */
const fakeCrontab = (tab: string) =>
  [
    'crontab() {',
    '  case "$1" in',
    `    -l) if [ -f '${tab}' ]; then cat '${tab}'; else echo "no crontab for $(id -un)" >&2; return 1; fi ;;`,
    `    -) cat > '${tab}' ;;`,
    '  esac',
    '}',
  ].join('\n');

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
    const pipeline = backupScript(target(), { progressInterval: 60, sweepEverySeconds: 0 });
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
    assert.throws(() => scheduledBackupScript(opts({ retention: { local: { within: 0 } } })), BackupError);
    assert.throws(() => scheduledBackupScript(opts({ retention: { local: { within: 1.5 } } })), BackupError);
    assert.throws(
      () => scheduledBackupScript(opts({ retention: { local: { within: 7 }, s3: { last: 1001 } } })),
      BackupError,
    );
    assert.throws(
      () => scheduledBackupScript(opts({ retention: {} })),
      /needs a retention rule on the server/,
    );
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

  it('carries the database’s retention policy for the pipeline to apply (an S3 rule only when asked for)', () => {
    const text = scheduledBackupScript(opts());
    assert.ok(
      text.includes("\ninfrakt_ret_local='last=0 within=7 daily=0 weekly=0 monthly=0 yearly=0'\n") &&
        text.includes("\ninfrakt_ret_s3='last=5 within=0 daily=0 weekly=0 monthly=0 yearly=0'\n"),
    );
    assert.equal(text.split(SH.retention.text.trimEnd()).length, 2, 'the retention module, once');
    assert.ok(
      scheduledBackupScript(opts({ retention: { local: { within: 3 } } })).includes("\ninfrakt_ret_s3=''\n"),
    );
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
    // The secret is only the value of one preamble variable, which printf (a builtin) writes to the file.
    const at = script.indexOf('\ninfrakt_secret_text=');
    const end = script.indexOf('\n', script.indexOf('aws_secret_access_key', at) + 1);
    assert.ok(at > 0 && end > at);
    assert.ok(!`${script.slice(0, at)}${script.slice(end)}`.includes('s3cr'), 'the secret is nowhere else');
    assert.match(SH.scheduleAdmin.text, /printf '%s' "\$infrakt_secret_text" >"\$infrakt_tmp"/);
    assert.throws(() => credentialsFileScript(settings, 'has space', path.join(dir, 'c')), /Secret key/);
    assert.throws(() => credentialsFileScript(settings, '', path.join(dir, 'c')), /required/);
  });

  it('refuses a credentials dir that belongs to someone else or is a symlink', () => {
    fs.symlinkSync(os.tmpdir(), path.join(dir, 'link'));
    const r = sh('sh', credentialsFileScript(settings, 'x', path.join(dir, 'link', 'credentials')));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /symbolic link/);
  });

  it('the password file, sourced, gives the engine its password exactly (written by bash, dash and busybox)', () => {
    const pw = `p'w"$(touch /tmp/infrakt-canary)\`x\`\n;|&\\ 'end' `;
    for (const shell of SHELLS) {
      const file = path.join(dir, `${shell}.env`);
      const r = sh(shell, passwordFileScript('postgres', pw, file));
      assert.equal(r.status, 0, `${shell}: ${r.stderr}`);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const got = spawnSync('sh', ['-c', `. '${file}'; printf '%s' "$PGPASSWORD"`], { encoding: 'utf8' });
      assert.equal(got.stdout, pw, shell);
      assert.match(sh(shell, passwordFileScript('postgres', pw, file)).stdout, /"changed":false/, shell);
    }
    assert.ok(!fs.existsSync('/tmp/infrakt-canary'));
  });
});

describe('install and unschedule (run under bash, dash and busybox, crontab stood in for)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-install-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const local = (): ScheduledBackupOptions => ({
    ...opts(),
    target: { ...target(), server: { name: 'web-1', backupDir: path.join(dir, 'backups') } },
    s3: { settings, credentialsPath: path.join(dir, 'aws', 'credentials') },
  });

  it('install writes the script atomically (syntax-checked, 0700) and its marked crontab line; twice changes nothing; unschedule removes both', () => {
    for (const shell of SHELLS) {
      const tab = path.join(dir, `tab-${shell}`);
      fs.writeFileSync(tab, 'MAILTO=""\n');
      const o = local();
      const p = schedulePaths(o.target.server.backupDir, 'shop');
      const install = `${fakeCrontab(tab)}\n${installScheduleScript({ ...o, databaseId: 'd-1', expression: '0  2 * * *' })}`;
      const r1 = sh(shell, install);
      assert.equal(r1.status, 0, `${shell}: ${r1.stderr}`);
      const res = parseInstallResult(r1.stdout);
      assert.deepEqual(
        res && { script: res.script, changed: res.changed, cron: res.cron },
        { script: p.script, changed: true, cron: '0 2 * * *' },
        shell,
      );
      assert.ok(
        res?.warnings.some((w) => w.includes('the S3 credentials file') && w.includes('is missing')),
        `${shell}: warns about the missing credentials file`,
      );
      assert.equal(fs.readFileSync(p.script, 'utf8'), scheduledBackupScript(o));
      assert.equal(fs.statSync(p.script).mode & 0o777, 0o700);
      assert.deepEqual(
        fs.readdirSync(path.dirname(p.script)).sort(),
        ['.status', 'backup-shop.sh'],
        'no temp file',
      );
      const line = `0 2 * * * ${p.script} >> ${p.log} 2>&1 # infrakt:backup:d-1`;
      assert.equal(fs.readFileSync(tab, 'utf8'), `MAILTO=""\n${line}\n`);
      const r2 = sh(shell, install);
      assert.equal(r2.status, 0, r2.stderr);
      assert.equal(
        parseInstallResult(r2.stdout)?.changed,
        false,
        `${shell}: the second install changes nothing`,
      );
      assert.equal(fs.readFileSync(tab, 'utf8'), `MAILTO=""\n${line}\n`);

      fs.writeFileSync(p.status, '{}');
      fs.writeFileSync(p.log, 'log');
      const un = `${fakeCrontab(tab)}\n${unscheduleScript({ databaseId: 'd-1', backupDir: o.target.server.backupDir, databaseName: 'shop' })}`;
      const r3 = sh(shell, un);
      assert.equal(r3.status, 0, r3.stderr);
      assert.equal(fs.readFileSync(tab, 'utf8'), 'MAILTO=""\n');
      assert.ok(!fs.existsSync(p.script) && !fs.existsSync(p.status), shell);
      assert.ok(fs.existsSync(p.log), 'the log stays, for the record');
      assert.equal(sh(shell, un).status, 0, `${shell}: twice: nothing to do`);
      fs.rmSync(path.join(dir, 'backups'), { recursive: true });
    }
    assert.throws(
      () => installScheduleScript({ ...opts(), databaseId: 'd-1', expression: '0 2 * *' }),
      /5 fields/,
    );
    assert.throws(() => installScheduleScript({ ...opts(), databaseId: 'd 1', expression: '0 2 * * *' }));
  });

  it('a script the server cannot parse is refused and the old one stays', () => {
    const o = local();
    const p = schedulePaths(o.target.server.backupDir, 'shop');
    fs.mkdirSync(path.dirname(p.script), { recursive: true });
    fs.writeFileSync(p.script, 'old\n');
    const tab = path.join(dir, 'tab');
    // A server whose sh rejects everything: the syntax check must stop the install.
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'bin', 'sh'), '#!/bin/bash\nexit 2\n', { mode: 0o755 });
    const r = sh(
      'bash',
      `${fakeCrontab(tab)}\n${installScheduleScript({ ...o, databaseId: 'd-1', expression: '0 2 * * *' })}`,
      {
        PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
      },
    );
    assert.equal(r.status, EXIT.scriptInvalid, r.stderr);
    assert.equal(fs.readFileSync(p.script, 'utf8'), 'old\n');
    assert.ok(!fs.existsSync(tab), 'the crontab was not touched');
    assert.deepEqual(
      fs.readdirSync(path.dirname(p.script)).sort(),
      ['.status', 'backup-shop.sh'],
      'no temp file',
    );
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
});

describe('crontab entry (run against a crontab stand-in: a shell function over a temp file)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-cron-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const entry = (expr = '0 2 * * *') =>
    cronLine({
      databaseId: 'd-1',
      expression: expr,
      scriptPath: '/opt/infrakt/backups/backup-shop.sh',
      logPath: '/opt/infrakt/backups/.status/shop.log',
    });
  const cronScript = (call: 'infrakt_cron_install' | 'infrakt_cron_remove', expr?: string) => {
    const e = entry(expr);
    return remoteScript({
      vars: { infrakt_cron_line: e.line, infrakt_cron_marker: e.marker },
      modules: [SH.scheduleAdmin],
      call,
    });
  };
  const install = (shell: string, tab: string, expr?: string) =>
    sh(shell, `${fakeCrontab(tab)}\n${cronScript('infrakt_cron_install', expr)}`);
  const remove = (shell: string, tab: string) =>
    sh(shell, `${fakeCrontab(tab)}\n${cronScript('infrakt_cron_remove')}`);

  it('adds one line, keeps the other lines, replaces its own line on a second install, removes only its own', () => {
    for (const shell of SHELLS) {
      const tab = path.join(dir, `tab-${shell}`);
      fs.writeFileSync(tab, 'MAILTO=""\n5 * * * * /usr/local/bin/other-job # infrakt:backup:d-2\n');
      assert.equal(install(shell, tab).status, 0, shell);
      assert.equal(install(shell, tab).status, 0, shell);
      assert.equal(install(shell, tab, '0 */6 * * *').status, 0, shell);
      const lines = fs.readFileSync(tab, 'utf8').trim().split('\n');
      assert.deepEqual(lines, [
        'MAILTO=""',
        '5 * * * * /usr/local/bin/other-job # infrakt:backup:d-2',
        '0 */6 * * * /opt/infrakt/backups/backup-shop.sh >> /opt/infrakt/backups/.status/shop.log 2>&1 # infrakt:backup:d-1',
      ]);
      const rm = remove(shell, tab);
      assert.equal(rm.status, 0, rm.stderr);
      assert.deepEqual(fs.readFileSync(tab, 'utf8').trim().split('\n'), lines.slice(0, 2));
      assert.equal(remove(shell, tab).status, 0, `${shell}: twice: nothing to do`);
    }
  });

  it('with no crontab yet, creates one; an unreadable crontab is never overwritten', () => {
    for (const shell of SHELLS) {
      const tab = path.join(dir, `new-${shell}`);
      assert.equal(install(shell, tab).status, 0);
      assert.equal(fs.readFileSync(tab, 'utf8').trim().split('\n').length, 1);
      const clobbered = path.join(dir, 'clobbered');
      const broken = [
        `crontab() { case "$1" in -l) echo "crontab: permission denied" >&2; return 1 ;; -) echo overwritten > ${clobbered} ;; esac; }`,
        cronScript('infrakt_cron_install'),
      ].join('\n');
      const r = sh(shell, broken);
      assert.equal(r.status, EXIT.crontab, shell);
      assert.match(r.stderr, /cannot read the crontab: crontab: permission denied/);
      assert.ok(!fs.existsSync(clobbered));
    }
  });

  it('paths in the crontab line must be plain absolute paths (cron hands the line to sh)', () => {
    for (const bad of ['/opt/x y.sh', '/opt/$(id).sh', 'relative.sh', '/opt/50%.sh'])
      assert.throws(() =>
        cronLine({ databaseId: 'd-1', expression: '0 2 * * *', scriptPath: bad, logPath: '/opt/l' }),
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

  it('the listing prints what is on disk, one line per record (run with sh on a temp dir)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-status-'));
    try {
      fs.mkdirSync(path.join(dir, '.status'));
      fs.writeFileSync(path.join(dir, '.status', 'shop.json'), '{"started":"s",\n"ok":true}\n');
      fs.writeFileSync(path.join(dir, '.status', 'shop.log'), 'not a record');
      fs.writeFileSync(path.join(dir, 'backup-shop.sh'), '');
      const listing = (d: string) => localListingScript({ name: 'web-1', backupDir: d }, { schedules: true });
      const r = sh('sh', listing(dir), { PATH: '/usr/bin:/bin' });
      assert.equal(r.status, 0, r.stderr);
      const p = parseScheduleStatus(r.stdout);
      assert.deepEqual(p.status.get('shop'), { started: 's', ok: true });
      assert.equal(p.status.size, 1);
      assert.deepEqual([...p.scripts], ['shop']);
      // An empty or missing backup dir prints nothing.
      const none = sh('sh', listing(path.join(dir, 'nope')));
      assert.equal(none.status, 0);
      assert.doesNotMatch(none.stdout, /schedstatus|schedscript/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
