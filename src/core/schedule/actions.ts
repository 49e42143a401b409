// Schedule Backups as operations on one server, through any ScriptRunner (the
// SSH pool in the product, a real sshd in the integration tests): install a
// database's schedule (its secret files first, then the script and crontab
// line), remove it, and bring a server's schedules in line with new S3
// settings. The builders live in script.ts; this file only sequences
// them and turns their output into results or errors that name the cause.
import { BackupError, stderrExcerpt } from '../backup/errors';
import { sequenceScripts } from '../remote/script';
import type { ScriptRunner } from '../backup/run';
import type { BackupTarget } from '../backup/target';
import type { RetentionPolicy, ScheduleVerify } from '../model';
import type { S3Credentials } from '../s3/scripts';
import { type AlertTarget, alertSecrets } from '../alerts/destinations';
import { DEFAULT_ALERTS_PATH, alertsFileScript, removeAlertsFileScript } from '../alerts/scripts';
import {
  type InstallResult,
  credentialsFileScript,
  defaultPasswordFilePath,
  installScheduleScript,
  parseInstallResult,
  parseWarnings,
  passwordFileScript,
  removeCredentialsFileScript,
  unscheduleScript,
} from './script';

export interface SchedulePlan {
  /** The database's id (the crontab marker). */
  databaseId: string;
  /** As Back Up Now builds it; an inline password is moved into a root-only file on the server. */
  target: BackupTarget;
  expression: string;
  /** The database's retention policy (baked into the installed script). */
  retention: RetentionPolicy;
  /** Encrypt to this age recipient (a public key); off when unset. */
  encryptTo?: string;
  /** Upload to S3 (credentials file written first); off when unset. */
  s3?: { creds: S3Credentials; stallSeconds?: number };
  /** Alert destinations (their file written first); no alerts when unset or empty. */
  alerts?: readonly AlertTarget[];
  /** The verification restore after a good backup; off when unset. */
  verify?: ScheduleVerify;
  /** Where the root-only files go (tests use their own dir); the defaults of scheduleScript otherwise. */
  files?: ScheduleFiles;
}

export interface ScheduleFiles {
  credentialsPath?: string;
  passwordFile?: string;
  alertsPath?: string;
}

async function must(runner: ScriptRunner, script: string, what: string, secrets: string[]): Promise<string> {
  const r = await runner.run(script, { secrets });
  if (r.code !== 0) {
    const excerpt = stderrExcerpt(r.stderr);
    throw new BackupError('unexpected', `${what} failed (exit ${r.code})${excerpt ? `: ${excerpt}` : ''}`);
  }
  return r.stdout;
}

/** The script that installs a plan: the S3 credentials file (when uploading), the password file (host mode with a password), then the schedule. */
export function installPlanScript(plan: SchedulePlan): string {
  const parts: { what: string; script: string }[] = [];
  if (plan.s3) {
    parts.push({
      what: 'Writing the S3 credentials file',
      script: credentialsFileScript(
        plan.s3.creds.settings,
        plan.s3.creds.secretKey,
        plan.files?.credentialsPath,
      ),
    });
  }
  const alerts = plan.alerts?.length ? plan.alerts : undefined;
  if (alerts) {
    parts.push({
      what: 'Writing the alert destinations file',
      script: alertsFileScript(alerts, plan.files?.alertsPath),
    });
  }
  let target = plan.target;
  if (target.password?.kind === 'inline') {
    const path = plan.files?.passwordFile ?? defaultPasswordFilePath(target.database.name);
    parts.push({
      what: 'Writing the database password file',
      script: passwordFileScript(target.database.engine, target.password.password, path),
    });
    target = { ...target, password: { kind: 'file', path } };
  }
  parts.push({
    what: 'Installing the schedule',
    script: installScheduleScript({
      databaseId: plan.databaseId,
      expression: plan.expression,
      target,
      retention: plan.retention,
      encryptTo: plan.encryptTo,
      verify: plan.verify,
      alertsPath: alerts ? (plan.files?.alertsPath ?? DEFAULT_ALERTS_PATH) : undefined,
      s3: plan.s3
        ? {
            settings: plan.s3.creds.settings,
            stallSeconds: plan.s3.stallSeconds,
            credentialsPath: plan.files?.credentialsPath,
          }
        : undefined,
    }),
  });
  return sequenceScripts(parts);
}

function planSecrets(plan: SchedulePlan): string[] {
  const out: string[] = [];
  if (plan.s3) out.push(plan.s3.creds.secretKey);
  if (plan.target.password?.kind === 'inline') out.push(plan.target.password.password);
  out.push(...alertSecrets(plan.alerts ?? []));
  return out;
}

/** Installs a plan in one script run (see installPlanScript). */
export async function installSchedule(runner: ScriptRunner, plan: SchedulePlan): Promise<InstallResult> {
  const stdout = await must(runner, installPlanScript(plan), 'Scheduling the backups', planSecrets(plan));
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

/** Removes a schedule (and, with the server's last one, the S3 credentials file) in one script run. */
export async function removeSchedule(runner: ScriptRunner, plan: UnschedulePlan): Promise<void> {
  const parts = [
    {
      what: 'Removing the schedule',
      script: unscheduleScript({
        databaseId: plan.databaseId,
        backupDir: plan.backupDir,
        databaseName: plan.databaseName,
        passwordFile: plan.hadPasswordFile
          ? (plan.files?.passwordFile ?? defaultPasswordFilePath(plan.databaseName))
          : undefined,
      }),
    },
  ];
  if (plan.lastOnServer)
    parts.push(
      {
        what: 'Removing the S3 credentials file',
        script: removeCredentialsFileScript(plan.files?.credentialsPath),
      },
      {
        what: 'Removing the alert destinations file',
        script: removeAlertsFileScript(plan.files?.alertsPath),
      },
    );
  await must(runner, sequenceScripts(parts), 'Removing the schedule', []);
}

export interface SyncOutcome {
  /** Databases whose schedule was reinstalled. */
  reinstalled: string[];
  /** Warnings the installs printed (missing awscli, no cron daemon). */
  warnings: string[];
}

/**
 * After S3 settings (or the alert destinations) changed: every schedule of one server is reinstalled with
 * the new settings (they are baked into its script), and the credentials file
 * is rewritten — or removed when S3 is off — so a 3 a.m. upload never runs on
 * stale credentials. One script run per server.
 */
export async function syncServerSchedules(
  runner: ScriptRunner,
  plans: readonly SchedulePlan[],
): Promise<SyncOutcome> {
  if (plans.length === 0) return { reinstalled: [], warnings: [] };
  const parts: { what: string; script: string }[] = [];
  if (!plans.some((p) => p.s3))
    parts.push({
      what: 'Removing the S3 credentials file',
      script: removeCredentialsFileScript(plans[0].files?.credentialsPath),
    });
  if (!plans.some((p) => p.alerts?.length))
    parts.push({
      what: 'Removing the alert destinations file',
      script: removeAlertsFileScript(plans[0].files?.alertsPath),
    });
  for (const plan of plans)
    parts.push({
      what: `Reinstalling the schedule of ${plan.target.database.name}`,
      script: installPlanScript(plan),
    });
  const stdout = await must(
    runner,
    sequenceScripts(parts),
    'Updating the schedules',
    plans.flatMap(planSecrets),
  );
  return {
    reinstalled: plans.map((p) => p.target.database.name),
    warnings: [...new Set(parseWarnings(stdout))],
  };
}
