// A scheduled run as the integration tests watch it on the (local) server:
// its files (status record, log) and a SIGTERM to it by the pid it logs.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { RunStatus } from '../../src/core/schedule/cron';
import { schedulePaths } from '../../src/core/schedule/script';

/** The schedule files of `database` in the backup dir `backupDir()` gives (the server is made in before()). */
export function scheduleFiles(backupDir: () => string, database: string) {
  const paths = () => schedulePaths(backupDir(), database);
  return {
    paths,
    status: (): RunStatus => JSON.parse(fs.readFileSync(paths().status, 'utf8')) as RunStatus,
    log: (): string => (fs.existsSync(paths().log) ? fs.readFileSync(paths().log, 'utf8') : ''),
  };
}

/** SIGTERMs a scheduled run by the pid of its "starts (pid N)" line in `logSince` (the log written since it started). */
export function sigtermRun(logSince: string): void {
  const pid = Number(/starts \(pid (\d+)\)/.exec(logSince)?.[1]);
  assert.ok(pid > 1, 'the run logged its pid');
  process.kill(pid, 'SIGTERM');
}
