// Alert destinations: Add, Remove and Send Test Alert. The kind, name and
// when-to-send go in the store; the URL and token in SecretStorage. Saving or
// removing one reinstalls every schedule (syncSchedules), so the root-only
// destinations file on each server follows, as with the S3 settings.
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import {
  ALERT_KINDS,
  ALERT_KIND_LABELS,
  type AlertDestination,
  type AlertKind,
  type AlertTarget,
  type AlertWhen,
  alertName,
  alertSecrets,
  alertToken,
  alertUrl,
  checkAlertTarget,
  takesToken,
} from '../../core/alerts/destinations';
import { fieldValidator } from '../../core/model';
import { secretKeys } from '../../core/secrets';
import { sendAlerts } from './alertDelivery';
import type { AlertDelivery } from '../../core/alerts/scripts';
import type { Server } from '../../core/model';
import type { AlertFormFields, AlertKindView, AlertView } from '../../shared/protocol';
import { alertTargets } from '../credentials';
import { askText, confirmModal, pickOne } from '../input';
import { withRemote } from '../remote';
import type { Services } from '../services';
import { ALERTS_CHANGED, syncSchedules } from './schedule';
import { resolveServer } from './targets';

const URL_HINT: Record<AlertKind, string> = {
  webhook: 'https://example.com/hooks/backups',
  slack: 'https://hooks.slack.com/services/T…/B…/…',
  discord: 'https://discord.com/api/webhooks/…/…',
  mattermost: 'https://mattermost.example.com/hooks/…',
  ntfy: 'https://ntfy.sh/my-backups',
  healthchecks: 'https://hc-ping.com/<uuid> (the check’s ping URL)',
};

async function pickDestination(services: Services, title: string): Promise<AlertDestination> {
  const all = services.store.listAlertDestinations();
  if (all.length === 0)
    throw new Error('No alert destinations yet: add one with Infrakt: Add Alert Destination.');
  const picked = await pickOne(
    all.map((d) => ({
      label: d.name,
      description: ALERT_KIND_LABELS[d.kind],
      detail:
        d.kind === 'healthchecks'
          ? 'start, success and failure pings'
          : `on ${d.when === 'always' ? 'failure and success' : 'failure only'}`,
      d,
    })),
    { title, placeHolder: 'Which destination?' },
  );
  return picked.d;
}

export async function addAlertDestination(services: Services): Promise<void> {
  const title = 'Add Alert Destination';
  const kind = (
    await pickOne(
      ALERT_KINDS.map((k) => ({ label: ALERT_KIND_LABELS[k], k })),
      { title: `${title} (1/4): kind`, placeHolder: 'Where should the server report backups?' },
    )
  ).k;
  const url = await askText({
    title: `${title} (2/4): URL`,
    prompt:
      kind === 'healthchecks'
        ? 'The ping URL: the server adds /start and /fail itself. Stored in secret storage: it authorizes posting.'
        : 'Stored in secret storage on this computer and in a root-only file on servers with schedules: it authorizes posting.',
    placeHolder: URL_HINT[kind],
    password: true,
    validate: fieldValidator(alertUrl),
  });
  const token = takesToken(kind)
    ? await askText({
        title: `${title} (3/4): token (optional)`,
        prompt:
          kind === 'ntfy'
            ? 'An ntfy access token (tk_…) for a protected topic; leave empty for a public one.'
            : 'Sent as "Authorization: Bearer <token>"; leave empty when the URL carries its own key.',
        password: true,
        validate: fieldValidator(alertToken),
      })
    : '';
  const when: AlertWhen =
    kind === 'healthchecks'
      ? 'always'
      : (
          await pickOne(
            [
              { label: 'Failures only', w: 'failure' as const },
              { label: 'Failures and successes', w: 'always' as const },
            ],
            { title: `${title} (4/4): when`, placeHolder: 'When should it be sent?' },
          )
        ).w;
  const name = await askText({
    title: `${title}: name`,
    prompt: 'A name for this destination, shown in the log and the status record',
    value: kind === 'slack' ? 'Slack' : ALERT_KIND_LABELS[kind].split(' ')[0],
    validate: fieldValidator(alertName),
  });
  const target = checkAlertTarget({ id: randomUUID(), name, kind, when, url, token: token || undefined });
  await saveAlertTarget(services, target);
  const TEST = 'Send Test Alert';
  const choice = await vscode.window.showInformationMessage(
    `Alert destination "${target.name}" saved.`,
    TEST,
  );
  if (choice === TEST) await sendTestAlert(services, target.id);
}

/** Stores a destination (settings in the store, URL and token in SecretStorage) and updates the schedules. */
export async function saveAlertTarget(services: Services, target: AlertTarget): Promise<void> {
  const t = checkAlertTarget(target);
  services.store.saveAlertDestination({ id: t.id, name: t.name, kind: t.kind, when: t.when });
  await services.secrets.set(secretKeys.alert(t.id), JSON.stringify({ url: t.url, token: t.token }));
  services.log.info(`alert destination "${t.name}" (${t.kind}) saved`);
  void syncSchedules(services, ALERTS_CHANGED);
}

export async function removeAlertDestination(services: Services): Promise<void> {
  const d = await pickDestination(services, 'Remove Alert Destination');
  await confirmModal(
    `Remove the alert destination "${d.name}"?`,
    'Scheduled backups stop sending to it; its URL is removed from secret storage and from the servers.',
    'Remove',
  );
  await removeAlertTarget(services, d);
}

/** Forgets a destination (store and SecretStorage) and updates the schedules. */
export async function removeAlertTarget(
  services: Services,
  d: Pick<AlertDestination, 'id' | 'name'>,
): Promise<void> {
  services.store.removeAlertDestination(d.id);
  await services.secrets.delete(secretKeys.alert(d.id));
  services.log.info(`alert destination "${d.name}" removed`);
  void syncSchedules(services, ALERTS_CHANGED);
}

/** Send Test Alert: one destination, from a server the user picks; shows the HTTP status or the network error. */
export async function sendTestAlert(services: Services, arg?: unknown): Promise<void> {
  const id = typeof arg === 'string' ? arg : (await pickDestination(services, 'Send Test Alert')).id;
  const name = services.store.listAlertDestinations().find((d) => d.id === id)?.name ?? 'the destination';
  const server = await resolveServer(services, undefined, `Send Test Alert to ${name}: from which server?`);
  const delivery = await runTestAlert(services, id, server);
  const text = `Test alert to ${delivery.name} from ${server.name}: ${delivery.detail}.`;
  if (delivery.ok) void vscode.window.showInformationMessage(text);
  else void vscode.window.showErrorMessage(text);
}

/** Sends a test event to one destination from this server, exactly as a scheduled run sends. */
export async function runTestAlert(services: Services, id: string, server: Server): Promise<AlertDelivery> {
  const { targets, missing } = await alertTargets(services);
  const target = targets.find((t) => t.id === id);
  if (!target) {
    const name = services.store.listAlertDestinations().find((d) => d.id === id)?.name;
    throw new Error(
      name && missing.includes(name)
        ? `The URL of "${name}" is not stored on this computer — remove the destination and add it again.`
        : 'That alert destination no longer exists.',
    );
  }
  const [delivery] = await withRemote(
    services,
    server,
    {
      title: `Sending a test alert to ${target.name} from ${server.name}`,
      secrets: alertSecrets([target]),
      timeoutMs: 60_000,
    },
    ({ runner }) =>
      sendAlerts(runner, [target], {
        event: 'test',
        server: server.name,
        database: 'test',
        engine: 'test',
        trigger: 'test',
      }),
  );
  if (!delivery) throw new Error(`The server did not report sending to ${target.name}.`);
  services.log.info(`[${server.name}] test alert to "${target.name}": ${delivery.detail}`);
  return delivery;
}

/** The destinations and kinds as the settings page shows them (never a URL or token). */
export async function alertsView(
  services: Services,
): Promise<{ destinations: AlertView[]; kinds: AlertKindView[] }> {
  const { missing } = await alertTargets(services);
  return {
    destinations: services.store.listAlertDestinations().map((d) => ({
      id: d.id,
      name: d.name,
      kind: d.kind,
      kindLabel: ALERT_KIND_LABELS[d.kind],
      when:
        d.kind === 'healthchecks'
          ? 'start, success and failure'
          : d.when === 'always'
            ? 'failures and successes'
            : 'failures only',
      hasSecret: !missing.includes(d.name),
    })),
    kinds: ALERT_KINDS.map((k) => ({
      id: k,
      label: ALERT_KIND_LABELS[k],
      takesToken: takesToken(k),
      hint: URL_HINT[k],
    })),
  };
}

/** A destination from the settings page's form: checked (one sentence per problem), saved, schedules updated. */
export async function addAlertFromForm(services: Services, f: AlertFormFields): Promise<AlertTarget> {
  const kind = f.kind as AlertKind;
  const target = checkAlertTarget({
    id: randomUUID(),
    name: f.name,
    kind,
    when: f.always || kind === 'healthchecks' ? 'always' : 'failure',
    url: f.url,
    token: f.token.trim() ? f.token : undefined,
  });
  await saveAlertTarget(services, target);
  return target;
}
