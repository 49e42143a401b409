// Add Server, Edit Server and each host of Import from SSH Config connect once
// before they save: the host-key prompt comes there, and the user hears what
// the server is (Test Connection's probe) or why it could not be reached — with
// Save Anyway for a server that is down right now, Edit, or Cancel. Add
// Database checks its database the same way (core/backup/databaseCheck).
import * as vscode from 'vscode';
import { type Server, type ServerInput, parseReadable, serverInput } from '../../core/model';
import { secretKeys } from '../../core/secrets';
import { describeProbe, parseProbe, probeScript } from '../../core/server/probe';
import { isCancellation, messageOf, UserCancelled } from '../errors';
import { runRemote } from '../remote';
import type { Services } from '../services';
import { type ServerFormResult, serverForm } from './serverForm';

export type CheckOutcome =
  { ok: true; summary: string; warning: boolean } | { ok: false; message: string; cancelled?: boolean };

/** Test Connection's probe on a server (saved or not yet): its one-line summary, or throws. */
export async function probeServer(
  services: Services,
  server: Server,
  title: string,
): Promise<{ summary: string; warning: boolean }> {
  const result = await runRemote(services, server, {
    title,
    script: probeScript(server.backupDir),
    timeoutMs: 60_000,
  });
  if (result.code !== 0)
    throw new Error(
      `Test Connection on ${server.name} failed (exit ${result.code}): ${result.stderr.trim().slice(0, 300)}`,
    );
  const probe = parseProbe(result.stdout);
  const summary = describeProbe(server.name, probe, server.backupDir);
  services.log.info(summary);
  return { summary, warning: probe.privilege === 'none' || probe.backupDir === 'not-writable' };
}

/** The probe as a check: a failure (or the user's cancel) is its outcome, never thrown. */
async function checkServer(services: Services, server: Server): Promise<CheckOutcome> {
  try {
    return { ok: true, ...(await probeServer(services, server, `Connecting to ${server.name}…`)) };
  } catch (err) {
    if (isCancellation(err))
      return { ok: false, cancelled: true, message: 'The connection check was cancelled.' };
    return { ok: false, message: messageOf(err) };
  }
}

/**
 * After a failed check: 'save' (Save Anyway) or 'edit'; Cancel throws
 * UserCancelled. `what` names the thing, e.g. `server "web-1"`.
 */
export async function askAfterFailure(
  headline: string,
  message: string,
  what: 'server' | 'database',
): Promise<'save' | 'edit'> {
  const answer = await vscode.window.showWarningMessage(
    headline,
    {
      modal: true,
      detail: `${message}\n\nSave Anyway keeps the ${what} as entered (for one that is down right now); Edit goes back to what you entered; Cancel saves nothing.`,
    },
    'Save Anyway',
    'Edit',
  );
  if (answer === 'Save Anyway') return 'save';
  if (answer === 'Edit') return 'edit';
  throw new UserCancelled();
}

/** The server as it would be saved, for the check (the store is not touched). */
function candidate(services: Services, id: string, input: ServerInput, base?: Server): Server {
  const s = parseReadable(serverInput, input, 'Server');
  const taken = services.store
    .listServers()
    .some((x) => x.id !== id && x.name.toLowerCase() === s.name.toLowerCase());
  if (taken) throw new Error(`A server named "${s.name}" already exists; choose another name.`);
  const now = new Date().toISOString();
  return {
    ...(base ?? { createdAt: now, updatedAt: now }),
    id,
    name: s.name,
    host: s.host,
    port: s.port,
    user: s.user,
    auth: s.auth,
    keyPath: s.auth === 'key' ? s.keyPath : undefined,
    backupDir: s.backupDir,
    problem: undefined,
  };
}

export interface CheckedServer {
  input: ServerInput;
  server: Server;
  outcome: CheckOutcome;
}

/**
 * Checks a server under `id` until the user is done: connected, or Save Anyway
 * after a failure; Edit re-opens the form (`title`) with what was entered.
 * A typed password is stored under `id` first (the connection reads it from
 * there), so the caller removes it again when the user cancels.
 */
export async function checkUntilDecided(
  services: Services,
  opts: { id: string; title: string; first: ServerFormResult; base?: Server },
): Promise<CheckedServer> {
  let { input, password } = opts.first;
  const passwordKey = secretKeys.server(opts.id, 'password');
  for (;;) {
    const server = candidate(services, opts.id, input, opts.base);
    if (password) await services.secrets.set(passwordKey, password);
    services.runner.forget?.(opts.id);
    const outcome = await checkServer(services, server);
    if (outcome.ok) return { input, server, outcome };
    services.log.warn(`Connection check of ${server.name}: ${outcome.message}`);
    const where = `${server.user}@${server.host}:${server.port}`;
    const choice = await askAfterFailure(
      outcome.cancelled
        ? `The connection check of "${server.name}" (${where}) was cancelled.`
        : `Could not connect to "${server.name}" (${where}).`,
      outcome.message,
      'server',
    );
    if (choice === 'save') return { input, server, outcome };
    const hasPassword = (await services.secrets.get(passwordKey)) !== undefined;
    ({ input, password } = await serverForm(opts.title, server, hasPassword));
  }
}

/** The sentence after saving: what the check found, or that it was saved unchecked and why. */
export function savedMessage(name: string, verb: string, outcome: CheckOutcome): string {
  return outcome.ok
    ? `Server "${name}" ${verb} — ${outcome.summary}`
    : `Server "${name}" ${verb} without a working connection: ${outcome.message.replace(/\.$/, '')}.`;
}
