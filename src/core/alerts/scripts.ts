// Alerts' remote scripts: the root-only destinations file scheduled runs read,
// and a script that sends one event now (Send Test Alert, Back Up Now's
// alerts) with the destinations in its preamble — stdin, never argv or disk.
import { check } from '../backup/serverCheck';
import { remoteDir } from '../model';
import { SH } from '../remote/modules';
import { MARKS, markValues } from '../remote/protocol';
import { remoteScript } from '../remote/script';
import { removeCredentialsFileScript, secretFileScript } from '../schedule/script';
import { type AlertTarget, destinationLines } from './destinations';

/** Where scheduled runs read the alert destinations: root-only (0600 in a 0700 dir), like the S3 credentials. */
export const DEFAULT_ALERTS_PATH = '/opt/infrakt/.alerts/destinations';

/** Writes the destinations file (replaced atomically; unchanged when equal). */
export function alertsFileScript(
  targets: readonly AlertTarget[],
  path: string = DEFAULT_ALERTS_PATH,
): string {
  return secretFileScript(path, 'Alert destinations file', {
    infrakt_secret_text: { value: `${destinationLines(targets)}\n`, field: 'Alert destinations' },
  });
}

/** Removes the destinations file (no destinations left); nothing to do when absent. */
export function removeAlertsFileScript(path: string = DEFAULT_ALERTS_PATH): string {
  return removeCredentialsFileScript(check(remoteDir, path, 'Alert destinations file'));
}

export type AlertEvent = 'ok' | 'failed' | 'test';

export interface AlertEventInput {
  event: AlertEvent;
  server: string;
  database: string;
  engine: string;
  cause?: string;
  file?: string;
  size?: number;
  durationSeconds?: number;
  trigger: 'manual' | 'test';
}

/** Sends one event to these destinations now, exactly as a scheduled run sends it (remote/sh/alert.sh). */
export function sendAlertScript(targets: readonly AlertTarget[], e: AlertEventInput): string {
  return remoteScript({
    vars: {
      infrakt_alert_dests: { value: destinationLines(targets), field: 'Alert destinations' },
      infrakt_alert_event: e.event,
      infrakt_alert_trigger: e.trigger,
      infrakt_alert_server: { value: e.server, field: 'Server name' },
      infrakt_alert_database: { value: e.database, field: 'Database name' },
      infrakt_alert_engine: e.engine,
      infrakt_alert_cause: { value: e.cause ?? '', field: 'Cause' },
      infrakt_alert_file: e.file ?? '',
      infrakt_alert_size: Math.max(0, Math.round(e.size ?? 0)),
      infrakt_alert_duration: Math.max(0, Math.round(e.durationSeconds ?? 0)),
    },
    modules: [SH.common, SH.httpclient, SH.alert],
    call: 'infrakt_alert_run',
  });
}

export interface AlertDelivery {
  name: string;
  /** The receiver's HTTP status, when it answered. */
  httpStatus?: number;
  ok: boolean;
  /** "sent (test): HTTP 200", "HTTP 404: the webhook was revoked …", "not sent: curl: (7) …". */
  detail: string;
}

/** One delivery per destination that was sent to (in the order given), from the script's alert marks. */
export function parseAlertDeliveries(stdout: string, targets: readonly AlertTarget[]): AlertDelivery[] {
  const out: AlertDelivery[] = [];
  for (const v of markValues(stdout, MARKS.alert)) {
    const m = /^(\d+) (\S+) (.*)$/.exec(v);
    if (!m) continue;
    const target = targets[Number(m[1]) - 1];
    if (!target) continue;
    const code = /^\d{3}$/.test(m[2]) ? Number(m[2]) : undefined;
    out.push({
      name: target.name,
      httpStatus: code,
      ok: code !== undefined && code >= 200 && code < 300,
      detail: m[3],
    });
  }
  return out;
}
