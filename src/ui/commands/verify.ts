// Verify Backup: restores a backup on the server into a throwaway target
// (core/backup/verify.ts), reports what came back against the counts of
// backup time, and refreshes the server so the rows show the recorded verdict.
import * as vscode from 'vscode';
import { BackupError } from '../../core/backup';
import { verifyBackup, verifyRefusal } from '../../core/backup/verify';
import { countsText } from '../../core/backup/verification';
import { engineSpec } from '../../core/engines';
import { backupTarget, recoveryKeys } from '../credentials';
import { ActionableError, provisionStep } from '../errors';
import { withRemote } from '../remote';
import type { Services } from '../services';
import { resolveBackup } from './targets';

export async function verifyBackupFile(services: Services, arg?: unknown): Promise<void> {
  const { server, database, entry } = await resolveBackup(services, arg, 'Verify Backup', ['local', 'both']);
  const refusal = verifyRefusal(database);
  if (refusal) throw new ActionableError(`${refusal}.`, []);
  const counts = engineSpec(database.engine).verify?.counts ?? 'tables';
  const result = await withRemote(
    services,
    server,
    { title: `Verifying ${entry.filename} on ${server.name}` },
    async ({ runner, progress, signal }) => {
      progress.report({ message: 'restoring into a scratch copy…' });
      const { target, secrets } = await backupTarget(services, server, database);
      try {
        return await verifyBackup(
          { run: (script, o) => runner.run(script, { ...o, secrets: [...secrets, ...(o?.secrets ?? [])] }) },
          target,
          entry.filename,
          { signal, identities: await recoveryKeys(services) },
        );
      } catch (err) {
        if (err instanceof BackupError && err.kind === 'tool-missing')
          throw new ActionableError(err.message, [provisionStep(server)]);
        throw err;
      } finally {
        services.tree.reload(server.id);
      }
    },
  );
  for (const t of result.tableCounts)
    services.log.info(
      `[${server.name}] verify ${entry.filename}: ${t.name} ${t.rows ?? 'missing'}${
        t.expected === undefined ? '' : ` (at backup time ${t.expected})`
      }`,
    );
  const seconds = result.ms === null ? '' : ` in ${(result.ms / 1000).toFixed(1)} s`;
  if (!result.ok)
    throw new ActionableError(`Verification of ${entry.filename} failed: ${result.problem}.`, []);
  const against =
    result.expectedTables === null
      ? ' (no counts were recorded at backup time to compare with)'
      : `, as at backup time`;
  const msg = `Verified ${entry.filename}: restored into a scratch copy on ${server.name}${seconds} — ${countsText(result, counts)}${against}.`;
  services.log.info(msg);
  void vscode.window.showInformationMessage(msg);
}
