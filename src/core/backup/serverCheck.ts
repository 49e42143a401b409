import type { z } from 'zod';
import { firstIssue, remoteDir, serverName } from '../model';
import { BackupError } from './errors';

export function check<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new BackupError('invalid-input', `${field}: ${firstIssue(r.error)}`);
  return r.data;
}

export function checkServer(server: { name: string; backupDir: string; problem?: string }): {
  name: string;
  backupDir: string;
} {
  if (server.problem) throw new BackupError('invalid-input', server.problem);
  return {
    name: check(serverName, server.name, 'Server name'),
    backupDir: check(remoteDir, server.backupDir, 'Backup directory'),
  };
}
