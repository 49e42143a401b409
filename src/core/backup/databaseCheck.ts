// Add Database's check before it saves (remote/sh/dbcheck.sh): the dump tool a
// backup would use, found as a backup finds it, and whether the database
// answers the query a backup asks for its size.
import { z } from 'zod';
import { engineSpec } from '../engines';
import { SH } from '../remote/modules';
import { EXIT, parseResultLine } from '../remote/protocol';
import { remoteScript } from '../remote/script';
import { targetVars } from './backupScript';
import { BackupError, errorFromOutcome, stderrExcerpt } from './errors';
import type { ScriptRunner } from './run';
import { type BackupTarget, checkTarget } from './target';

export interface DatabaseCheck {
  /** The dump stage a backup would run, e.g. "pg_dump" or "pg_dump in container x". */
  tool: string;
  /** Whether the database answered; 'unknown' when its engine (or the server's client tools) cannot be asked. */
  answered: 'yes' | 'unknown';
  /** Its size as its server reports it, when it said. */
  sizeBytes?: number;
}

export function databaseCheckScript(target: BackupTarget): string {
  const t = checkTarget(target);
  return remoteScript({
    vars: targetVars(t),
    modules: [SH.common, engineSpec(t.engine).shell, SH.pipeline, SH.dbcheck],
    call: 'infrakt_check_database',
  });
}

const checkResult = z.object({
  tool: z.string(),
  answered: z.enum(['yes', 'unknown']),
  size: z.string().regex(/^\d*$/),
});

/** Runs the check; a missing tool or a database that does not answer is a BackupError naming it. */
export async function checkDatabase(
  runner: ScriptRunner,
  target: BackupTarget,
  signal?: AbortSignal,
): Promise<DatabaseCheck> {
  const name = `${target.database.name} on ${target.server.name}`;
  const r = await runner.run(databaseCheckScript(target), { signal });
  if (r.code === EXIT.toolMissing)
    throw errorFromOutcome(r, { serverName: target.server.name, action: `Checking ${name}` });
  if (r.code !== 0) {
    const why = stderrExcerpt(r.stderr.replace(/^infrakt: the database did not answer.*$/m, ''));
    throw new BackupError(
      'dump-failed',
      `${name} did not answer${why ? `: ${why}` : ` (exit ${r.code})`} — ${
        engineSpec(target.database.engine).location === 'file'
          ? 'check the path of its file'
          : 'check its host, port, user and password, and that it is running'
      }.`,
      { exitCode: r.code, stderr: why },
    );
  }
  const parsed = parseResultLine(r.stdout, checkResult);
  if (!parsed)
    throw new BackupError('unexpected', `The check of ${name} printed no result`, {
      stderr: r.stderr.slice(-400),
    });
  return {
    tool: parsed.tool,
    answered: parsed.answered,
    sizeBytes: parsed.size ? Number(parsed.size) : undefined,
  };
}
