// The store the in-host suite starts with. The launcher (test/e2e/hostSuite.ts)
// writes it with the project's own store code before code-server starts; the
// in-host tests read the same constants to know what to expect.
import type { DatabaseInput, ServerInput } from '../../src/core/model';

export const EXTENSION_ID = 'infrakt.infrakt';

/** Environment the launcher gives code-server (and so the extension host). */
export const ENV_RESULTS = 'INFRAKT_HOST_RESULTS';
export const ENV_STORE = 'INFRAKT_HOST_STORE';
/**
 * When set, run() keeps the extension host alive after writing its results
 * until this file exists: VS Code ends the extension host once run() returns,
 * and the launcher still looks at the extension's view first.
 */
export const ENV_HOLD_UNTIL = 'INFRAKT_HOST_HOLD_UNTIL';

export const SEED_SERVERS: readonly ServerInput[] = [
  {
    name: 'seed-web',
    host: '10.0.0.5',
    port: 2222,
    user: 'deploy',
    auth: 'agent',
    backupDir: '/var/backups/infrakt',
  },
  { name: 'seed-empty', host: 'empty.example.com', port: 22, user: 'root', auth: 'agent' },
];

/** Databases of seed-web (serverId is filled in when seeding). */
export const SEED_DATABASES: readonly Omit<DatabaseInput, 'serverId'>[] = [
  { name: 'shop', engine: 'postgres', mode: 'container' },
  { name: 'cache', engine: 'redis', mode: 'host' },
];

export interface HostTestResult {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs: number;
  error?: string;
}

export interface HostResults {
  passed: number;
  failed: number;
  skipped: number;
  vscodeVersion: string;
  tests: HostTestResult[];
}
