// The Add / Edit Server flow: each field validated as it is typed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  type AuthMethod,
  type Server,
  type ServerInput,
  fieldValidator,
  hostName,
  port,
  remoteDir,
  serverName,
  userName,
} from '../../core/model';
import { askText, pickOne } from '../input';
import { UserCancelled } from '../errors';

export interface ServerFormResult {
  input: ServerInput;
  /** Set when the user typed a password for password auth. */
  password?: string;
}

export function defaultBackupDir(): string {
  return (
    vscode.workspace.getConfiguration('infrakt').get<string>('defaultBackupDir') || '/opt/infrakt/backups'
  );
}

export async function serverForm(
  title: string,
  current?: Server,
  hasPassword = false,
): Promise<ServerFormResult> {
  const steps = 6;
  const name = await askText({
    title: `${title} (1/${steps})`,
    prompt: 'Name shown in the tree and used in backup file names',
    placeHolder: 'web-1',
    value: current?.name,
    validate: fieldValidator(serverName),
  });
  const host = await askText({
    title: `${title} (2/${steps})`,
    prompt: 'Hostname or IP address',
    placeHolder: 'web-1.example.com',
    value: current?.host,
    validate: fieldValidator(hostName),
  });
  const portText = await askText({
    title: `${title} (3/${steps})`,
    prompt: 'SSH port',
    value: String(current?.port ?? 22),
    validate: fieldValidator(port),
  });
  const user = await askText({
    title: `${title} (4/${steps})`,
    prompt: 'SSH user (root, or a user with passwordless sudo)',
    placeHolder: 'root',
    value: current?.user ?? 'root',
    validate: fieldValidator(userName),
  });
  const methods: { label: string; description: string; auth: AuthMethod }[] = [
    { label: '$(key) Private key file', description: 'e.g. ~/.ssh/id_ed25519', auth: 'key' },
    { label: '$(plug) SSH agent', description: 'keys loaded in ssh-agent (SSH_AUTH_SOCK)', auth: 'agent' },
    { label: '$(lock) Password', description: 'kept in VS Code SecretStorage', auth: 'password' },
  ];
  if (current) methods.sort((a, b) => Number(b.auth === current.auth) - Number(a.auth === current.auth));
  const { auth } = await pickOne(methods, {
    title: `${title} (5/${steps})`,
    placeHolder: 'How do you log in?',
  });

  let keyPath: string | undefined;
  let password: string | undefined;
  if (auth === 'key') {
    const sshDir = path.join(os.homedir(), '.ssh');
    const start = current?.keyPath ?? (fs.existsSync(sshDir) ? sshDir : os.homedir());
    const picked = await vscode.window.showOpenDialog({
      title: `${title}: choose the private key`,
      defaultUri: vscode.Uri.file(start),
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      openLabel: 'Use this key',
    });
    if (!picked || picked.length === 0) throw new UserCancelled();
    keyPath = picked[0].fsPath;
  } else if (auth === 'password') {
    const typed = await askText({
      title: `${title}: password`,
      prompt: hasPassword ? 'Password (leave blank to keep the stored one)' : 'Password',
      password: true,
      validate: (v) =>
        v.length === 0 && !hasPassword ? 'Password is required for password authentication' : undefined,
    });
    password = typed.length > 0 ? typed : undefined;
  }

  const backupDir = await askText({
    title: `${title} (6/${steps})`,
    prompt: 'Backup directory on the server (created 0700 on first backup)',
    value: current?.backupDir ?? defaultBackupDir(),
    validate: fieldValidator(remoteDir),
  });

  return { input: { name, host, port: Number(portText), user, auth, keyPath, backupDir }, password };
}
