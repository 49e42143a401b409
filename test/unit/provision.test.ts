// Provision Server's shell functions run for real under bash, dash and busybox
// ash, with stub tools on PATH: id, sudo, the package manager, awscli and the
// database clients are stubs, so each test chooses what the server has. The
// package manager "installs" a package by putting its tool's stub on PATH.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupError } from '../../src/core/backup';
import type { Database } from '../../src/core/model';
import {
  type ProvisionReport,
  parseProvisionOutput,
  provisionScript,
  summariseProvision,
} from '../../src/core/server/provision';
import { SH } from '../../src/core/remote/modules';
import { EXIT } from '../../src/core/remote/protocol';
import { remoteScript } from '../../src/core/remote/script';
import { SHELLS, makeBin, runShell, toolPath } from '../support/stubBin';

const AWS_VERSION = 'aws-cli/2.15.0 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12';

const pg: Database = {
  id: 'd1',
  retention: {},
  serverId: 's1',
  name: 'shop',
  engine: 'postgres',
  mode: 'host',
  dbHost: 'db.internal',
  dbPort: 5433,
  dbUser: 'app',
  dbName: 'shop_prod',
  createdAt: '',
};
const mysql: Database = { ...pg, id: 'd2', name: 'blog', engine: 'mysql', dbPort: 3306, dbName: 'blog' };
const pgInContainer: Database = { ...pg, id: 'd3', name: 'c', mode: 'container', container: 'infrakt-db-c' };

/** Tools a server may have; the package manager stub copies one onto PATH to install it. */
const CATALOGUE: Record<string, string> = {
  aws: `printf '%s' "\${PGPASSWORD-}" > "$STUB_LOG/aws.pw"\necho '${AWS_VERSION}'`,
  gzip: 'exit 0',
  zstd: 'exit 0',
  age: 'exit 0',
  crontab: 'exit 0',
  docker: "echo 'Docker version 27.3.1, build ce12230'",
  pg_dump: 'echo "pg_dump (PostgreSQL) ${STUB_CV:-16}.4 (Debian ${STUB_CV:-16}.4-1.pgdg120+1)"',
  // Records its argv (NUL-separated) and its password variable; answers STUB_SV, or fails without it.
  psql: `printf '%s\\0' "$@" > "$STUB_LOG/psql.args"
printf '%s' "\${PGPASSWORD-<unset>}" > "$STUB_LOG/psql.pw"
[ -n "\${STUB_SV:-}" ] || { echo 'psql: error: connection to server failed' >&2; exit 2; }
echo "$STUB_SV"`,
  mysqldump: 'exit 0',
  curl: 'exit 0',
  wget: 'echo "GNU Wget 1.21.3 built on linux-gnu."',
};

/** busybox's wget: no --version (its usage, exit 1), and no config file to keep a token off its command line. */
const BUSYBOX_WGET =
  "echo 'wget: unrecognized option' >&2\necho 'BusyBox v1.35.0 multi-call binary.' >&2\nexit 1";

const STUBS: Record<string, string> = {
  id: 'case "$1" in -u) echo "${STUB_UID:-0}" ;; -un) echo "${STUB_USER:-root}" ;; esac',
  // Passwordless sudo when STUB_SUDO=ok; every call logged.
  sudo: `printf '%s\\n' "$*" >> "$STUB_LOG/sudo"
[ "\${STUB_SUDO:-}" = ok ] || exit 1
[ "$1" = -n ] && shift
exec "$@"`,
  sleep: 'exit 0',
};

// apt-get: `update` succeeds; `install` copies each package's tool from the
// catalogue into STUB_NEW (on PATH), or fails for a package in STUB_UNAVAILABLE.
const APT_GET = `printf '%s\\n' "$*" >> "$STUB_LOG/apt-get"
[ "$1" = update ] && exit 0
shift
for p in "$@"; do
  case "$p" in -*) continue ;; esac
  case " \${STUB_UNAVAILABLE:-} " in *" $p "*) exit 100 ;; esac
  case "$p" in awscli) t=aws ;; cron) t=crontab ;; *) t=$p ;; esac
  cp "$STUB_CATALOGUE/$t" "$STUB_NEW/$t"
done`;

const REAL = ['stat', 'mkdir', 'chmod', 'head', 'sed', 'cat', 'env', 'cp', 'true'];

function cronRunning(): boolean {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (['cron', 'crond', 'busybox-crond'].includes(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()))
        return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

describe('Provision Server: the shell functions, run with stub tools (bash, dash, busybox ash)', function () {
  this.timeout(60_000);
  let work: string;
  let base: string;
  let apt: string;
  let catalogue: string;
  let n = 0;
  const canary = () => path.join(work, 'pwned');
  const hostilePassword = () => `CANARY-Pw'd"$(touch ${canary()})\`touch ${canary()}\` ;|&`;

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-provision-'));
    base = makeBin(path.join(work, 'base'), { real: REAL, stubs: STUBS });
    apt = makeBin(path.join(work, 'apt'), { stubs: { 'apt-get': APT_GET } });
    catalogue = makeBin(path.join(work, 'catalogue'), { stubs: CATALOGUE });
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** A fresh run directory: its log, its install target, its backup dir path (not created). */
  function runDir() {
    const dir = path.join(work, `run-${++n}`);
    const log = path.join(dir, 'log');
    const installed = path.join(dir, 'installed');
    fs.mkdirSync(log, { recursive: true });
    fs.mkdirSync(installed);
    return { dir, log, installed, backupDir: path.join(dir, 'backups') };
  }

  /** A dir holding the named catalogue tools: what the server already has. */
  function has(dir: string, tools: readonly string[]): string {
    const d = path.join(dir, 'has');
    fs.mkdirSync(d);
    for (const t of tools) fs.copyFileSync(path.join(catalogue, t), path.join(d, t));
    return d;
  }

  function provision(
    shell: string[],
    o: {
      databases: readonly Database[];
      passwords?: ReadonlyMap<string, string>;
      path: readonly string[];
      env?: NodeJS.ProcessEnv;
      run: ReturnType<typeof runDir>;
      encryption?: boolean;
    },
  ) {
    const script = provisionScript({
      server: { name: 'web-1', backupDir: o.run.backupDir },
      databases: o.databases,
      passwords: o.passwords,
      encryption: o.encryption,
    });
    const r = runShell(shell, script, {
      PATH: [...o.path, o.run.installed].join(':'),
      STUB_LOG: o.run.log,
      STUB_NEW: o.run.installed,
      STUB_CATALOGUE: catalogue,
      ...o.env,
    });
    const report = parseProvisionOutput(r.stdout);
    return { ...r, report, log: (f: string) => readOr(path.join(o.run.log, f)) };
  }

  const readOr = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined);
  /** Every step but crond (whether a cron daemon runs is this machine's state; its own test below). */
  const steps = (r: ProvisionReport) =>
    r.steps.filter((s) => s.id !== 'crond').map((s) => `${s.id} ${s.status} ${s.detail}`);

  for (const [label, shell] of SHELLS) {
    describe(label, () => {
      it('a server that has everything: every step already done, nothing installed; tools only for the engines in use, no docker without a container database', () => {
        const run = runDir();
        fs.mkdirSync(run.backupDir, { mode: 0o700 });
        const r = provision(shell, {
          databases: [pg, mysql],
          path: [
            base,
            apt,
            has(run.dir, ['aws', 'gzip', 'zstd', 'crontab', 'curl', 'pg_dump', 'psql', 'mysqldump']),
          ],
          env: { STUB_SV: '160002' },
          run,
        });
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.deepEqual(steps(r.report), [
          'privileges done root',
          'package-manager done apt-get',
          `awscli done ${AWS_VERSION}`,
          'gzip done present',
          'zstd done present',
          'http-client done curl present',
          'cron done present',
          `backup-dir done ${run.backupDir} exists (0700)`,
          'tool-pg_dump done pg_dump present',
          'tool-pg_restore warn pg_restore not found: backups of postgres databases on this host need it (install the postgres client package)',
          'tool-psql done psql present',
          'tool-mariadb-dump done mariadb-dump or mysqldump present',
          'tool-mariadb warn mariadb or mysql not found: backups of mysql databases on this host need it (install the mysql client package)',
          'pgversion-shop done pg_dump 16 can dump server 16',
        ]);
        assert.equal(r.log('apt-get'), undefined, 'nothing installed');
        assert.equal(r.report.ok, true);
        assert.equal(r.report.awsCliVersion, 'aws-cli/2.15.0');
      });

      it("alerts: GNU wget is enough; a server whose only wget is busybox's gets curl (busybox wget cannot keep a token off its command line)", () => {
        const gnu = runDir();
        const withGnu = provision(shell, {
          databases: [],
          path: [base, apt, has(gnu.dir, ['wget'])],
          run: gnu,
        });
        assert.ok(
          steps(withGnu.report).includes('http-client done GNU wget present (curl is preferred for alerts)'),
          steps(withGnu.report).join('\n'),
        );
        assert.doesNotMatch(withGnu.log('apt-get') ?? '', /install .*curl/);
        const bb = runDir();
        const bin = makeBin(path.join(bb.dir, 'busybox-bin'), { stubs: { wget: BUSYBOX_WGET } });
        const withBusybox = provision(shell, { databases: [], path: [base, apt, bin], run: bb });
        assert.ok(
          steps(withBusybox.report).includes('http-client changed installed curl (alerts are sent with it)'),
          steps(withBusybox.report).join('\n'),
        );
      });

      it('a fresh server with passwordless sudo: installs through sudo (package lists read once), creates the backup dir 0700, warns that docker is missing for a container database', () => {
        const run = runDir();
        const r = provision(shell, {
          databases: [pgInContainer],
          path: [base, apt],
          env: { STUB_UID: '1000', STUB_USER: 'deploy', STUB_SUDO: 'ok', STUB_UNAVAILABLE: 'zstd' },
          run,
        });
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.deepEqual(steps(r.report), [
          'privileges done passwordless sudo',
          'package-manager done apt-get',
          `awscli changed installed ${AWS_VERSION}`,
          'gzip changed installed',
          'zstd warn zstd not available from apt-get: backups use gzip (slower, larger)',
          'http-client changed installed curl (alerts are sent with it)',
          'cron changed installed cron',
          `backup-dir changed ${run.backupDir} ready (0700)`,
          'docker warn docker not found: container-mode databases need it',
        ]);
        assert.equal(fs.statSync(run.backupDir).mode & 0o777, 0o700);
        const aptCalls = (r.log('apt-get') ?? '').trim().split('\n');
        assert.equal(aptCalls.filter((l) => l.startsWith('update')).length, 1);
        assert.equal(aptCalls[0], 'update -qq');
        assert.ok(aptCalls.includes('install -y -qq awscli'), aptCalls.join('\n'));
        const sudoCalls = (r.log('sudo') ?? '').trim().split('\n');
        assert.ok(sudoCalls.includes('-n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gzip'));
        assert.ok(sudoCalls.includes(`-n mkdir -p ${run.backupDir}`));
        assert.equal(r.report.unchanged, false);
      });

      it('with encryption on, age is installed (and said so); where it cannot be, the step fails and says where to get it', () => {
        let run = runDir();
        let r = provision(shell, {
          databases: [pg],
          path: [base, apt, has(run.dir, ['aws', 'gzip', 'zstd', 'crontab', 'curl', 'pg_dump', 'psql'])],
          run,
          encryption: true,
        });
        assert.ok(
          steps(r.report).includes('age changed installed (backups are encrypted)'),
          steps(r.report).join('\n'),
        );
        assert.ok(fs.existsSync(path.join(run.installed, 'age')));
        run = runDir();
        r = provision(shell, {
          databases: [pg],
          path: [base, apt, has(run.dir, ['aws', 'gzip', 'zstd', 'crontab', 'curl', 'pg_dump', 'psql'])],
          env: { STUB_UNAVAILABLE: 'age' },
          run,
          encryption: true,
        });
        assert.ok(
          steps(r.report).some((s) => /^age failed age not available from apt-get: .*releases/.test(s)),
          steps(r.report).join('\n'),
        );
        run = runDir();
        r = provision(shell, {
          databases: [pg],
          path: [base, apt, has(run.dir, ['aws', 'gzip', 'zstd', 'crontab', 'curl', 'pg_dump', 'psql'])],
          env: { STUB_UNAVAILABLE: 'age' },
          run,
        });
        assert.ok(!steps(r.report).some((s) => s.startsWith('age ')), 'no age step without encryption');
      });

      it('an install that fails is a failed step, never hidden; so is a backup dir that cannot be made', () => {
        const run = runDir();
        fs.writeFileSync(path.join(run.dir, 'a-file'), '');
        const r = provision(shell, {
          databases: [],
          path: [base, apt],
          env: { STUB_UNAVAILABLE: 'awscli pipx gzip zstd curl cron' },
          run: { ...run, backupDir: path.join(run.dir, 'a-file', 'backups') },
        });
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.deepEqual(steps(r.report), [
          'privileges done root',
          'package-manager done apt-get',
          'awscli failed could not install awscli with apt-get or pipx: install it by hand (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)',
          'gzip failed could not install gzip',
          'zstd warn zstd not available from apt-get: backups use gzip (slower, larger)',
          'http-client warn could not install curl with apt-get: alerts from scheduled backups cannot be sent (install curl or GNU wget; busybox wget cannot send them)',
          'cron failed could not install cron: scheduled backups need cron',
          `backup-dir failed could not create ${path.join(run.dir, 'a-file', 'backups')}`,
        ]);
        assert.equal(r.report.ok, false);
        assert.match(
          summariseProvision('web-1', r.report),
          /^Provisioning web-1 failed: awscli: could not install/,
        );
      });

      it('without root or passwordless sudo: stops at once with the provisioning code and says what to run by hand', () => {
        const run = runDir();
        const r = provision(shell, {
          databases: [pg],
          path: [base, apt, has(run.dir, ['pg_dump', 'psql'])],
          env: { STUB_UID: '1000', STUB_SV: '160002' },
          run,
        });
        assert.equal(r.code, EXIT.provision);
        assert.deepEqual(steps(r.report), [
          `privileges failed needs root or passwordless sudo. Run as root by hand: apt-get install -y awscli gzip zstd cron && mkdir -p ${run.backupDir} && chmod 700 ${run.backupDir}`,
        ]);
        assert.match(r.stderr, /infrakt: provisioning failed/);
      });

      it('without a package manager: stops after the privileges step with the provisioning code', () => {
        const run = runDir();
        const r = provision(shell, { databases: [], path: [base], run });
        assert.equal(r.code, EXIT.provision);
        assert.deepEqual(steps(r.report), [
          'privileges done root',
          'package-manager failed no apt-get, dnf, yum, apk or zypper found: install awscli, gzip and cron by hand',
        ]);
      });

      describe("PostgreSQL: pg_dump against the database's server", () => {
        const cases: [string, NodeJS.ProcessEnv, string][] = [
          [
            'a newer server: a warning naming the client to install',
            { STUB_SV: '170002', STUB_CV: '15' },
            'pgversion-shop warn pg_dump 15 is older than the server (17) for shop: install postgresql-client-17',
          ],
          [
            'an older server: done',
            { STUB_SV: '150004', STUB_CV: '16' },
            'pgversion-shop done pg_dump 16 can dump server 15',
          ],
          [
            'a server psql cannot reach: a warning naming where it looked',
            {},
            "pgversion-shop warn could not ask shop's server for its version (psql to db.internal:5433 as app failed): check the database's host, port, user and password",
          ],
          [
            'an answer that is not a number: the same warning, and the run goes on',
            { STUB_SV: '$(id)' },
            "pgversion-shop warn could not ask shop's server for its version (psql to db.internal:5433 as app failed): check the database's host, port, user and password",
          ],
        ];
        for (const [name, env, line] of cases) {
          it(name, () => {
            const run = runDir();
            const r = provision(shell, {
              databases: [pg],
              path: [base, apt, has(run.dir, ['aws', 'gzip', 'zstd', 'crontab', 'curl', 'pg_dump', 'psql'])],
              env,
              run,
            });
            assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
            assert.deepEqual(
              steps(r.report).filter((s) => s.startsWith('pgversion-')),
              [line],
            );
          });
        }

        it('the stored password reaches psql only as its environment, verbatim, and nothing in it runs', () => {
          const run = runDir();
          const pw = hostilePassword();
          const r = provision(shell, {
            databases: [pg],
            passwords: new Map([[pg.id, pw]]),
            path: [base, apt, has(run.dir, ['aws', 'gzip', 'zstd', 'crontab', 'curl', 'pg_dump', 'psql'])],
            env: { STUB_SV: '160002' },
            run,
          });
          assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
          assert.deepEqual(r.log('psql.args')?.split('\0').slice(0, -1), [
            '-X',
            '-w',
            '-h',
            'db.internal',
            '-p',
            '5433',
            '-U',
            'app',
            '-d',
            'shop_prod',
            '-Atqc',
            'show server_version_num',
          ]);
          assert.equal(r.log('psql.pw'), pw);
          assert.equal(r.log('aws.pw'), '', 'the base steps never see it');
          assert.equal(fs.existsSync(canary()), false);
        });

        it('no stored password: psql gets none; a container database is not asked', () => {
          const run = runDir();
          const r = provision(shell, {
            databases: [pg, pgInContainer],
            path: [
              base,
              apt,
              has(run.dir, ['aws', 'gzip', 'zstd', 'crontab', 'curl', 'pg_dump', 'psql', 'docker']),
            ],
            env: { STUB_SV: '160002' },
            run,
          });
          assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
          assert.equal(r.log('psql.pw'), '<unset>');
          assert.deepEqual(
            steps(r.report).filter((s) => /^(pgversion|docker)/.test(s)),
            [
              'docker done Docker version 27.3.1, build ce12230',
              'pgversion-shop done pg_dump 16 can dump server 16',
            ],
          );
        });

        it('without pg_dump the check says nothing (the tool step warns)', () => {
          const run = runDir();
          const r = provision(shell, {
            databases: [pg],
            path: [base, apt, has(run.dir, ['aws', 'gzip', 'zstd', 'crontab', 'curl', 'psql'])],
            env: { STUB_SV: '160002' },
            run,
          });
          assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
          assert.equal(r.report.steps.filter((s) => s.id.startsWith('pgversion-')).length, 0);
          assert.equal(r.report.steps.find((s) => s.id === 'tool-pg_dump')?.status, 'warn');
        });
      });

      it("an engine's check that breaks half-way is a warning, never a failed run", () => {
        const script = remoteScript({
          vars: { infrakt_provision_db: 'shop' },
          modules: [
            SH.step,
            { name: 'broken', text: 'infrakt_db_check() {\n  echo "$infrakt_not_set"\n  echo never\n}' },
          ],
          call: 'infrakt_provision_check',
        });
        const r = runShell(shell, script, { PATH: base });
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.deepEqual(parseProvisionOutput(r.stdout).steps, [
          {
            id: 'check-shop',
            status: 'warn',
            detail: 'the check of shop stopped before it finished: its first backup will show why',
          },
        ]);
        assert.doesNotMatch(r.stdout, /never/);
      });

      it('crond: running → done; else started with service (changed), or a warning when nothing can start it', () => {
        const crond = (extra: string[]) => {
          const run = runDir();
          const r = provision(shell, {
            databases: [],
            path: [base, apt, has(run.dir, ['aws', 'gzip', 'zstd', 'crontab', 'curl']), ...extra],
            run,
          });
          assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
          return { step: r.report.steps.find((s) => s.id === 'crond') };
        };
        if (cronRunning()) {
          assert.deepEqual(crond([]).step, { id: 'crond', status: 'done', detail: 'running' });
          return;
        }
        assert.deepEqual(crond([]).step, {
          id: 'crond',
          status: 'warn',
          detail:
            'the cron daemon is not running and could not be started: schedules will not run until it is (e.g. systemctl enable --now cron)',
        });
        // `service cron start` starts a stand-in daemon: a copy of sleep named cron.
        const daemon = path.join(work, `daemon-${n}`, 'cron');
        fs.mkdirSync(path.dirname(daemon));
        fs.copyFileSync(toolPath('sleep'), daemon);
        fs.chmodSync(daemon, 0o755);
        const service = makeBin(path.join(work, `service-${n}`), {
          stubs: {
            service: `[ "$1 $2" = 'cron start' ] || exit 1
'${daemon}' 30 </dev/null >/dev/null 2>&1 &
echo $! > '${path.dirname(daemon)}/pid'
while [ "$(cat /proc/$!/comm 2>/dev/null)" != cron ]; do :; done`,
          },
        });
        try {
          assert.deepEqual(crond([service]).step, {
            id: 'crond',
            status: 'changed',
            detail: 'started the cron daemon',
          });
        } finally {
          const pidFile = path.join(path.dirname(daemon), 'pid');
          const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
          if (pid > 0) process.kill(pid);
        }
      });
    });
  }
});

describe('Provision Server: every database is checked before any script exists', () => {
  const server = { name: 'web-1', backupDir: '/opt/infrakt/backups' };
  const canary = path.join(os.tmpdir(), 'infrakt-provision-canary');
  const cases: [string, Partial<Database>, RegExp][] = [
    [
      'a name with a command',
      { name: `shop$(touch ${canary})` },
      /^Database name: Database name may use letters/,
    ],
    ['a host with a command', { dbHost: `$(touch ${canary})` }, /^Database host: Host must be a hostname/],
    ['a host as an option', { dbHost: '-oProxyCommand=x' }, /^Database host: /],
    ['a dbName with a command', { dbName: 'x$(id)' }, /^Database name on the server: /],
    ['a user with a quote', { dbUser: "root'" }, /^Database user: User may use/],
    ['a port out of range', { dbPort: 70000 }, /^Database port: Port must be 1–65535/],
    [
      'a container with a command',
      { mode: 'container', container: `c;touch ${canary}` },
      /^Container name: Container name must start with a letter or digit/,
    ],
  ];
  for (const [name, over, message] of cases) {
    it(`refuses ${name}, with the field's message`, () => {
      assert.throws(
        () => provisionScript({ server, databases: [pg, { ...pg, id: 'd9', ...over }] }),
        (e: unknown) => e instanceof BackupError && e.kind === 'invalid-input' && message.test(e.message),
      );
      assert.equal(fs.existsSync(canary), false);
    });
  }

  it('refuses a backup dir or a server name that is not safe', () => {
    assert.throws(
      () => provisionScript({ server: { ...server, backupDir: '/tmp/x; rm -rf /' }, databases: [] }),
      /Backup directory: /,
    );
    assert.throws(
      () => provisionScript({ server: { ...server, name: 'a b' }, databases: [] }),
      /Server name: /,
    );
  });
});

describe('Provision Server: the report', () => {
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
