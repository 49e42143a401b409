// Processes of this machine, for the checks that a run left none behind.
import { execFileSync } from 'node:child_process';

/** Pids of the processes whose command line contains `pattern` (pgrep -f). */
export function pgrep(pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', '--', pattern], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
