// Schedule Backups as operations on one server, through any ScriptRunner (the
// SSH pool in the product, a real sshd in the integration tests): install a
// database's schedule (its secret files first, then the script and crontab
// line), remove it, and bring a server's schedules in line with new S3
// settings. The builders live in scheduleScript.ts; this file only sequences
// them and turns their output into results or errors that name the cause.
import { BackupError } from './backup/errors';
import type { ScriptRunner } from './backup/run';
import type { BackupTarget } from './backup/target';
import type { S3Credentials } from './s3Scripts';
import {
  DEFAULT_AWS_CREDENTIALS_PATH,
  type InstallResult,
  credentialsFileScript,
  defaultPasswordFilePath,
  installScheduleScript,
  parseInstallResult,
  passwordFileScript,
  removeCredentialsFileScript,
  unscheduleScript,
} from './scheduleScript';

export interface SchedulePlan {
  /** The database's id (the crontab marker). */
  databaseId: string;
  /** As Back Up Now builds it; an inline password is moved into a root-only file on the server. */
  target: BackupTarget;
  expression: string;
  localRetentionDays: number;
  /** Upload to S3 (credentials file written first); off when unset. */
  s3?: { creds: S3Credentials; keepNewest?: number };
  /** Where the root-only files go (tests use their own dir); the defaults of scheduleScript otherwise. */
  files?: ScheduleFiles;
}

export interface ScheduleFiles {
  credentialsPath?: string;
  passwordFile?: string;
}

function tail(text: string): string {
  const t = text.trim().split('\n').slice(-3).join(' ').trim();
  return t ? `: ${t.slice(0, 300)}` : '';
}

async function must(runner: ScriptRunner, script: string, what: string, secrets: string[]): Promise<string> {
  const r = await runner.run(script, { secrets });
  if (r.code !== 0) throw new BackupError('unexpected', `${what} failed (exit ${r.code})${tail(r.stderr)}`);
  return r.stdout;
}

/** Writes the S3 credentials file (when uploading) and the password file (host mode with a password), then installs. */
export async function installSchedule(runner: ScriptRunner, plan: SchedulePlan): Promise<InstallResult> {
  const secrets: string[] = [];
  if (plan.s3) {
    secrets.push(plan.s3.creds.secretKey);
    await must(
      runner,
      credentialsFileScript(
        plan.s3.creds.settings,
        plan.s3.creds.secretKey,
        plan.files?.credentialsPath ?? DEFAULT_AWS_CREDENTIALS_PATH,
      ),
      'Writing the S3 credentials file',
      secrets,
    );
  }
  let target = plan.target;
  if (target.password?.kind === 'inline') {
    const path = plan.files?.passwordFile ?? defaultPasswordFilePath(target.database.name);
    secrets.push(target.password.password);
    await must(
      runner,
      passwordFileScript(target.database.engine, target.password.password, path),
      'Writing the database password file',
      secrets,
    );
    target = { ...target, password: { kind: 'file', path } };
  }
  const stdout = await must(
    runner,
    installScheduleScript({
      databaseId: plan.databaseId,
      expression: plan.expression,
      target,
      localRetentionDays: plan.localRetentionDays,
      s3: plan.s3
        ? {
            settings: plan.s3.creds.settings,
            keepNewest: plan.s3.keepNewest,
            credentialsPath: plan.files?.credentialsPath,
          }
        : undefined,
    }),
    'Installing the schedule',
    secrets,
  );
  const result = parseInstallResult(stdout);
  if (!result) throw new BackupError('unexpected', 'Installing the schedule did not report a result');
  return result;
}

export interface UnschedulePlan {
  databaseId: string;
  backupDir: string;
  databaseName: string;
  /** Host mode: its password file goes too. */
  hadPasswordFile: boolean;
  /** No other schedule is left on this server: remove the S3 credentials file as well. */
  lastOnServer: boolean;
  files?: ScheduleFiles;
}

export async function removeSchedule(runner: ScriptRunner, plan: UnschedulePlan): Promise<void> {
  await must(
    runner,
    unscheduleScript({
      databaseId: plan.databaseId,
      backupDir: plan.backupDir,
      databaseName: plan.databaseName,
      passwordFile: plan.hadPasswordFile
        ? (plan.files?.passwordFile ?? defaultPasswordFilePath(plan.databaseName))
        : undefined,
    }),
    'Removing the schedule',
    [],
  );
  if (plan.lastOnServer)
    await must(
      runner,
      removeCredentialsFileScript(plan.files?.credentialsPath ?? DEFAULT_AWS_CREDENTIALS_PATH),
      'Removing the S3 credentials file',
      [],
    );
}

export interface SyncOutcome {
  /** Databases whose schedule was reinstalled. */
  reinstalled: string[];
  /** Warnings the installs printed (missing awscli, no cron daemon). */
  warnings: string[];
}

/**
 * After S3 settings changed: every schedule of one server is reinstalled with
 * the new settings (they are baked into its script), and the credentials file
 * is rewritten — or removed when S3 is off — so a 3 a.m. upload never runs on
 * stale credentials.
 */
export async function syncServerSchedules(
  runner: ScriptRunner,
  plans: readonly SchedulePlan[],
): Promise<SyncOutcome> {
  const out: SyncOutcome = { reinstalled: [], warnings: [] };
  const off = plans.find((p) => !p.s3);
  if (off && !plans.some((p) => p.s3))
    await must(
      runner,
      removeCredentialsFileScript(off.files?.credentialsPath ?? DEFAULT_AWS_CREDENTIALS_PATH),
      'Removing the S3 credentials file',
      [],
    );
  for (const plan of plans) {
    const r = await installSchedule(runner, plan);
    out.reinstalled.push(plan.target.database.name);
    for (const w of r.warnings) if (!out.warnings.includes(w)) out.warnings.push(w);
  }
  return out;
}
