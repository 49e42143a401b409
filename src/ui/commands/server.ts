import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { secretKeys } from '../../core/secrets';
import { type CheckOutcome, checkUntilDecided, probeServer, savedMessage } from './connectionCheck';
import type { Services } from '../services';
import { confirmModal } from '../input';
import { serverForm } from './serverForm';
import { resolveServer } from './targets';

export async function addServer(services: Services): Promise<void> {
  const id = randomUUID();
  const first = await serverForm('Add Server');
  let checked;
  let server;
  try {
    checked = await checkUntilDecided(services, { id, title: 'Add Server', first });
    server = services.store.addServer(checked.input, id);
  } catch (err) {
    // Nothing is saved: the password typed for the check goes again.
    services.runner.forget?.(id);
    await services.secrets.deleteServerSecrets(id, []);
    throw err;
  }
  services.log.info(`Added server ${server.name} (${server.user}@${server.host}:${server.port})`);
  report(services, savedMessage(server.name, 'added', checked.outcome), checked.outcome);
}

export async function editServer(services: Services, arg?: unknown): Promise<void> {
  const current = await resolveServer(services, arg, 'Edit Server', { broken: 'allow' });
  const passwordKey = secretKeys.server(current.id, 'password');
  const stored = await services.secrets.get(passwordKey);
  const title = `Edit Server ${current.name}`;
  const first = await serverForm(title, current, stored !== undefined);
  let checked;
  let server;
  try {
    checked = await checkUntilDecided(services, { id: current.id, title, first, base: current });
    server = services.store.updateServer(current.id, checked.input);
  } catch (err) {
    // Nothing changes: the stored password is put back as it was.
    services.runner.forget?.(current.id);
    if (stored !== undefined) await services.secrets.set(passwordKey, stored);
    else await services.secrets.delete(passwordKey);
    throw err;
  }
  services.runner.forget?.(server.id);
  if (server.auth !== 'password') await services.secrets.delete(passwordKey);
  if (server.auth !== 'key') await services.secrets.delete(secretKeys.server(server.id, 'passphrase'));
  services.log.info(`Updated server ${server.name}`);
  report(services, savedMessage(server.name, 'saved', checked.outcome), checked.outcome);
}

function report(services: Services, message: string, outcome: CheckOutcome): void {
  const show =
    outcome.ok && !outcome.warning ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  void show(message, 'Show Log').then((c) => c && services.log.show(true));
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
  const { summary } = await probeServer(services, server, `Testing connection to ${server.name}`);
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
