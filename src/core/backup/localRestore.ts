// Restore to This Computer: a backup downloaded here (sha256 checked, and
// decrypted here when it is an .age file) is restored into a database this
// computer reaches, with the local client tools — found on PATH or given by
// the user. Tools get their arguments as argv (no shell) and the password in
// their environment only.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import { databaseName, hostName, port, userName } from '../model';
import { BackupError } from './errors';
import type { ParsedBackupName } from './naming';
import { LOOPBACK_HOSTS } from '../url';
import { readyPolls } from './restoreScript';

/** A database on this computer (or one it reaches): where Restore to This Computer writes. */
export interface LocalTarget {
  host: string;
  port: number;
  /** Redis: an ACL user, or '' for the default user. */
  user: string;
  /** PostgreSQL, MySQL/MariaDB: the database's name. SQLite: the database file's path. Redis: unused (the whole dataset is replaced). */
  database: string;
  password?: string;
}

/** The tools a restore of this backup needs here, each as alternatives (the first found is used). */
export function localRestoreTools(
  b: Pick<ParsedBackupName, 'engine' | 'format' | 'compression'>,
): string[][] {
  const decompressor = b.compression === 'zst' ? [['zstd']] : [];
  switch (b.engine) {
    case 'postgres':
      return [b.format === 'sql' ? ['psql'] : ['pg_restore'], ...decompressor];
    case 'mysql':
      return [['mariadb', 'mysql'], ...decompressor];
    case 'sqlite':
      return [['sqlite3'], ...decompressor];
    case 'redis':
      // redis-cli drives the target; a temporary redis-server here loads the RDB (see loadRedis).
      return [['redis-cli'], ['redis-server'], ...decompressor];
    default:
      throw new BackupError(
        'invalid-input',
        `Restore to This Computer does not support ${b.engine} backups yet — use Download Backup and load the file with the engine's own tools`,
      );
  }
}

/** A program on PATH ('' when none). */
export function findOnPath(tool: string, envPath = process.env.PATH ?? ''): string {
  for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return '';
}

const check = <T>(schema: z.ZodType<T>, v: unknown, field: string): T => {
  const r = schema.safeParse(v);
  if (!r.success)
    throw new BackupError('invalid-input', `${field}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
};

export interface LocalRestoreCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The dump goes to the tool's stdin, or (SQLite) the tool reads the plain file itself. */
  input: 'stdin' | 'file';
}

/** The local restore tool's command line (argv, no shell). `tool` is its resolved path. */
export function localRestoreCommand(
  b: Pick<ParsedBackupName, 'engine' | 'format'>,
  t: LocalTarget,
  tool: string,
  plainFile?: string,
): LocalRestoreCommand {
  if (b.engine === 'sqlite') {
    if (!path.isAbsolute(t.database))
      throw new BackupError(
        'invalid-input',
        'The SQLite database must be an absolute file path on this computer',
      );
    if (!plainFile || /["\n\r]/.test(plainFile))
      throw new BackupError('invalid-input', 'The SQLite restore needs the decompressed backup as a file');
    // The online backup API: one write transaction into the target file.
    return { command: tool, args: ['-bail', t.database, `.restore "${plainFile}"`], env: {}, input: 'file' };
  }
  const host = check(hostName, t.host, 'Host');
  const p = check(port, t.port, 'Port');
  const user = check(userName, t.user, 'User');
  const db = check(databaseName, t.database, 'Database');
  if (b.engine === 'postgres') {
    const conn = ['-h', host, '-p', String(p), '-U', user, '-d', db];
    const env: Record<string, string> = t.password ? { PGPASSWORD: t.password } : {};
    if (b.format === 'sql')
      return {
        command: tool,
        args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', ...conn],
        env,
        input: 'stdin',
      };
    return {
      command: tool,
      args: ['--clean', '--if-exists', '--no-owner', '--single-transaction', ...conn],
      env,
      input: 'stdin',
    };
  }
  if (b.engine === 'mysql')
    return {
      command: tool,
      args: ['-h', host, '-P', String(p), '-u', user, db],
      env: t.password ? { MYSQL_PWD: t.password } : {},
      input: 'stdin',
    };
  throw new BackupError('invalid-input', `Restore to This Computer does not support ${b.engine} backups yet`);
}

/**
 * Runs the restore of a plain (decrypted, still compressed) backup file here:
 * decompress (zstd from `zstdPath`, gzip in-process) into the tool, progress as
 * the compressed bytes read. Rejects with the tool's last stderr lines.
 */
export async function runLocalRestore(
  file: string,
  b: Pick<ParsedBackupName, 'engine' | 'format' | 'compression'>,
  t: LocalTarget,
  tools: { restore: string; zstd?: string; redisServer?: string },
  opts: { signal?: AbortSignal; onProgress?(read: number, total: number): void; workDir: string },
): Promise<void> {
  if (opts.signal?.aborted) throw new BackupError('cancelled', 'Restore to This Computer was cancelled');
  const total = fs.statSync(file).size;
  let read = 0;
  const source = fs.createReadStream(file);
  source.on('data', (d) => {
    read += d.length;
    opts.onProgress?.(read, total);
  });
  const children: ReturnType<typeof spawn>[] = [];
  const abort = () => children.forEach((c) => c.kill('SIGTERM'));
  opts.signal?.addEventListener('abort', abort, { once: true });
  try {
    let plain: NodeJS.ReadableStream;
    let decompressed: Promise<number | null> = Promise.resolve(0);
    if (b.compression === 'zst') {
      if (!tools.zstd) throw new BackupError('tool-missing', 'zstd is needed to decompress this backup here');
      const z = spawn(tools.zstd, ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(z);
      z.stdin.on('error', () => undefined); // zstd stopped early: its status or the tool's says why
      z.stderr.resume();
      decompressed = new Promise((resolve) => z.once('close', resolve));
      source.pipe(z.stdin);
      plain = z.stdout;
    } else plain = source.pipe(createGunzip());
    let plainFile: string | undefined;
    if (b.engine === 'sqlite' || b.engine === 'redis') {
      plainFile = path.join(opts.workDir, b.engine === 'redis' ? 'load.rdb' : 'restore.sqlite');
      await new Promise<void>((resolve, reject) => {
        const out = fs.createWriteStream(plainFile as string, { mode: 0o600 });
        plain.on('error', reject);
        out.on('error', reject).on('finish', resolve);
        plain.pipe(out);
      });
      const zstdCode = await decompressed;
      if (opts.signal?.aborted) throw new BackupError('cancelled', 'Restore to This Computer was cancelled');
      if (zstdCode !== 0) throw new BackupError('restore-failed', 'zstd failed to decompress the backup');
    }
    if (b.engine === 'redis') {
      if (!tools.redisServer)
        throw new BackupError('tool-missing', 'redis-server is needed here to load a Redis backup');
      await loadRedis(t, { cli: tools.restore, server: tools.redisServer }, opts.workDir, opts.signal);
      return;
    }
    const cmd = localRestoreCommand(b, t, tools.restore, plainFile);
    const child = spawn(cmd.command, cmd.args, {
      env: { ...process.env, ...cmd.env },
      stdio: [cmd.input === 'stdin' ? 'pipe' : 'ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    if (cmd.input === 'stdin' && child.stdin) {
      child.stdin.on('error', () => undefined); // the tool's exit status says why
      plain.pipe(child.stdin);
    }
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (opts.signal?.aborted) throw new BackupError('cancelled', 'Restore to This Computer was cancelled');
    if (code === 0) {
      const zstdCode = await decompressed;
      if (zstdCode !== 0)
        throw new BackupError('restore-failed', `zstd failed to decompress the backup (exit ${zstdCode})`);
    }
    if (code !== 0) {
      const said = stderr.trim().split('\n').slice(-3).join(' | ');
      throw new BackupError(
        'restore-failed',
        `${path.basename(cmd.command)} failed (exit ${code})${said ? `: ${said}` : ''}`,
      );
    }
  } finally {
    opts.signal?.removeEventListener('abort', abort);
    // A tool that stopped early leaves the decompressor blocked on its output: it goes too.
    source.destroy();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 now (the OS picks it). */
function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(p));
    });
  });
}

/**
 * Loads the RDB in `dir`/load.rdb into the Redis at `t`, as the server-side
 * restore does it without a restart: a temporary redis-server on a free
 * 127.0.0.1 port serves the file, the target replicates from it (REPLICAOF,
 * until the link is up and the sync done), then REPLICAOF NO ONE and SAVE.
 * The whole dataset of the target is replaced. The target must run on this
 * computer: it connects back to the temporary server.
 */
async function loadRedis(
  t: LocalTarget,
  tools: { cli: string; server: string },
  dir: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const host = check(hostName, t.host, 'Host');
  const p = check(port, t.port, 'Port');
  if (!LOOPBACK_HOSTS.has(host))
    throw new BackupError(
      'invalid-input',
      `A Redis backup is loaded by making the Redis replicate from a temporary redis-server on this computer, so it must run here: use 127.0.0.1 (not ${host}), or restore it on its server`,
    );
  if (t.user && !userName.safeParse(t.user).success)
    throw new BackupError('invalid-input', 'User: not a valid Redis user name');
  const env = { ...process.env, ...(t.password ? { REDISCLI_AUTH: t.password } : {}) };
  const cli = (args: string[], on: 'target' | number = 'target'): Promise<string> =>
    new Promise((resolve, reject) => {
      const conn =
        on === 'target'
          ? ['-h', host, '-p', String(p), ...(t.user ? ['--user', t.user] : [])]
          : ['-h', '127.0.0.1', '-p', String(on)];
      const c = spawn(tools.cli, [...conn, '--no-auth-warning', '--raw', ...args], {
        env: on === 'target' ? env : process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      c.once('error', reject);
      c.once('close', (code) => {
        // redis-cli exits 0 on a server error reply; it is the reply text that says so.
        const reply = out.replace(/\r/g, '').trim();
        if (code !== 0 || /^(ERR|WRONGPASS|NOAUTH|NOPERM)\b/.test(reply))
          reject(
            new BackupError('restore-failed', `redis-cli ${args[0]}: ${(reply || err).trim().slice(0, 300)}`),
          );
        else resolve(reply);
      });
    });
  const aborted = () => {
    if (signal?.aborted) throw new BackupError('cancelled', 'Restore to This Computer was cancelled');
  };
  const info = await cli(['INFO', 'replication']);
  const role = /^role:(\S+)/m.exec(info)?.[1];
  if (role !== 'master')
    throw new BackupError(
      'restore-failed',
      `this Redis is a replica (${role ?? 'unknown role'}): restore its master instead`,
    );
  let server: ReturnType<typeof spawn> | undefined;
  let replicating = false;
  try {
    let tport = 0;
    for (let attempt = 0; attempt < 5 && !tport; attempt++) {
      const candidate = await freeLocalPort();
      server = spawn(
        tools.server,
        [
          '--port',
          String(candidate),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--dbfilename',
          'load.rdb',
          '--save',
          '',
          '--appendonly',
          'no',
          '--repl-diskless-sync-delay',
          '0',
          '--daemonize',
          'no',
          '--logfile',
          path.join(dir, 'temporary-redis.log'),
        ],
        { stdio: 'ignore' },
      );
      const started = server;
      for (let i = 0; i < 300 && started.exitCode === null; i++) {
        aborted();
        if ((await cli(['PING'], candidate).catch(() => '')) === 'PONG') {
          tport = candidate;
          break;
        }
        await sleep(200);
      }
      if (!tport) started.kill('SIGTERM');
    }
    if (!tport) {
      const log = fs.existsSync(path.join(dir, 'temporary-redis.log'))
        ? fs
            .readFileSync(path.join(dir, 'temporary-redis.log'), 'utf8')
            .trim()
            .split('\n')
            .slice(-2)
            .join(' | ')
        : '';
      throw new BackupError(
        'restore-failed',
        `the temporary redis-server did not start${log ? `: ${log}` : ''}`,
      );
    }
    aborted();
    replicating = true;
    await cli(['REPLICAOF', '127.0.0.1', String(tport)]);
    for (let i = 0; ; i++) {
      aborted();
      const r = await cli(['INFO', 'replication']);
      if (/master_link_status:up/.test(r) && /master_sync_in_progress:0/.test(r)) break;
      if (i >= readyPolls())
        throw new BackupError(
          'restore-failed',
          'Redis did not finish loading the backup (replication from the temporary server)',
        );
      await sleep(200);
    }
    await cli(['REPLICAOF', 'NO', 'ONE']);
    replicating = false;
    // Persist now: until the next save, a restart would bring back the old data.
    await cli(['SAVE']).catch(() => undefined);
  } finally {
    if (replicating) await cli(['REPLICAOF', 'NO', 'ONE']).catch(() => undefined);
    if (server && server.exitCode === null) {
      const s = server;
      const gone = new Promise((r) => s.once('close', r));
      s.kill('SIGTERM');
      await gone;
    }
  }
}
