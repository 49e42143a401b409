// Restore to This Computer: a backup downloaded here (sha256 checked, and
// decrypted here when it is an .age file) is restored into a database this
// computer reaches, with the local client tools — found on PATH or given by
// the user. Tools get their arguments as argv (no shell) and the password in
// their environment only.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import { databaseName, hostName, port, userName } from '../model';
import { BackupError } from './errors';
import type { ParsedBackupName } from './naming';

/** A database on this computer (or one it reaches): where Restore to This Computer writes. */
export interface LocalTarget {
  host: string;
  port: number;
  user: string;
  /** PostgreSQL, MySQL/MariaDB: the database's name. SQLite: the database file's path. */
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
  tools: { restore: string; zstd?: string },
  opts: { signal?: AbortSignal; onProgress?(read: number, total: number): void; workDir: string },
): Promise<void> {
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
    if (b.engine === 'sqlite') {
      plainFile = path.join(opts.workDir, 'restore.sqlite');
      await new Promise<void>((resolve, reject) => {
        const out = fs.createWriteStream(plainFile as string, { mode: 0o600 });
        plain.on('error', reject);
        out.on('error', reject).on('finish', resolve);
        plain.pipe(out);
      });
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
