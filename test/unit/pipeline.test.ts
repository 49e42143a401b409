// The backup pipeline's shell functions run for real under bash, dash and
// busybox ash, once per engine × mode, with stub database tools that record
// the argv and the password variable they were started with. What each
// engine's module hands its tool, and that the password reaches it only
// through the environment (or the config fifo) — never argv, never disk.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupError, type BackupTarget, backUpNow, restoreBackup } from '../../src/core/backup';
import { ENGINE_SPECS } from '../../src/core/engines';

/** Engines reached over the network, with host and container modes (a file engine has its own tests). */
const NETWORK = ENGINE_SPECS.filter((e) => e.location === 'network').map((e) => e.id);
type Engine = (typeof NETWORK)[number];
import { createDockerStandIn, type DockerStandIn } from '../world/dockerStandIn';
import { localRunner } from '../world/localRunner';

const CANARY = `CANARY-Pw'd"$(touch /tmp/infrakt-canary)\`x\` ;|&`;
const CONTAINER_PW = "ctr-pw-'quoted' $x";
const have = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
const shells: [string, string[]][] = (
  [
    ['bash', ['bash', '-s']],
    ['dash', ['dash', '-s']],
    ['busybox ash', ['busybox', 'ash', '-s']],
  ] as [string, string[]][]
).filter(([, cmd]) => have(cmd[0]));

/** Each stub logs its argv (NUL-separated) and its password variable, then writes a dump. */
const STUB = (tool: string, pwVar: string) => `#!/bin/sh
# The row counts taken beside a backup (redis-cli INFO keyspace) are not the dump: not logged.
case " $* " in *" INFO keyspace "*) exit 0 ;; esac
log="$STUB_LOG/${tool}"
printf '%s\\0' "$@" > "$log.args"
printf '%s' "\${${pwVar}:-}" > "$log.pw"
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --rdb) out=$2; shift ;;
    --config) cat "$2" > "$log.config" ;;
  esac
  shift
done
case "${tool}" in pg_restore | psql | mariadb | mongorestore) cat > "$log.stdin"; exit 0 ;; esac
if [ -n "$out" ]; then printf 'REDIS0011-stub-dump' > "$out"; else printf '%s-stub-dump' "${tool}"; fi
`;

/** Restore tools (Redis restores by replication or a file swap: the integration tests run it for real). */
const RESTORE_TOOLS: Partial<Record<Engine, { tool: string; pw: string }>> = {
  postgres: { tool: 'pg_restore', pw: 'PGPASSWORD' },
  mysql: { tool: 'mariadb', pw: 'MYSQL_PWD' },
  mongodb: { tool: 'mongorestore', pw: 'INFRAKT_MONGO_PASSWORD' },
};

const TOOLS: Record<Engine, { tool: string; pw: string }> = {
  postgres: { tool: 'pg_dump', pw: 'PGPASSWORD' },
  mysql: { tool: 'mariadb-dump', pw: 'MYSQL_PWD' },
  redis: { tool: 'redis-cli', pw: 'REDISCLI_AUTH' },
  mongodb: { tool: 'mongodump', pw: 'INFRAKT_MONGO_PASSWORD' },
};

/** mongodump/mongorestore's connection and auth arguments in host mode (the config fifo's path as the tool got it). */
const mongoHost = (config: string) => [
  '--host',
  '127.0.0.1',
  '--port',
  '5555',
  '--username',
  'app',
  '--authenticationDatabase',
  'admin',
  '--config',
  config,
];

describe('the backup pipeline per engine and mode, run with stub tools (bash, dash, busybox ash)', function () {
  this.timeout(60_000);
  let work: string;
  let stubs: string;
  let docker: DockerStandIn;
  let n = 0;

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-pipeline-'));
    stubs = path.join(work, 'stubs');
    fs.mkdirSync(stubs);
    for (const { tool, pw } of [...Object.values(TOOLS), ...Object.values(RESTORE_TOOLS)])
      fs.writeFileSync(path.join(stubs, tool), STUB(tool, pw), { mode: 0o755 });
    docker = createDockerStandIn(
      NETWORK.map((e) => ({
        name: `db-${e}`,
        image: e,
        env: {
          POSTGRES_USER: 'ctr_user',
          POSTGRES_PASSWORD: CONTAINER_PW,
          POSTGRES_DB: 'ctr_db',
          MYSQL_USER: 'ctr_user',
          MYSQL_PASSWORD: CONTAINER_PW,
          MYSQL_DATABASE: 'ctr_db',
          REDIS_PASSWORD: CONTAINER_PW,
          MONGO_INITDB_ROOT_USERNAME: 'ctr_root',
          MONGO_INITDB_ROOT_PASSWORD: CONTAINER_PW,
          STUB_LOG: path.join(work, 'container-log'),
        },
      })),
    );
    fs.mkdirSync(path.join(work, 'container-log'));
  });
  after(() => {
    docker?.remove();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const runnerFor = (shell: string[], log: string, env: NodeJS.ProcessEnv = {}) =>
    localRunner({ shell, env: { ...process.env, PATH: `${stubs}:${docker.path}`, STUB_LOG: log, ...env } });

  function run(shell: string[], t: BackupTarget, log: string) {
    return backUpNow(runnerFor(shell, log), t);
  }

  const read = (log: string, tool: string) => ({
    args: fs
      .readFileSync(path.join(log, `${tool}.args`), 'utf8')
      .split('\0')
      .slice(0, -1),
    pw: fs.readFileSync(path.join(log, `${tool}.pw`), 'utf8'),
    config: fs.existsSync(path.join(log, `${tool}.config`))
      ? fs.readFileSync(path.join(log, `${tool}.config`), 'utf8')
      : undefined,
  });

  /** The file, its .sha256, and the stub's bytes inside (decompressed unless mongodump's own gzip). */
  function assertCommitted(dir: string, file: string, engine: Engine) {
    const bytes = fs.readFileSync(path.join(dir, file));
    const sum = fs.readFileSync(path.join(dir, `${file}.sha256`), 'utf8');
    assert.equal(sum, `${crypto.createHash('sha256').update(bytes).digest('hex')}  ${file}\n`);
    if (engine === 'mongodb') assert.equal(bytes.toString(), 'mongodump-stub-dump');
    else {
      const plain = spawnSync(file.endsWith('.zst') ? 'zstd' : 'gzip', ['-dc'], { input: bytes }).stdout;
      assert.match(plain.toString(), /stub-dump$/);
    }
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.partial')),
      [],
    );
  }

  for (const [shellName, shell] of shells) {
    describe(shellName, () => {
      for (const engine of NETWORK) {
        const { tool } = TOOLS[engine];
        it(`${engine}, host mode: the tool's argv, the password only in its environment`, async () => {
          const log = path.join(work, `log-${++n}`);
          fs.mkdirSync(log);
          const dir = path.join(work, `b-${n}`);
          const t: BackupTarget = {
            server: { name: 'web-1', backupDir: dir },
            database: {
              name: 'shop',
              engine,
              mode: 'host',
              dbHost: '127.0.0.1',
              dbPort: 5555,
              dbUser: 'app',
              dbName: 'shop',
            },
            password: { kind: 'inline', password: CANARY },
          };
          const r = await run(shell, t, log);
          assertCommitted(dir, r.file, engine);
          const got = read(log, tool);
          const expected: Record<Engine, string[]> = {
            postgres: ['-Fc', '-Z0', '-h', '127.0.0.1', '-p', '5555', '-U', 'app', '-d', 'shop'],
            mysql: [
              '--single-transaction',
              '--routines',
              '--triggers',
              '--no-tablespaces',
              '-h',
              '127.0.0.1',
              '-P',
              '5555',
              '-u',
              'app',
              'shop',
            ],
            redis: [
              '-h',
              '127.0.0.1',
              '-p',
              '5555',
              '--user',
              'app',
              '--rdb',
              `${dir}/${r.file}.partial-raw`,
            ],
            mongodb: [...mongoHost(got.args[9] ?? ''), '--db', 'shop', '--archive', '--gzip'],
          };
          assert.deepEqual(got.args, expected[engine]);
          if (engine === 'mongodb') {
            // The fifo's content: YAML single-quoted, its quotes doubled; the variable itself is unset.
            assert.equal(got.config, `password: '${CANARY.replace(/'/g, "''")}'\n`);
          } else assert.equal(got.pw, CANARY);
          assert.ok(!got.args.some((a) => a.includes('CANARY')), 'no secret in argv');
          assert.ok(!fs.existsSync('/tmp/infrakt-canary'), 'the canary ran as a command');
        });

        it(`${engine}, container mode (docker stand-in): the container's own env, nothing of ours`, async () => {
          const log = path.join(work, 'container-log');
          for (const f of fs.readdirSync(log)) fs.rmSync(path.join(log, f));
          const dir = path.join(work, `b-${++n}`);
          const t: BackupTarget = {
            server: { name: 'web-1', backupDir: dir },
            database: { name: 'shop', engine, mode: 'container', container: `db-${engine}` },
          };
          const r = await run(shell, t, log);
          assertCommitted(dir, r.file, engine);
          const got = read(log, tool);
          const expected: Record<Engine, string[]> = {
            postgres: ['-Fc', '-Z0', '-U', 'ctr_user', '-d', 'ctr_db'],
            mysql: [
              '--single-transaction',
              '--routines',
              '--triggers',
              '--no-tablespaces',
              '-u',
              'ctr_user',
              'ctr_db',
            ],
            redis: ['--rdb', got.args[1] ?? ''],
            mongodb: [
              '--username',
              'ctr_root',
              '--authenticationDatabase',
              'admin',
              '--config',
              got.args[5] ?? '',
              '--archive',
              '--gzip',
            ],
          };
          assert.deepEqual(got.args, expected[engine]);
          if (engine === 'mongodb')
            assert.equal(got.config, `password: '${CONTAINER_PW.replace(/'/g, "''")}'\n`);
          else assert.equal(got.pw, CONTAINER_PW);
          const call = docker.calls().at(-1) ?? [];
          assert.deepEqual(call.slice(0, 4), ['exec', `db-${engine}`, 'sh', '-c']);
          assert.ok(!call.some((a) => a.includes(CONTAINER_PW)), 'no secret in docker argv');
        });
      }

      for (const [engine, rt] of Object.entries(RESTORE_TOOLS) as [Engine, { tool: string }][]) {
        for (const mode of ['host', 'container'] as const) {
          it(`${engine}, ${mode} mode: restore checks the sha256, then feeds the dump to ${rt.tool}`, async () => {
            const log =
              mode === 'container' ? path.join(work, 'container-log') : path.join(work, `log-${++n}`);
            fs.mkdirSync(log, { recursive: true });
            for (const f of fs.readdirSync(log)) fs.rmSync(path.join(log, f));
            const dir = path.join(work, `r-${++n}`);
            const t: BackupTarget =
              mode === 'host'
                ? {
                    server: { name: 'web-1', backupDir: dir },
                    database: {
                      name: 'shop',
                      engine,
                      mode,
                      dbHost: '127.0.0.1',
                      dbPort: 5555,
                      dbUser: 'app',
                      dbName: 'shop',
                    },
                    password: { kind: 'inline', password: CANARY },
                  }
                : {
                    server: { name: 'web-1', backupDir: dir },
                    database: { name: 'shop', engine, mode, container: `db-${engine}` },
                  };
            const b = await run(shell, t, log);
            // The backup asked the database for its size with the same client (MySQL's): forget that run.
            for (const f of fs.readdirSync(log)) fs.rmSync(path.join(log, f));
            // A flipped byte: refused before the tool runs.
            const file = path.join(dir, b.file);
            const good = fs.readFileSync(file);
            const bad = Buffer.from(good);
            bad[bad.length - 1] ^= 1;
            fs.writeFileSync(file, bad);
            await assert.rejects(
              restoreBackup(runnerFor(shell, log), t, b.file),
              (e: Error) => e instanceof BackupError && e.kind === 'checksum-mismatch',
            );
            assert.ok(!fs.existsSync(path.join(log, `${rt.tool}.args`)), `${rt.tool} ran before the check`);
            fs.writeFileSync(file, good);
            const r = await restoreBackup(runnerFor(shell, log), t, b.file);
            assert.equal(r.verified, true);
            const got = read(log, rt.tool);
            const stdin = fs.readFileSync(path.join(log, `${rt.tool}.stdin`));
            const expected: Record<string, string[]> = {
              'postgres host': [
                '--clean',
                '--if-exists',
                '--no-owner',
                '--single-transaction',
                '-h',
                '127.0.0.1',
                '-p',
                '5555',
                '-U',
                'app',
                '-d',
                'shop',
              ],
              'postgres container': [
                '--clean',
                '--if-exists',
                '--no-owner',
                '--single-transaction',
                '-U',
                'ctr_user',
                '-d',
                'ctr_db',
              ],
              'mysql host': ['-h', '127.0.0.1', '-P', '5555', '-u', 'app', 'shop'],
              'mysql container': ['-u', 'ctr_user', 'ctr_db'],
              'mongodb host': [...mongoHost(got.args[9] ?? ''), '--drop', '--archive', '--gzip'],
              'mongodb container': [
                '--username',
                'ctr_root',
                '--authenticationDatabase',
                'admin',
                '--config',
                got.args[5] ?? '',
                '--drop',
                '--archive',
                '--gzip',
              ],
            };
            assert.deepEqual(got.args, expected[`${engine} ${mode}`]);
            // The dump as it was written: decompressed, except mongorestore's own --gzip archive.
            assert.equal(stdin.toString(), `${TOOLS[engine].tool}-stub-dump`);
            const pw = mode === 'host' ? CANARY : CONTAINER_PW;
            if (engine === 'mongodb') assert.equal(got.config, `password: '${pw.replace(/'/g, "''")}'\n`);
            else assert.equal(got.pw, pw);
            assert.ok(
              !got.args.some((a) => a.includes('CANARY') || a.includes(CONTAINER_PW)),
              'no secret in argv',
            );
          });
        }
      }

      it('postgres, a password file: sourced at run time, not in the script', async () => {
        const log = path.join(work, `log-${++n}`);
        fs.mkdirSync(log);
        const pwFile = path.join(work, `pw-${n}.env`);
        fs.writeFileSync(pwFile, "PGPASSWORD='from-the-file'\nexport PGPASSWORD\n", { mode: 0o600 });
        const dir = path.join(work, `b-${n}`);
        const runner = localRunner({
          shell,
          env: { ...process.env, PATH: `${stubs}:${docker.path}`, STUB_LOG: log },
        });
        const t: BackupTarget = {
          server: { name: 'web-1', backupDir: dir },
          database: { name: 'shop', engine: 'postgres', mode: 'host', dbHost: '127.0.0.1', dbPort: 5555 },
          password: { kind: 'file', path: pwFile },
        };
        await backUpNow(runner, t);
        assert.equal(read(log, 'pg_dump').pw, 'from-the-file');
        assert.ok(!runner.scripts.at(-1)?.includes('from-the-file'));
      });
    });
  }
});
