// Shared parts of the benchmarks: a teardown registry that also runs on
// failure and on Ctrl-C, a work dir under os.tmpdir(), timing helpers, the
// printed report (numbers and targets, never assertions) and the fake
// backup-dir fixture in the layout Back Up Now writes.
import { type ChildProcess, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CHECKSUM_EXT, backupFilename } from '../src/core/backup';
import type { Server } from '../src/core/model';

// ----- teardown ---------------------------------------------------------------

type Teardown = { what: string; fn: () => unknown };
const teardowns: Teardown[] = [];
const children = new Set<ChildProcess>();

/** Aborted first on teardown: every remote run gets it, so a cancelled bench ends its remote scripts. */
export const benchAbort = new AbortController();

/** Registers a teardown; they run last-in first-out, each once, even when an earlier one fails. */
export function onTeardown(what: string, fn: () => unknown): void {
  teardowns.push({ what, fn });
}

/**
 * Registers the teardown of something being started before it has started, so a
 * Ctrl-C during its start-up still stops it (the teardown waits for the start).
 */
export function started<T>(what: string, start: Promise<T>, stop: (value: T) => unknown): Promise<T> {
  onTeardown(what, async () => {
    let value: T;
    try {
      value = await start;
    } catch {
      return; // a failed start cleans up after itself
    }
    await stop(value);
  });
  return start;
}

let tearingDown: Promise<void> | undefined;

/** Runs every teardown; `grace` ms after the abort let cancelled remote scripts clean up first. */
export function teardownAll(grace = 0): Promise<void> {
  tearingDown ??= (async () => {
    if (!benchAbort.signal.aborted) benchAbort.abort();
    if (grace > 0) await new Promise((r) => setTimeout(r, grace));
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    }
    while (teardowns.length) {
      const t = teardowns.pop() as Teardown;
      try {
        await t.fn();
      } catch (err) {
        console.error(`teardown of ${t.what} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  })();
  return tearingDown;
}

/** A fresh dir under os.tmpdir(), removed on teardown. */
export function workDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `infrakt-bench-${label}-`));
  onTeardown(`work dir ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ----- processes --------------------------------------------------------------

export interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `bash -o pipefail -c cmd` (killed on teardown) and times it from spawn to exit. */
export function sh(cmd: string, env: NodeJS.ProcessEnv = process.env): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-o', 'pipefail', '-c', cmd], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (e) => {
      children.delete(child);
      reject(e);
    });
    child.once('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** Like sh() but throws with the command's stderr when it fails. */
export async function shOk(cmd: string, env?: NodeJS.ProcessEnv): Promise<Exec> {
  const r = await sh(cmd, env);
  if (r.code !== 0) throw new Error(`\`${cmd}\` failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`);
  return r;
}

// ----- numbers ----------------------------------------------------------------

export function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min} (got "${raw}")`);
  return n;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function ms(x: number): string {
  return x >= 10_000
    ? `${(x / 1000).toFixed(1)} s`
    : x >= 1000
      ? `${(x / 1000).toFixed(2)} s`
      : `${x.toFixed(1)} ms`;
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function mbps(bytes: number, millis: number): string {
  return `${(bytes / 1024 / 1024 / (millis / 1000)).toFixed(0)} MB/s`;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/** A plain text table: first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(rows[0]), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n');
}

export function heading(text: string): void {
  console.log(`\n== ${text}`);
}

export interface TargetResult {
  name: string;
  met: boolean;
  detail: string;
}

const targetResults: TargetResult[] = [];

/** Prints one target with its measured value and whether it is met (no assertion: the bench goes on). */
export function target(name: string, met: boolean, detail: string): void {
  targetResults.push({ name, met, detail });
  console.log(`  target: ${name} — ${met ? 'MET' : 'MISSED'} (${detail})`);
}

export function targetSummary(): TargetResult[] {
  return targetResults;
}

// ----- fixtures ---------------------------------------------------------------

/** A server as the store would hold it, reached at 127.0.0.1:<port> with the test sshd's key. */
export function benchServer(port: number, keyPath: string, backupDir: string, id = 'bench-srv'): Server {
  return {
    id,
    name: 'bench-1',
    host: '127.0.0.1',
    port,
    user: 'root',
    auth: 'key',
    keyPath,
    backupDir,
    createdAt: '',
    updatedAt: '',
  };
}

/**
 * Fills `dir` with `perDb` fake backups (and their .sha256) of each of `dbCount`
 * postgres databases, named as Back Up Now names them, one a day, with a few
 * strangers a real backup dir also has (a .partial, an unrelated file).
 */
export function makeBackupFixture(
  dir: string,
  serverName: string,
  dbCount: number,
  perDb: number,
): { databases: { name: string; engine: 'postgres' }[]; files: number } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const databases = Array.from({ length: dbCount }, (_, i) => ({
    name: `db${String(i + 1).padStart(2, '0')}`,
    engine: 'postgres' as const,
  }));
  const start = Date.UTC(2025, 0, 1, 3, 0, 0);
  let files = 0;
  for (const d of databases) {
    for (let j = 0; j < perDb; j++) {
      const name = backupFilename(serverName, d.name, d.engine, new Date(start + j * 86_400_000), 'zst');
      const body = crypto.randomBytes(512 + ((j * 977) % 4096));
      fs.writeFileSync(path.join(dir, name), body);
      const sum = crypto.createHash('sha256').update(body).digest('hex');
      fs.writeFileSync(path.join(dir, `${name}${CHECKSUM_EXT}`), `${sum}  ${name}\n`);
      files += 2;
    }
  }
  fs.writeFileSync(path.join(dir, `${serverName}_db01_postgres_20250301T030000Z.dump.zst.partial`), 'x');
  fs.writeFileSync(path.join(dir, 'README.txt'), 'not a backup\n');
  return { databases, files };
}

/** The machine's load, printed beside the numbers (other work on it skews every timing). */
export function loadNote(): string {
  const [one, five] = os.loadavg();
  const cores = os.cpus().length;
  return `load average ${one.toFixed(2)} (1 min), ${five.toFixed(2)} (5 min) on ${cores} cores${
    one > cores * 0.75 ? ' — BUSY: other work on this machine skews these timings' : ''
  }`;
}
