// Backup encryption with age: Set Up Backup Encryption (a new key made here,
// or a public key the user brings), Export and Import Recovery Key. The
// identities (private keys) live only in SecretStorage on this computer — all
// of them, old ones too, so backups encrypted before a key change still
// restore; the server and the schedules get only the recipient (public key).
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import {
  identityFile,
  newIdentity,
  parseIdentityFile,
  recipientOf,
  recipientProblem,
} from '../../core/backup/encryption';
import { secretKeys } from '../../core/secrets';
import { askText, confirmModal, pickOne } from '../input';
import type { Services } from '../services';
import { syncSchedules } from './schedule';
import { recoveryKeys } from '../credentials';

async function addRecoveryKeys(services: Services, ids: readonly string[]): Promise<number> {
  const have = await recoveryKeys(services);
  const fresh = ids.filter((id) => !have.includes(id));
  if (fresh.length) await services.secrets.set(secretKeys.ageIdentities(), [...have, ...fresh].join('\n'));
  return fresh.length;
}

const LOSS_WARNING =
  'Without the recovery key, encrypted backups cannot be restored by anyone — not by you, not by infrakt. Keep a copy somewhere other than this computer (a password manager, a safe).';

export async function setUpEncryption(services: Services): Promise<void> {
  const current = services.store.getEncryption();
  type Item = vscode.QuickPickItem & { choice: 'new' | 'own' | 'off' };
  const items: Item[] = [
    {
      label: '$(key) Make a new key on this computer',
      description: 'recommended',
      detail: 'The server gets only the public key; the private key stays in VS Code’s secret storage.',
      choice: 'new',
    },
    {
      label: '$(file-symlink-file) Use my own public key…',
      detail:
        'An age1… recipient or an ssh-ed25519 public key; a restore on the server needs its age identity imported here.',
      choice: 'own',
    },
  ];
  if (current)
    items.push({
      label: '$(circle-slash) Turn encryption off',
      detail: 'New backups are not encrypted; the keys stay here, so encrypted backups still restore.',
      choice: 'off',
    });
  const picked = await pickOne(items, {
    title: 'Set Up Backup Encryption',
    placeHolder: current ? `Backups are encrypted to ${current.recipient}` : 'Encrypt new backups with age',
  });
  if (picked.choice === 'off') {
    services.store.setEncryption(undefined);
    void vscode.window.showInformationMessage(
      'Backup encryption is off for new backups. Encrypted backups keep restoring with the keys on this computer.',
    );
    await syncSchedules(services, 'encryption off');
    return;
  }
  if (picked.choice === 'own') {
    const recipient = await askText({
      title: 'Set Up Backup Encryption: your public key',
      prompt: 'The age recipient (age1…) or ssh-ed25519 public key that new backups are encrypted to',
      placeHolder: 'age1…',
      validate: (v) => (v.trim() ? recipientProblem(v) : 'Enter a public key'),
    });
    services.store.setEncryption({ recipient, own: false });
    void vscode.window.showInformationMessage(
      `New backups are encrypted to ${recipient}. To restore them, import its identity here (Infrakt: Import Recovery Key…).`,
    );
    await syncSchedules(services, 'the new encryption key');
    return;
  }
  await confirmModal(
    'Encrypt new backups with a key made on this computer?',
    `${LOSS_WARNING}\n\nYou will be asked to export it now. ${current ? 'The previous key stays here for the backups it encrypted.' : ''}`,
    'Make Key',
  );
  const key = await newIdentity();
  await addRecoveryKeys(services, [key.identity]);
  services.store.setEncryption({ recipient: key.recipient, own: true });
  services.log.info(`Backup encryption: new backups are encrypted to ${key.recipient}`);
  await exportRecoveryKey(services);
  await syncSchedules(services, 'the new encryption key');
}

export async function exportRecoveryKey(services: Services): Promise<void> {
  const ids = await recoveryKeys(services);
  if (!ids.length) {
    void vscode.window.showInformationMessage(
      'There is no recovery key on this computer: Set Up Backup Encryption makes one.',
    );
    return;
  }
  await confirmModal('Export the recovery key', LOSS_WARNING, 'Choose File…');
  const target = await vscode.window.showSaveDialog({
    title: 'Export Recovery Key',
    defaultUri: vscode.Uri.file('infrakt-recovery-key.txt'),
    filters: { 'age identity': ['txt', 'key'] },
  });
  if (!target) return;
  const keys = await Promise.all(
    ids.map(async (identity) => ({ identity, recipient: await recipientOf(identity) })),
  );
  // Created 0600 (a file it replaces is removed first): never readable by others, not even for a moment.
  fs.rmSync(target.fsPath, { force: true });
  fs.writeFileSync(target.fsPath, identityFile(keys, new Date()), { mode: 0o600, flag: 'wx' });
  void vscode.window.showInformationMessage(
    `Recovery key${keys.length > 1 ? 's' : ''} saved to ${target.fsPath} (readable only by you).`,
  );
}

export async function importRecoveryKey(services: Services): Promise<void> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Import Recovery Key',
    canSelectMany: false,
    openLabel: 'Import',
  });
  if (!picked?.[0]) return;
  const ids = parseIdentityFile(fs.readFileSync(picked[0].fsPath, 'utf8'));
  const added = await addRecoveryKeys(services, ids);
  const recipients = await Promise.all(ids.map(recipientOf));
  const current = services.store.getEncryption();
  if (current && !current.own && recipients.includes(current.recipient))
    services.store.setEncryption({ recipient: current.recipient, own: true });
  void vscode.window.showInformationMessage(
    added
      ? `Imported ${added} recovery key(s): backups encrypted to ${recipients.join(', ')} restore from this computer.`
      : 'These recovery keys were already on this computer.',
  );
}
