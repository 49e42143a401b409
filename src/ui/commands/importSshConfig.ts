// Import from SSH Config: ~/.ssh/config hosts → multi-select pick → servers.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseSshConfig, toImportCandidate, type ImportCandidate } from '../../core/server/sshConfig';
import { UserCancelled, isCancellation } from '../errors';
import { checkUntilDecided } from './connectionCheck';
import type { Services } from '../services';
import { defaultBackupDir } from './serverForm';

interface CandidateItem extends vscode.QuickPickItem {
  candidate: ImportCandidate;
}

function configPath(): string {
  return path.join(os.homedir(), '.ssh', 'config');
}

function firstDefaultKey(home: string): string | undefined {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa']
    .map((k) => path.join(home, '.ssh', k))
    .find((p) => fs.existsSync(p));
}

export async function importSshConfig(services: Services): Promise<void> {
  const file = configPath();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `No SSH config at ${file}. Add hosts there, or use "Infrakt: Add Server".`
        : `Could not read ${file}: ${(e as Error).message}`,
    );
  }
  const parsed = parseSshConfig(text);
  const home = os.homedir();
  const defaults = {
    localUser: os.userInfo().username,
    home,
    agentAvailable: !!process.env.SSH_AUTH_SOCK,
    defaultKey: firstDefaultKey(home),
    backupDir: defaultBackupDir(),
  };
  const existing = new Set(services.store.listServers().map((s) => s.name.toLowerCase()));
  for (const note of parsed.notes) services.log.info(`SSH config ${file}: ${note}`);
  if (parsed.skippedPatterns.length)
    services.log.info(`SSH config: wildcard hosts skipped: ${parsed.skippedPatterns.join(', ')}`);

  const candidates = parsed.hosts.map((h) => toImportCandidate(h, defaults));
  const importable = candidates.filter((c) => c.input && !existing.has(c.input.name.toLowerCase()));
  const already = candidates.filter((c) => c.input && existing.has(c.input.name.toLowerCase()));
  const broken = candidates.filter((c) => !c.input);
  for (const c of broken) services.log.warn(`SSH config host "${c.alias}" cannot be imported: ${c.problem}`);

  if (!importable.length) {
    const why = [
      parsed.hosts.length === 0 ? `no concrete Host entries in ${file}` : '',
      already.length ? `${already.length} already added` : '',
      broken.length ? `${broken.length} not importable (see the log)` : '',
    ]
      .filter(Boolean)
      .join('; ');
    void vscode.window
      .showInformationMessage(`Nothing to import: ${why}.`, 'Show Log')
      .then((c) => c && services.log.show(true));
    return;
  }

  const items: CandidateItem[] = importable.map((c) => {
    const i = c.input!;
    const auth = i.auth === 'key' ? `key ${i.keyPath}` : i.auth === 'agent' ? 'ssh-agent' : 'password';
    return {
      label: i.name,
      description: `${i.user}@${i.host}:${i.port ?? 22}`,
      detail: c.unsupported.length
        ? `$(warning) ${auth} · not applied: ${c.unsupported.join(', ')} (infrakt connects directly)`
        : auth,
      picked: c.unsupported.length === 0,
      candidate: c,
    };
  });
  const skippedNote = [
    already.length ? `${already.length} already added` : '',
    parsed.skippedPatterns.length ? `${parsed.skippedPatterns.length} wildcard skipped` : '',
    broken.length ? `${broken.length} not importable` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Import from SSH Config',
    placeHolder: `Choose the hosts to add from ~/.ssh/config${skippedNote ? ` (${skippedNote})` : ''}`,
    canPickMany: true,
    ignoreFocusOut: true,
    matchOnDescription: true,
  });
  if (!picked || picked.length === 0) throw new UserCancelled();

  // Each host is connected to once before it is saved (host key, what it is, or why not).
  const added: string[] = [];
  const skipped: string[] = [];
  const unchecked: string[] = [];
  for (const item of picked) {
    const id = randomUUID();
    let checked;
    let server;
    try {
      checked = await checkUntilDecided(services, {
        id,
        title: `Import ${item.label}`,
        first: { input: item.candidate.input! },
      });
      server = services.store.addServer(checked.input, id);
    } catch (err) {
      services.runner.forget?.(id);
      await services.secrets.deleteServerSecrets(id, []);
      if (!isCancellation(err)) throw err;
      skipped.push(item.label);
      services.log.info(`Import from SSH Config: ${item.label} not added (cancelled)`);
      continue;
    }
    added.push(server.name);
    if (!checked.outcome.ok) unchecked.push(server.name);
    services.log.info(
      `Imported ${server.name} (${server.user}@${server.host}:${server.port}, ${server.auth})` +
        (item.candidate.unsupported.length
          ? ` — not applied: ${item.candidate.unsupported.join(', ')}`
          : '') +
        (checked.outcome.ok ? '' : ` — not connected: ${checked.outcome.message}`),
    );
  }
  if (added.length === 0) throw new UserCancelled();
  const warned = picked.filter((p) => added.includes(p.label) && p.candidate.unsupported.length);
  const message =
    `Imported ${added.length} server(s): ${added.join(', ')}.` +
    (unchecked.length ? ` Saved without a working connection: ${unchecked.join(', ')} (see the log).` : '') +
    (skipped.length ? ` Not added: ${skipped.join(', ')}.` : '') +
    (warned.length
      ? ` ${warned.map((w) => `${w.label}: ${w.candidate.unsupported.join(', ')}`).join('; ')} not applied — infrakt connects directly.`
      : '');
  const show =
    warned.length || unchecked.length
      ? vscode.window.showWarningMessage
      : vscode.window.showInformationMessage;
  void show(message, 'Show Log').then((c) => c && services.log.show(true));
}
