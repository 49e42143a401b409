import * as vscode from 'vscode';
import {
  parseProvisionOutput,
  provisionScript,
  stepLine,
  summariseProvision,
} from '../../core/server/provision';
import { MARKS } from '../../core/remote/protocol';
import { secretKeys } from '../../core/secrets';
import type { Services } from '../services';
import { encryptionRecipient } from '../credentials';
import { runRemote } from '../remote';
import { resolveServer } from './targets';

export async function provisionServer(services: Services, arg?: unknown): Promise<void> {
  const server = await resolveServer(services, arg, 'Provision Server');
  const databases = services.store.listDatabases(server.id);
  const passwords = new Map<string, string>();
  for (const d of databases.filter((x) => x.mode === 'host')) {
    const pw = await services.secrets.get(secretKeys.database(d.id));
    if (pw) passwords.set(d.id, pw);
  }
  const result = await runRemote(services, server, {
    title: `Provisioning ${server.name}`,
    script: provisionScript({
      server,
      databases,
      passwords,
      encryption: encryptionRecipient(services) !== undefined,
    }),
    secrets: [...passwords.values()],
    timeoutMs: 15 * 60_000,
    onLine: (line, progress) => {
      if (!line.startsWith(`${MARKS.provisionStep} `)) return;
      const [step] = parseProvisionOutput(line).steps;
      if (step) progress.report({ message: stepLine(step) });
    },
  });
  const report = parseProvisionOutput(result.stdout);
  for (const step of report.steps) {
    const line = `[${server.name}] ${stepLine(step)}`;
    if (step.status === 'failed' || step.status === 'warn') services.log.warn(line);
    else services.log.debug(line);
  }
  const summary = summariseProvision(server.name, report);
  if (!report.ok || result.code !== 0) {
    const reason =
      report.steps.length === 0
        ? ` (the script exited with ${result.code}: ${result.stderr.trim().slice(0, 200)})`
        : '';
    throw new Error(`${summary}${reason}`);
  }
  services.store.recordProvisioned(server.id, { awsCliVersion: report.awsCliVersion });
  services.log.info(`[${server.name}] ${summary}`);
  void vscode.window.showInformationMessage(summary);
}
