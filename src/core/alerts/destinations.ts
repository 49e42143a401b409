// Alert destinations: where the server reports a backup's outcome. The kind,
// name and when-to-send are settings (the store); the URL and the token
// authorize posting, so they are secrets (SecretStorage here, and on a server
// only in the root-only file scheduled runs read).
import { z } from 'zod';
import { isHttpUrl } from '../url';
import { firstIssue } from '../model';

export const ALERT_KINDS = ['webhook', 'slack', 'discord', 'mattermost', 'ntfy', 'healthchecks'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const ALERT_KIND_LABELS: Record<AlertKind, string> = {
  webhook: 'Webhook (JSON POST)',
  slack: 'Slack incoming webhook',
  discord: 'Discord webhook',
  mattermost: 'Mattermost incoming webhook',
  ntfy: 'ntfy topic',
  healthchecks: 'Healthchecks-style ping (healthchecks.io, Better Stack)',
};

export const ALERT_WHEN = ['failure', 'always'] as const;
export type AlertWhen = (typeof ALERT_WHEN)[number];

export const alertKind = z.enum(ALERT_KINDS, { message: `Kind must be one of ${ALERT_KINDS.join(', ')}` });
export const alertWhen = z.enum(ALERT_WHEN, {
  message: 'Send must be "failure" (failures only) or "always" (failures and successes)',
});

export const alertName = z
  .string()
  .trim()
  .min(1, 'Name is required, e.g. Team channel')
  .max(60, 'Name must be at most 60 characters')
  .refine(
    (v) => ![...v].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127),
    'Name must be one line without tabs',
  );

export const alertUrl = z
  .string()
  .trim()
  .min(1, 'URL is required, e.g. https://hooks.slack.com/services/…')
  .max(2000, 'URL must be at most 2000 characters')
  .refine(
    (v) => !/[\s'"`\\<>]/.test(v),
    'URL must not contain spaces, line breaks, quotes or backslashes — paste the URL exactly as the service gave it',
  )
  .refine(
    isHttpUrl,
    'URL must start with https:// (or http://) and name a host, e.g. https://ntfy.sh/my-topic',
  );

export const alertToken = z
  .string()
  .trim()
  .max(500, 'Token must be at most 500 characters')
  .refine(
    (v) => /^[\x21-\x7e]*$/.test(v) && !/['"`\\]/.test(v),
    'Token may use only printable characters without spaces, quotes or backslashes',
  );

/** A destination's settings (stored), without its secrets. */
export const alertDestination = z.object({
  id: z.string().min(1),
  name: alertName,
  kind: alertKind,
  when: alertWhen,
});
export type AlertDestination = z.infer<typeof alertDestination>;

/** A destination's secret part (SecretStorage, one entry per destination). */
export const alertSecret = z.object({ url: alertUrl, token: alertToken.optional() });
export type AlertSecret = z.infer<typeof alertSecret>;

/** A destination ready to send: settings and secret. */
export type AlertTarget = AlertDestination & AlertSecret;

/** Checks a destination as entered; throws with one sentence naming the field when something is wrong. */
export function checkAlertTarget(input: unknown): AlertTarget {
  const r = alertDestination.extend(alertSecret.shape).safeParse(input);
  if (!r.success) throw new AlertInputError(firstIssue(r.error));
  return r.data;
}

export class AlertInputError extends Error {
  override readonly name = 'AlertInputError';
}

/** Whether a kind takes a token (ntfy's access token); the others carry their key in the URL. */
export function takesToken(kind: AlertKind): boolean {
  return kind === 'ntfy' || kind === 'webhook';
}

/**
 * The destinations as the shell reads them (alert.sh): one line each,
 * `kind when url token name` separated by tabs, `-` for no token.
 */
export function destinationLines(targets: readonly AlertTarget[]): string {
  return targets
    .map((t) => {
      const c = checkAlertTarget(t);
      return [c.kind, c.when, c.url, c.token ? c.token : '-', c.name].join('\t');
    })
    .join('\n');
}

/** The secrets of these destinations (to be masked in logs and errors). */
export function alertSecrets(targets: readonly AlertTarget[]): string[] {
  return targets.flatMap((t) => [t.url, ...(t.token ? [t.token] : [])]);
}
