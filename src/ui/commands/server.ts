import * as vscode from 'vscode';
import { secretKeys } from '../../core/secrets';
import { describeProbe, parseProbe, probeScript } from '../../core/server/probe';
import { runRemote } from '../remote';
import type { Services } from '../services';
import { confirmModal } from '../input';
import { serverForm } from './serverForm';
import { resolveServer } from './targets';

export async function addServer(services: Services): Promise<void> {
  const { input, password } = await serverForm('Add Server');
  const server = services.store.addServer(input);
  if (password) await services.secrets.set(secretKeys.server(server.id, 'password'), password);
  services.log.info(`Added server ${server.name} (${server.user}@${server.host}:${server.port})`);
  void vscode.window.showInformationMessage(`Server "${server.name}" added.`);
}

export async function editServer(services: Services, arg?: unknown): Promise<void> {
  const current = await resolveServer(services, arg, 'Edit Server', { broken: 'allow' });
  const passwordKey = secretKeys.server(current.id, 'password');
  const hasPassword = (await services.secrets.get(passwordKey)) !== undefined;
  const { input, password } = await serverForm(`Edit Server ${current.name}`, current, hasPassword);
  const server = services.store.updateServer(current.id, input);
  services.runner.forget?.(server.id);
  if (password) await services.secrets.set(passwordKey, password);
  if (server.auth !== 'password') await services.secrets.delete(passwordKey);
  if (server.auth !== 'key') await services.secrets.delete(secretKeys.server(server.id, 'passphrase'));
  services.log.info(`Updated server ${server.name}`);
}

export async function removeServer(services: Services, arg?: unknown): Promise<void> {
  const server = await resolveServer(services, arg, 'Remove Server', { broken: 'allow' });
  const dbCount = services.store.listDatabases(server.id).length;
  await confirmModal(
    `Remove server "${server.name}"?`,
    `This forgets ${server.user}@${server.host}${dbCount ? ` and its ${dbCount} database(s)` : ''}, and deletes their stored passwords. Nothing on the server is touched — backups stay where they are.`,
    'Remove',
  );
  services.runner.forget?.(server.id);
  const { databaseIds } = services.store.removeServer(server.id);
  await services.secrets.deleteServerSecrets(server.id, databaseIds);
  services.log.info(`Removed server ${server.name}`);
}

export async function testServerConnection(services: Services, arg?: unknown): Promise<void> {
  const server = await resolveServer(services, arg, 'Test Connection');
  const result = await runRemote(services, server, {
    title: `Testing connection to ${server.name}`,
    script: probeScript(server.backupDir),
    timeoutMs: 60_000,
  });
  if (result.code !== 0)
    throw new Error(
      `Test Connection on ${server.name} failed (exit ${result.code}): ${result.stderr.trim().slice(0, 300)}`,
    );
  const summary = describeProbe(server.name, parseProbe(result.stdout), server.backupDir);
  services.log.info(summary);
  void vscode.window.showInformationMessage(summary, 'Show Log').then((c) => c && services.log.show(true));
}

export async function forgetHostKey(services: Services, arg?: unknown): Promise<void> {
  const server = await resolveServer(services, arg, 'Forget Host Key');
  const known = services.store.getKnownHost(server.host, server.port);
  if (!known) {
    void vscode.window.showInformationMessage(`No host key is remembered for ${server.host}:${server.port}.`);
    return;
  }
  await confirmModal(
    `Forget the host key of ${server.name}?`,
    `Remembered: ${known.fingerprint} (${known.keyType}). The next connection will show the server's current key and ask you to trust it. Do this only when you know why the key changed.`,
    'Forget',
  );
  services.runner.forget?.(server.id);
  services.store.forgetHost(server.host, server.port);
  services.log.info(`Forgot host key of ${server.host}:${server.port} (${known.fingerprint})`);
}
