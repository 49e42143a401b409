// This machine's crontab of the user running the tests: the schedule tests
// install real entries, so they keep what was there and put it back after.
import { spawnSync } from 'node:child_process';

/** The crontab's text, or null when the user has none. */
export function readCrontab(): string | null {
  const r = spawnSync('crontab', ['-l'], { encoding: 'utf8' });
  if (r.status === 0) return r.stdout;
  if (/no crontab/i.test(r.stderr)) return null;
  throw new Error(`cannot read the crontab: ${r.stderr || r.error?.message}`);
}

/** Puts a crontab back as readCrontab returned it (null: none). */
export function writeCrontab(content: string | null): void {
  const r =
    content === null
      ? spawnSync('crontab', ['-r'], { encoding: 'utf8' })
      : spawnSync('crontab', ['-'], { input: content, encoding: 'utf8' });
  if (r.status !== 0 && !(content === null && /no crontab/i.test(r.stderr)))
    throw new Error(`cannot restore the crontab: ${r.stderr}`);
}
