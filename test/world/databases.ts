// Real database servers for integration tests and the benchmark: PostgreSQL,
// MariaDB and Redis, each in its own temp dir on a free 127.0.0.1 port, with a
// password (so the scripts' env-only password passing is exercised for real).
// Every start() cleans up after itself when it fails; stop() is idempotent.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackupDatabase } from '../../src/core/backup';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `check` until it returns true; throws with `what` after `timeoutMs`. No fixed sleeps. */
export async function until(
  what: string,
  check: () => boolean,
  timeoutMs = 30_000,
  stepMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    env: opts.env ?? process.env,
    input: opts.input,
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

export interface Postgres {
  host: '127.0.0.1';
  port: number;
  user: 'postgres';
  password: string;
  dir: string;
  /** Runs SQL with psql (tuples only, unaligned) and returns stdout. */
  sql(sql: string, db?: string): string;
  createDatabase(name: string): void;
  stop(): void;
}

/** A database of this cluster as a host-mode backup sees it: the superuser over loopback. */
export function hostDatabase(pg: Pick<Postgres, 'port'>, name: string): BackupDatabase & { dbName: string } {
  return {
    name,
    engine: 'postgres',
    mode: 'host',
    dbHost: '127.0.0.1',
    dbPort: pg.port,
    dbUser: 'postgres',
    dbName: name,
  };
}

export interface PostgresOptions {
  /**
   * A fixed directory instead of a fresh temp dir (the sandbox): the cluster is created in
   * <dir>/data only when missing and kept by stop(), which then shuts down cleanly (fast mode).
   */
  dir?: string;
  /** Listen on this port instead of a free one. */
  port?: number;
  /** Also accept connections to 127.0.0.1 without a password (trust), for this cluster only. */
  trustLoopback?: boolean;
}

/** The cluster runs as the postgres account when we are root (PostgreSQL refuses root). */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

const TRUST_LOOPBACK = 'host all all 127.0.0.1/32 trust # infrakt: no password on loopback';

export async function startPostgres(
  password = 'pg-Secret-7e1',
  opts: PostgresOptions = {},
): Promise<Postgres> {
  const fixed = opts.dir !== undefined;
  const dir = fixed
    ? path.resolve(opts.dir as string)
    : fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-pg-'));
  if (fixed) fs.mkdirSync(dir, { recursive: true });
  const data = path.join(dir, 'data');
  // The socket lives beside the data in a temp dir, but a fixed dir may have a long path
  // (a socket path has at most 107 bytes): there it gets a short temp dir of its own.
  const socketDir = fixed ? fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-pgsock-')) : dir;
  const chownToPostgres = (p: string) => {
    if (process.getuid?.() === 0) execFileSync('chown', ['postgres', p]);
  };
  let started = false;
  const stop = () => {
    if (started) {
      const [cmd, args] = asPostgres(`${PG_BIN}/pg_ctl`, [
        '-D',
        data,
        '-m',
        fixed ? 'fast' : 'immediate',
        '-w',
        'stop',
      ]);
      spawnSync(cmd, args, { stdio: 'ignore' });
      started = false;
    }
    if (fixed) fs.rmSync(socketDir, { recursive: true, force: true });
    else fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    chownToPostgres(dir);
    chownToPostgres(socketDir);
    if (!fixed || !fs.existsSync(path.join(data, 'PG_VERSION'))) {
      fs.rmSync(data, { recursive: true, force: true });
      const pwfile = path.join(dir, 'pw');
      fs.writeFileSync(pwfile, `${password}\n`);
      chownToPostgres(pwfile);
      try {
        run(
          ...asPostgres(`${PG_BIN}/initdb`, [
            '-D',
            data,
            '-A',
            'scram-sha-256',
            '-U',
            'postgres',
            `--pwfile=${pwfile}`,
            '--no-sync',
          ]),
        );
      } finally {
        if (fixed) fs.rmSync(pwfile, { force: true });
      }
    }
    if (fixed) {
      // A cluster left running by an earlier run that was killed: stop it, then start ours.
      const [cmd, args] = asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, 'status']);
      if (spawnSync(cmd, args, { stdio: 'ignore' }).status === 0) {
        const [stopCmd, stopArgs] = asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, '-m', 'fast', '-w', 'stop']);
        spawnSync(stopCmd, stopArgs, { stdio: 'ignore' });
      }
    }
    if (opts.trustLoopback) {
      // First matching line wins: put the trust line on top (once).
      const hba = path.join(data, 'pg_hba.conf');
      const lines = fs.readFileSync(hba, 'utf8');
      if (!lines.includes(TRUST_LOOPBACK)) fs.writeFileSync(hba, `${TRUST_LOOPBACK}\n${lines}`);
    }
    const port = opts.port ?? (await freePort());
    started = true;
    const logFile = path.join(dir, 'log');
    try {
      run(
        ...asPostgres(`${PG_BIN}/pg_ctl`, [
          '-D',
          data,
          '-o',
          `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off`,
          '-l',
          logFile,
          '-w',
          'start',
        ]),
      );
    } catch (err) {
      // pg_ctl only says "Examine the log output": show its end.
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-5) : [];
      throw new Error(
        `PostgreSQL did not start on port ${port}: ${log.join('\n') || (err instanceof Error ? err.message : String(err))}`,
      );
    }
    const env = { ...process.env, PGPASSWORD: password };
    const sql = (q: string, db = 'postgres') =>
      run(
        'psql',
        [
          '-X',
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-U',
          'postgres',
          '-d',
          db,
          '-v',
          'ON_ERROR_STOP=1',
          '-Atq',
          '-f',
          '-',
        ],
        {
          env,
          input: q,
        },
      );
    return {
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      dir,
      sql,
      createDatabase: (name) => void sql(`CREATE DATABASE "${name}"`),
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}

export interface MariaDb {
  host: '127.0.0.1';
  port: number;
  socket: string;
  /** An ordinary user with a password, owning every database created by createDatabase. */
  user: string;
  password: string;
  dir: string;
  sql(sql: string, db?: string): string;
  createDatabase(name: string): void;
  stop(): Promise<void>;
}

export async function startMariaDb(password = 'my-Secret-3f9'): Promise<MariaDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-my-'));
  const datadir = path.join(dir, 'data');
  const socket = path.join(dir, 'my.sock');
  let child: ReturnType<typeof spawn> | undefined;
  let exited = false;
  const stop = async () => {
    if (child && !exited) {
      const c = child;
      const gone = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      await gone;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('mariadb-install-db', [
      `--datadir=${datadir}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]);
    const port = await freePort();
    child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        '--user=root',
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${socket}`,
        `--pid-file=${path.join(dir, 'my.pid')}`,
        `--log-error=${path.join(dir, 'err.log')}`,
        '--innodb-flush-log-at-trx-commit=0',
        '--skip-name-resolve',
      ],
      { stdio: 'ignore' },
    );
    child.once('exit', () => (exited = true));
    const rootSql = (q: string, db?: string) =>
      run('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-N', '-B', ...(db ? [db] : [])], {
        input: q,
      });
    await until('mariadbd to accept connections', () => {
      if (exited)
        throw new Error(
          `mariadbd exited: ${fs.readFileSync(path.join(dir, 'err.log'), 'utf8').slice(-2000)}`,
        );
      return (
        spawnSync('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-e', 'SELECT 1'], {
          stdio: 'ignore',
        }).status === 0
      );
    });
    const user = 'app';
    rootSql(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}';`);
    const sql = (q: string, db?: string) =>
      run(
        'mariadb',
        ['--no-defaults', '-h', '127.0.0.1', '-P', String(port), '-u', user, '-N', '-B', ...(db ? [db] : [])],
        {
          env: { ...process.env, MYSQL_PWD: password },
          input: q,
        },
      );
    return {
      host: '127.0.0.1',
      port,
      socket,
      user,
      password,
      dir,
      sql,
      createDatabase: (name) =>
        void rootSql(`CREATE DATABASE \`${name}\`; GRANT ALL ON \`${name}\`.* TO '${user}'@'%';`),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface Redis {
  host: '127.0.0.1';
  port: number;
  password: string;
  dir: string;
  cli(...args: string[]): string;
  stop(): void;
}

export async function startRedis(password = 'rd-Secret-5a2'): Promise<Redis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-redis-'));
  const pidfile = path.join(dir, 'redis.pid');
  const env = { ...process.env, REDISCLI_AUTH: password };
  let port = 0;
  const stop = () => {
    if (fs.existsSync(pidfile)) {
      const pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    port = await freePort();
    run('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--daemonize',
      'yes',
      '--pidfile',
      pidfile,
      '--logfile',
      path.join(dir, 'redis.log'),
      '--requirepass',
      password,
    ]);
    const cli = (...args: string[]) =>
      run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--raw', ...args], { env }).trim();
    await until('redis to answer PING', () => {
      try {
        return cli('PING') === 'PONG';
      } catch {
        return false;
      }
    });
    return { host: '127.0.0.1', port, password, dir, cli, stop };
  } catch (e) {
    stop();
    throw e;
  }
}
