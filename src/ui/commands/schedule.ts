// Schedule Backups / Remove Schedule on a database, and keeping every
// installed schedule's S3 credentials current when the S3 settings change.
import * as vscode from 'vscode';
import type { Database, Schedule, ScheduleVerify, Server } from '../../core/model';
import { fieldValidator, scheduleInput } from '../../core/model';
import { DEFAULT_SCHEDULED_LOCAL, describeRetention, keepsAll } from '../../core/backup/retention';
import { CRON_PRESETS, cronExpression, describeCron, describeScheduleVerify } from '../../core/schedule/cron';
import { effectiveScheduleVerify, scheduledVerifyRefusal } from '../../core/schedule/script';
import {
  type SchedulePlan,
  installSchedule,
  removeSchedule,
  syncServerSchedules,
} from '../../core/schedule/actions';
import { limiter } from '../../core/limit';
import type { S3Credentials } from '../../core/s3/scripts';
import { alertTargets, backupTarget, s3Access, type S3Access } from '../credentials';
import { alertSecrets } from '../../core/alerts/destinations';
import { REFRESH_CONCURRENCY } from '../tree/backupCatalog';
import { ActionableError, OPEN_S3_SETTINGS, messageOf, provisionStep } from '../errors';
import { uploadStallSeconds } from './backup';
import { askText, confirmModal, pickOne } from '../input';
import { askRetention } from './retention';
import { encryptionRecipient } from '../credentials';
import { loggedRunner, withRemote } from '../remote';
import type { Services } from '../services';
import { resolveDatabase } from './targets';

/** S3 as a schedule uses it: ready, off — or configured without a secret here, which must not install silently. */
function uploadCreds(s3: S3Access, what: string) {
  if (s3.state === 'no-secret')
    throw new ActionableError(`${what}: ${s3.message}, so scheduled uploads could not authenticate.`, [
      OPEN_S3_SETTINGS,
    ]);
  return s3.state === 'ready' ? s3.creds : undefined;
}

async function planFor(
  services: Services,
  server: Server,
  database: Database,
  schedule: Pick<Schedule, 'cron' | 'verify'>,
  creds: S3Credentials | undefined,
): Promise<{ plan: SchedulePlan; secrets: string[] }> {
  const { target, secrets } = await backupTarget(services, server, database);
  const { targets: alerts } = await alertTargets(services);
  const encryptTo = encryptionRecipient(services);
  return {
    plan: {
      databaseId: database.id,
      target,
      expression: schedule.cron,
      retention: database.retention,
      // Where it cannot run (an encrypted backup: the key is not on the server) the schedule does not verify.
      verify: effectiveScheduleVerify(schedule.verify, database, encryptTo !== undefined),
      encryptTo,
      s3: creds ? { creds, stallSeconds: uploadStallSeconds() } : undefined,
      alerts,
    },
    secrets: [...secrets, ...(creds ? [creds.secretKey] : []), ...alertSecrets(alerts)],
  };
}

const CUSTOM = '$(edit) Custom cron expression…';

async function askVerify(current: ScheduleVerify | undefined, title: string): Promise<ScheduleVerify> {
  const items: (vscode.QuickPickItem & { verify: ScheduleVerify })[] = [
    {
      verify: 'each',
      label: 'After every backup',
      detail:
        'Restores each new backup into a scratch copy on the server, compares the tables and rows, then drops it. A backup that does not restore fails the run, alerts, and keeps every older backup.',
    },
    {
      verify: 'weekly',
      label: 'Weekly',
      detail:
        'The same, for the first backup a week after the last good verification (lighter on a busy server).',
    },
    { verify: 'off', label: 'Off', detail: 'Verify Backup on a backup row still verifies one when you ask.' },
  ];
  const picked = await pickOne(
    items.map((i) => ({ ...i, picked: i.verify === current })),
    { title, placeHolder: 'Prove the backups restore? (a verification restore into a scratch copy)' },
  );
  return picked.verify;
}

async function askCron(current: string | undefined, title: string): Promise<string> {
  const items: (vscode.QuickPickItem & { expression?: string })[] = CRON_PRESETS.map((p) => ({
    label: p.label,
    description: p.expression,
    expression: p.expression,
    picked: p.expression === current,
  }));
  if (current && !CRON_PRESETS.some((p) => p.expression === current))
    items.unshift({ label: `Keep: ${describeCron(current)}`, description: current, expression: current });
  items.push({ label: CUSTOM, description: 'minute hour day-of-month month day-of-week' });
  const picked = await pickOne(items, {
    title: `${title}: when`,
    placeHolder: 'How often should this database be backed up? (the server’s local time)',
  });
  if (picked.expression) return picked.expression;
  const text = await askText({
    title: `${title}: cron expression`,
    prompt: 'Five fields in the server’s local time: minute hour day-of-month month day-of-week',
    value: current ?? '30 3 * * *',
    placeHolder: '30 3 * * *',
    validate: fieldValidator(cronExpression),
  });
  return cronExpression.parse(text);
}

export async function scheduleBackups(services: Services, arg?: unknown): Promise<void> {
  const { server, database } = await resolveDatabase(services, arg, 'Schedule Backups');
  const current = services.store.getSchedule(database.id);
  const s3 = await s3Access(services);
  // Before any question: settings without a secret here cannot be scheduled.
  const creds = uploadCreds(s3, 'Cannot schedule uploads');
  // The verification step is asked only where it can run (not for encrypted backups or container mode).
  const verifiable = !scheduledVerifyRefusal(database, encryptionRecipient(services) !== undefined);
  const steps = verifiable ? 3 : 2;
  const cron = await askCron(current?.cron, `Schedule Backups (1/${steps})`);
  // The database's retention policy (Back Up Now applies the same one).
  const policy = keepsAll(database.retention.local)
    ? { ...database.retention, local: DEFAULT_SCHEDULED_LOCAL }
    : database.retention;
  const retention = await askRetention(
    services,
    server,
    { ...database, retention: policy },
    {
      title: (step) => `Schedule Backups (2/${steps}): retention${step === 'policy' ? '' : ` ${step}`}`,
      s3: creds !== undefined,
      requireLocal: true,
    },
  );
  const verify = verifiable
    ? await askVerify(current?.verify, `Schedule Backups (3/${steps}): verification`)
    : 'off';
  const input = scheduleInput.parse({ cron, verify });
  const { plan, secrets } = await planFor(services, server, { ...database, retention }, input, creds);
  const result = await withRemote(
    services,
    server,
    { title: `Scheduling backups of ${database.name} on ${server.name}`, secrets, timeoutMs: 120_000 },
    ({ runner }) => installSchedule(runner, plan),
  );
  services.store.setRetention(database.id, retention);
  services.store.saveSchedule(database.id, input);
  services.tree.reload(server.id);
  const what = `${database.name} on ${server.name} is backed up ${describeCron(input.cron)}`;
  const upload = plan.s3 ? ', uploaded to S3' : ' (on the server only — S3 storage is not configured)';
  services.log.info(
    `${what}: ${result.script} (${result.changed ? 'installed' : 'unchanged'}), cron "${result.cron}"`,
  );
  for (const w of result.warnings) services.log.warn(`[${server.name}] ${w}`);
  if (result.warnings.length) {
    const step = provisionStep(server);
    const choice = await vscode.window.showWarningMessage(
      `${what}${upload}, but: ${result.warnings.join('; ')}.`,
      step.title,
    );
    if (choice) await vscode.commands.executeCommand(step.command, ...(step.args ?? []));
    return;
  }
  const verified =
    plan.verify && plan.verify !== 'off'
      ? `; verification restore ${describeScheduleVerify(plan.verify)}`
      : '';
  void vscode.window.showInformationMessage(`${what}${upload}; ${describeRetention(retention)}${verified}.`);
}

/**
 * Set Retention… on a database row: the policy Back Up Now and the scheduled
 * runs apply after each backup. A scheduled database's installed script is
 * reinstalled with it (the policy is baked into the script).
 */
export async function setRetention(services: Services, arg?: unknown): Promise<void> {
  const { server, database } = await resolveDatabase(services, arg, 'Set Retention');
  const schedule = services.store.getSchedule(database.id);
  const s3 = await s3Access(services);
  const creds = schedule ? uploadCreds(s3, 'Cannot update the scheduled uploads') : undefined;
  const retention = await askRetention(services, server, database, {
    title: (step) => `Set Retention of ${database.name}${step === 'policy' ? '' : ` ${step}`}`,
    s3: true,
    requireLocal: schedule !== undefined,
  });
  if (schedule) {
    const { plan, secrets } = await planFor(services, server, { ...database, retention }, schedule, creds);
    await withRemote(
      services,
      server,
      { title: `Updating the schedule of ${database.name} on ${server.name}`, secrets, timeoutMs: 120_000 },
      ({ runner }) => installSchedule(runner, plan),
    );
  }
  services.store.setRetention(database.id, retention);
  services.tree.reload(server.id);
  const USE_AS_DEFAULT = 'Use for New Databases';
  const choice = await vscode.window.showInformationMessage(
    `${database.name} on ${server.name}: ${describeRetention(retention)}${schedule ? ' (the scheduled runs too)' : ''}. Applied after each backup.`,
    USE_AS_DEFAULT,
  );
  if (choice === USE_AS_DEFAULT) {
    services.store.setDefaultRetention(retention);
    void vscode.window.showInformationMessage(`New databases start with: ${describeRetention(retention)}.`);
  }
}

export async function unscheduleBackups(services: Services, arg?: unknown): Promise<void> {
  // A broken row's schedule can still be removed (its values were valid when it was installed).
  const { server, database } = await resolveDatabase(services, arg, 'Remove Schedule', { broken: 'allow' });
  const schedule = services.store.getSchedule(database.id);
  await confirmModal(
    `Stop the scheduled backups of ${database.name} on ${server.name}?`,
    `${schedule ? `Now: ${describeCron(schedule.cron)}. ` : ''}The crontab entry and the script are removed from the server. Backups already taken are kept.`,
    'Remove Schedule',
  );
  const others = services.store
    .listSchedules()
    .filter((s) => s.databaseId !== database.id)
    .some((s) => services.store.getDatabase(s.databaseId)?.serverId === server.id);
  await withRemote(
    services,
    server,
    { title: `Removing the schedule of ${database.name} on ${server.name}`, timeoutMs: 60_000 },
    ({ runner }) =>
      removeSchedule(runner, {
        databaseId: database.id,
        backupDir: server.backupDir,
        databaseName: database.name,
        hadPasswordFile: database.mode === 'host',
        lastOnServer: !others,
      }),
  );
  services.store.removeSchedule(database.id);
  services.tree.reload(server.id);
  void vscode.window.showInformationMessage(
    `Scheduled backups of ${database.name} on ${server.name} removed; existing backups are kept.`,
  );
}

/**
 * After S3 settings were saved or removed (or the encryption changed): every
 * server with schedules gets its credentials file rewritten (or removed) and
 * its scripts reinstalled,
 * under one progress notification. Servers that cannot be reached are named
 * and marked with the error in the tree; the others are done anyway.
 */
/** syncSchedules' `what` after the alert destinations changed. */
export const ALERTS_CHANGED = 'the new alert destinations';

export async function syncSchedules(services: Services, what = 'the new S3 settings'): Promise<void> {
  const byServer = new Map<string, { server: Server; items: { database: Database; schedule: Schedule }[] }>();
  for (const schedule of services.store.listSchedules()) {
    const database = services.store.getDatabase(schedule.databaseId);
    const server = database && services.store.getServer(database.serverId);
    if (!database || !server) continue;
    const group = byServer.get(server.id) ?? { server, items: [] };
    group.items.push({ database, schedule });
    byServer.set(server.id, group);
  }
  if (byServer.size === 0) return;
  const s3 = await s3Access(services);
  let creds: S3Credentials | undefined;
  try {
    creds = uploadCreds(s3, 'Scheduled uploads not updated');
  } catch (err) {
    void vscode.window.showErrorMessage(messageOf(err));
    return;
  }
  const failed: string[] = [];
  const warnings: string[] = [];
  await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Updating scheduled backups with ${what}`,
      cancellable: false,
    },
    async (progress) => {
      const groups = [...byServer.values()];
      const limit = limiter(REFRESH_CONCURRENCY);
      await Promise.all(
        groups.map(({ server, items }) =>
          limit(async () => {
            try {
              const plans: SchedulePlan[] = [];
              const secrets: string[] = [];
              for (const { database, schedule } of items) {
                const p = await planFor(services, server, database, schedule, creds);
                plans.push(p.plan);
                secrets.push(...p.secrets);
              }
              const runner = loggedRunner(services, server, { secrets, timeoutMs: 120_000 });
              const r = await syncServerSchedules(runner, plans);
              warnings.push(...r.warnings.map((w) => `${server.name}: ${w}`));
              services.log.info(
                `[${server.name}] schedules of ${r.reinstalled.join(', ')} updated (${creds ? 'S3 credentials file written' : 'S3 off: credentials file removed'})`,
              );
            } catch (err) {
              const message = messageOf(err);
              failed.push(`${server.name} (${message})`);
              services.log.error(`[${server.name}] scheduled backups not updated: ${message}`);
              services.tree.setServerState(server.id, {
                kind: 'error',
                message: `Scheduled backups still use the old settings (${what}): ${message}. Fix the connection, then save again.`,
              });
            }
            progress.report({ increment: 100 / groups.length, message: server.name });
          }),
        ),
      );
    },
  );
  if (failed.length) {
    const choice = await vscode.window.showErrorMessage(
      `Scheduled backups were not updated with ${what} on ${failed.join(', ')} — they still use the old settings. Save again once the server is reachable.`,
      'Show Log',
    );
    if (choice) services.log.show(true);
  } else if (warnings.length) {
    void vscode.window.showWarningMessage(`Scheduled backups updated, but: ${warnings.join('; ')}.`);
  } else {
    const names = [...byServer.values()].map((g) => g.server.name).join(', ');
    void vscode.window.showInformationMessage(
      what === ALERTS_CHANGED
        ? `Scheduled backups on ${names} now send alerts to the saved destinations.`
        : creds
          ? `Scheduled backups on ${names} now upload with the new S3 settings.`
          : `Scheduled backups on ${names} no longer upload to S3 (credentials removed from the server).`,
    );
  }
}
