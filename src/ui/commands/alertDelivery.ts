// Sending alerts from VS Code's side of a run: Send Test Alert and Back Up
// Now's alerts (setting infrakt.alerts.backUpNow) run alert.sh on the server
// with the destinations in the script's preamble, exactly as a scheduled run sends.
import * as vscode from 'vscode';
import { type AlertTarget, alertSecrets } from '../../core/alerts/destinations';
import {
  type AlertDelivery,
  type AlertEventInput,
  parseAlertDeliveries,
  sendAlertScript,
} from '../../core/alerts/scripts';
import type { ScriptRunner } from '../../core/backup/run';
import type { Database, Server } from '../../core/model';
import { alertTargets } from '../credentials';
import { messageOf } from '../errors';
import type { Services } from '../services';

/** Sends an event to these destinations from the server, as a scheduled run does. */
export async function sendAlerts(
  runner: ScriptRunner,
  targets: readonly AlertTarget[],
  event: AlertEventInput,
): Promise<AlertDelivery[]> {
  const r = await runner.run(sendAlertScript(targets, event), { secrets: alertSecrets(targets) });
  if (r.code !== 0) throw new Error(`Sending the alert failed on the server (exit ${r.code})`);
  return parseAlertDeliveries(r.stdout, targets);
}

/** Back Up Now's alerts (setting infrakt.alerts.backUpNow): sent after the run, never changing its result. */
export async function alertAfterBackUpNow(
  services: Services,
  runner: ScriptRunner,
  server: Server,
  database: Database,
  outcome: { ok: boolean; cause?: string; file?: string; size?: number; durationSeconds: number },
): Promise<void> {
  if (!vscode.workspace.getConfiguration('infrakt').get<boolean>('alerts.backUpNow', false)) return;
  try {
    const { targets } = await alertTargets(services);
    // healthchecks-style checks watch the schedule: a manual run must not ping them.
    const wanted = targets.filter((t) => t.kind !== 'healthchecks' && (!outcome.ok || t.when === 'always'));
    if (wanted.length === 0) return;
    const deliveries = await sendAlerts(runner, wanted, {
      event: outcome.ok ? 'ok' : 'failed',
      server: server.name,
      database: database.name,
      engine: database.engine,
      cause: outcome.cause,
      file: outcome.file,
      size: outcome.size,
      durationSeconds: outcome.durationSeconds,
      trigger: 'manual',
    });
    for (const d of deliveries) services.log.info(`[${server.name}] alert "${d.name}": ${d.detail}`);
    const failed = deliveries.filter((d) => !d.ok);
    if (failed.length)
      void vscode.window.showWarningMessage(
        `Alerts not delivered: ${failed.map((d) => `${d.name} (${d.detail})`).join('; ')}`,
      );
  } catch (err) {
    services.log.error(`[${server.name}] alerts after Back Up Now not sent: ${messageOf(err)}`);
  }
}
