// What one UI test run shares: where things are, the teardown list that runs
// even on failure or Ctrl-C, the screenshot counter and the timings to report.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root (this file runs as out/test/e2e/world.js). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const SHOTS_DIR = path.join(ROOT, 'test-results', 'e2e');
/**
 * The README's pictures as this run took them. Tests never write into the work tree:
 * `npm run docs:screenshots` copies these to docs/images/.
 */
const README_SHOTS_DIR = path.join(SHOTS_DIR, 'readme');

export interface RunWorld {
  /** code-server's entry script (node <entry> ...). */
  codeServerEntry: string;
  /** Extensions dir with the packaged VSIX installed; shared by every workbench of the run. */
  extensionsDir: string;
  /** Temp dir of this run; every instance gets a folder in it. */
  workDir: string;
  vsix: string;
}

let current: RunWorld | undefined;

export function setWorld(world: RunWorld): void {
  current = world;
}

export function world(): RunWorld {
  if (!current)
    throw new Error('The UI specs run from out/test/e2e/run.js (npm run test:e2e), not by mocha alone.');
  return current;
}

type Cleanup = () => Promise<void> | void;
const cleanups: { label: string; fn: Cleanup }[] = [];

/** Registers a cleanup; the returned function runs it now (once) and forgets it. */
export function onTeardown(label: string, fn: Cleanup): () => Promise<void> {
  const entry = { label, fn };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await fn();
  };
}

/** Runs every registered cleanup, newest first; a failing cleanup does not stop the others. */
export async function teardownAll(): Promise<void> {
  while (cleanups.length > 0) {
    const { label, fn } = cleanups.pop() as { label: string; fn: Cleanup };
    try {
      await fn();
    } catch (err) {
      console.error(`teardown of ${label} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

let shotCount = 0;

export function resetShots(): void {
  fs.rmSync(SHOTS_DIR, { recursive: true, force: true });
  fs.mkdirSync(SHOTS_DIR, { recursive: true });
  shotCount = 0;
}

/** test-results/e2e/<NN>-<name>.png, numbered in the order the steps ran. */
export function nextShotPath(name: string): string {
  shotCount++;
  fs.mkdirSync(SHOTS_DIR, { recursive: true });
  return path.join(SHOTS_DIR, `${String(shotCount).padStart(2, '0')}-${slug(name)}.png`);
}

/** test-results/e2e/readme/<file>: a README picture, kept under the name docs/images/ uses. */
export function readmeShotPath(file: string): string {
  fs.mkdirSync(README_SHOTS_DIR, { recursive: true });
  return path.join(README_SHOTS_DIR, file);
}

export function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'step'
  );
}

/** Measurements printed at the end of the run (never asserted). */
export const timings: { label: string; ms: number }[] = [];

export function recordTiming(label: string, ms: number): void {
  timings.push({ label, ms });
}

/** Polls `probe` until it returns a value (not undefined) or the time is up. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
