// Apply Retention Now…: the database's policy run on the server without a new
// backup (remote/sh/retention.sh `infrakt_retention_now`) — first as a preview
// that deletes nothing, then with the deletions the user confirmed (only
// those the rules still select when it runs: a backup made in between changes
// nothing the user did not see).
import type { Database, Engine, RetentionPolicy } from '../model';
import { SH } from '../remote/modules';
import { type ShellVars, remoteScript } from '../remote/script';
import { s3DatabasePrefix } from '../s3/layout';
import { type S3Credentials, awsVars } from '../s3/scripts';
import { BackupError, errorFromOutcome } from './errors';
import { backupPrefix } from './naming';
import {
  type RetentionDecision,
  type RetentionOutcome,
  parseRetention,
  parseRetentionPlan,
  retentionNowVars,
} from './retention';
import type { ScriptRunner } from './run';
import { checkServer } from './serverCheck';

export interface RetentionRun {
  local: RetentionDecision[];
  s3: RetentionDecision[];
  outcome: RetentionOutcome;
}

export function retentionNowScript(
  server: { name: string; backupDir: string },
  database: Pick<Database, 'name' | 'engine'> & { retention: RetentionPolicy },
  creds: S3Credentials | undefined,
  confirmed?: { local: readonly string[]; s3: readonly string[] },
): string {
  const s = checkServer(server);
  const engine: Engine = database.engine;
  const vars: ShellVars = {
    infrakt_dir: { value: s.backupDir, field: 'Backup directory' },
    infrakt_base: backupPrefix(s.name, database.name, engine),
    ...retentionNowVars(database.retention, engine, confirmed),
    infrakt_s3_bucket: '',
  };
  if (creds)
    Object.assign(vars, awsVars(creds), {
      infrakt_s3_prefix: s3DatabasePrefix(creds.settings.prefix, database.name),
      infrakt_s3_announce: 'path',
    });
  const modules = creds ? [SH.common, SH.aws, SH.s3, SH.retention] : [SH.common, SH.retention];
  return remoteScript({ vars, modules, call: 'infrakt_retention_now' });
}

/** What a plan deletes, per side: the confirmation Apply Retention Now… sends back. */
export function deletionsOf(plan: Pick<RetentionRun, 'local' | 's3'>): { local: string[]; s3: string[] } {
  const names = (ds: readonly RetentionDecision[]) => ds.filter((d) => !d.keep).map((d) => d.name);
  return { local: names(plan.local), s3: names(plan.s3) };
}

/** Runs it; the plan per side and what was deleted (nothing in a preview). */
export async function runRetentionNow(
  runner: ScriptRunner,
  ...args: Parameters<typeof retentionNowScript>
): Promise<RetentionRun> {
  const [server, database] = args;
  const r = await runner.run(retentionNowScript(...args));
  if (r.code !== 0)
    throw errorFromOutcome(r, { serverName: server.name, action: `Retention of ${database.name}` });
  const outcome = parseRetention(r.stdout);
  if (!outcome) throw new BackupError('unexpected', `Retention of ${database.name} printed no outcome`);
  return { ...parseRetentionPlan(r.stdout), outcome };
}
