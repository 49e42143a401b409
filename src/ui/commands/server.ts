import * as vscode from 'vscode';
import { secretKeys } from '../../core/secrets';
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
  const current = await resolveServer(services, arg, 'Edit Server');
  const passwordKey = secretKeys.server(current.id, 'password');
  const hasPassword = (await services.secrets.get(passwordKey)) !== undefined;
  const { input, password } = await serverForm(`Edit Server ${current.name}`, current, hasPassword);
  const server = services.store.updateServer(current.id, input);
  if (password) await services.secrets.set(passwordKey, password);
  if (server.auth !== 'password') await services.secrets.delete(passwordKey);
  if (server.auth !== 'key') await services.secrets.delete(secretKeys.server(server.id, 'passphrase'));
  services.log.info(`Updated server ${server.name}`);
}

export async function removeServer(services: Services, arg?: unknown): Promise<void> {
  const server = await resolveServer(services, arg, 'Remove Server');
  const dbCount = services.store.listDatabases(server.id).length;
  await confirmModal(
    `Remove server "${server.name}"?`,
    `This forgets ${server.user}@${server.host}${dbCount ? ` and its ${dbCount} database(s)` : ''}, and deletes their stored passwords. Nothing on the server is touched — backups stay where they are.`,
    'Remove',
  );
  const { databaseIds } = services.store.removeServer(server.id);
  await services.secrets.deleteServerSecrets(server.id, databaseIds);
  services.log.info(`Removed server ${server.name}`);
}
