import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { diagnoseS3Error, parseS3Steps, testConnectionScript } from '../../core/s3/scripts';
import { secretKeys } from '../../core/secrets';
import type { Server } from '../../core/model';
import type { Services } from '../services';
import { ActionableError, OPEN_S3_SETTINGS, provisionStep } from '../errors';
import { runRemote } from '../remote';
import { s3SettingsService } from '../s3TestLog';
import { resolveServer } from './targets';

export interface S3TestOutcome {
  ok: boolean;
  steps: { step: string; ok: boolean; detail: string }[];
  message: string;
  /** When it ran (ISO). */
  at: string;
}

/** Put, head, get + sha256, list, delete — on the server, with the client and credentials uploads use. */
export async function runS3Test(services: Services, server: Server): Promise<S3TestOutcome> {
  const settings = services.store.getS3Settings();
  const secretKey = await services.secrets.get(secretKeys.s3Secret());
  if (!settings || !secretKey) {
    throw new ActionableError('S3 storage is not configured yet.', [OPEN_S3_SETTINGS]);
  }
  const probe = `infrakt-connection-test-${randomBytes(6).toString('hex')}.txt`;
  const result = await runRemote(services, server, {
    title: `Testing S3 from ${server.name}`,
    script: testConnectionScript({ settings, secretKey }, probe),
    secrets: [secretKey],
    timeoutMs: 120_000,
    onLine: (line, progress) => {
      const [step] = parseS3Steps(line);
      if (step) progress.report({ message: `${step.ok ? '✓' : '✗'} ${step.step}` });
    },
  });
  const at = new Date().toISOString();
  const steps = parseS3Steps(result.stdout);
  for (const s of steps) services.log.debug(`[${server.name}] S3 ${s.ok ? '✓' : '✗'} ${s.step} ${s.detail}`);
  const failed = steps.find((s) => !s.ok);
  let outcome: S3TestOutcome;
  if (result.code === 0 && steps.length === 5 && !failed) {
    const message = `S3 connection from ${server.name} works: put, head, get (sha256 matches), list, delete ✓`;
    services.log.info(message);
    outcome = { ok: true, steps, message, at };
  } else {
    const d = diagnoseS3Error(failed?.detail ?? result.stderr, server.name, failed?.step);
    const message = `S3 test from ${server.name} failed${failed ? ` at ${failed.step}` : ''}: ${d.cause} — ${d.next}`;
    services.log.warn(`${message}${failed?.detail ? ` (${failed.step}: ${failed.detail})` : ''}`);
    outcome = { ok: false, steps, message, at };
  }
  await s3SettingsService(services).recordTest(settings, {
    ok: outcome.ok,
    at,
    server: server.name,
    message: outcome.message,
  });
  return outcome;
}

export async function testS3Connection(services: Services, arg?: unknown): Promise<void> {
  const server = await resolveServer(services, arg, 'Test S3 Connection');
  const outcome = await runS3Test(services, server);
  if (outcome.ok) {
    void vscode.window.showInformationMessage(outcome.message);
    return;
  }
  const provision = /awscli not found/.test(outcome.message);
  throw new ActionableError(outcome.message, provision ? [provisionStep(server)] : [OPEN_S3_SETTINGS]);
}
