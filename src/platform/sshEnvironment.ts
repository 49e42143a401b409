// The VS Code side of SSH: secrets from SecretStorage, prompts for a key
// passphrase (offered to be remembered), the modal that shows a new host's
// fingerprint, and settings.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { knownHostKeys } from '../core/server/knownHosts';
import type { Server } from '../core/model';
import { type Secrets, secretKeys } from '../core/secrets';
import type { ConfigStore } from '../store/configStore';
import type { HostKeyInfo, SshEnvironment } from '../ssh/connectionPool';

export function createSshEnvironment(store: ConfigStore, secrets: Secrets): SshEnvironment {
  const fresh = new Set<string>(); // passphrases typed this session, not yet offered for remembering
  const config = () => vscode.workspace.getConfiguration('infrakt.ssh');
  return {
    getPassword: (server) => secrets.get(secretKeys.server(server.id, 'password')),
    async getPassphrase(server: Server, retry: boolean) {
      const key = secretKeys.server(server.id, 'passphrase');
      if (!retry) {
        const stored = await secrets.get(key);
        if (stored) return stored;
      } else {
        await secrets.delete(key);
      }
      const typed = await vscode.window.showInputBox({
        title: `Passphrase for ${server.keyPath}`,
        prompt: retry ? 'That passphrase was wrong — try again' : `The key for ${server.name} is encrypted`,
        password: true,
        ignoreFocusOut: true,
      });
      if (typed !== undefined) fresh.add(server.id);
      return typed;
    },
    async passphraseAccepted(server: Server, passphrase: string) {
      if (!fresh.delete(server.id)) return;
      const choice = await vscode.window.showInformationMessage(
        `Remember the key passphrase for ${server.name} in VS Code's secret storage?`,
        'Remember',
        'Not Now',
      );
      if (choice === 'Remember') await secrets.set(secretKeys.server(server.id, 'passphrase'), passphrase);
    },
    knownFingerprint: (host, port) => store.getKnownHost(host, port)?.fingerprint,
    systemKnownKeys: (host, port) => {
      try {
        const file = path.join(os.homedir(), '.ssh', 'known_hosts');
        return knownHostKeys(fs.readFileSync(file, 'utf8'), host, port);
      } catch {
        return []; // no known_hosts: nothing to honour
      }
    },
    async confirmNewHost(info: HostKeyInfo) {
      const answer = await vscode.window.showWarningMessage(
        `First connection to ${info.host}:${info.port}. Trust this host?`,
        {
          modal: true,
          detail: `Its ${info.keyType} key fingerprint is\n${info.fingerprint}\n\nCompare it with the server's own (ssh-keygen -lf /etc/ssh/ssh_host_${info.keyType.replace(/^ssh-/, '').replace(/-.*/, '')}_key.pub) before you trust it.`,
        },
        'Trust and Connect',
      );
      return answer === 'Trust and Connect';
    },
    trustHost: (info) => store.trustHost(info),
    connectTimeoutMs: () => (config().get<number>('connectTimeoutSeconds') ?? 15) * 1000,
    idleMs: () => (config().get<number>('idleDisconnectMinutes') ?? 5) * 60_000,
  };
}
