// A database's retention policy as the user sets it: two questions (days on
// the server, newest N in S3; empty keeps all), and the one-time move of the
// old global "keep newest in S3" setting onto the databases it applied to.
import * as vscode from 'vscode';
import {
  type Database,
  type RetentionPolicy,
  fieldValidator,
  localDays,
  s3KeepNewest,
} from '../../core/model';
import { askText } from '../input';
import type { Services } from '../services';

const optional = (schema: typeof localDays | typeof s3KeepNewest) => (v: string) =>
  v.trim() ? fieldValidator(schema)(v) : undefined;

/**
 * Asks for the policy, prefilled with the current one. `requireLocal`: a
 * scheduled database must keep a bounded number of days on the server.
 */
export async function askRetention(
  database: Database,
  serverName: string,
  opts: { title: (part: 'local' | 's3') => string; s3: boolean; requireLocal: boolean; defaultDays?: number },
): Promise<RetentionPolicy> {
  const current = database.retention;
  const days = await askText({
    title: opts.title('local'),
    prompt: `Delete ${database.name}'s backups on ${serverName} older than this many days (after each successful backup)${
      opts.requireLocal ? '' : ' — leave empty to keep them all'
    }`,
    value: current.localDays ? String(current.localDays) : opts.defaultDays ? String(opts.defaultDays) : '',
    placeHolder: opts.requireLocal ? 'days, e.g. 7' : 'empty: keep all',
    validate: opts.requireLocal ? fieldValidator(localDays) : optional(localDays),
  });
  let keep = current.s3KeepNewest ? String(current.s3KeepNewest) : '';
  if (opts.s3) {
    keep = await askText({
      title: opts.title('s3'),
      prompt: `Keep only the newest N backups of ${database.name} in S3 (after each successful upload) — leave empty to keep them all`,
      value: keep,
      placeHolder: 'empty: keep all',
      validate: optional(s3KeepNewest),
    });
  }
  return {
    ...(days ? { localDays: localDays.parse(days) } : {}),
    ...(keep ? { s3KeepNewest: s3KeepNewest.parse(keep) } : {}),
  };
}

const MIGRATED = 'infrakt.retention.keepNewestMigrated';

/**
 * `infrakt.s3.keepNewest` (global, applied by Back Up Now) became each
 * database's policy: once, it is copied onto every database without a
 * schedule and without an S3 rule of its own. A scheduled database keeps its
 * schedule's own rule, which is what its scheduled runs applied.
 */
export async function migrateKeepNewestSetting(services: Services): Promise<void> {
  if (services.context.globalState.get<boolean>(MIGRATED)) return;
  const keep = vscode.workspace.getConfiguration('infrakt').get<number>('s3.keepNewest', 0);
  if (Number.isInteger(keep) && keep >= 1 && keep <= 1000) {
    const scheduled = new Set(services.store.listSchedules().map((s) => s.databaseId));
    const moved: string[] = [];
    for (const d of services.store.listDatabases()) {
      if (scheduled.has(d.id) || d.retention.s3KeepNewest) continue;
      services.store.setRetention(d.id, { ...d.retention, s3KeepNewest: keep });
      moved.push(d.name);
    }
    if (moved.length)
      services.log.info(
        `The setting infrakt.s3.keepNewest (${keep}) is now each database's retention: set on ${moved.join(', ')} (change it with Set Retention…)`,
      );
  }
  await services.context.globalState.update(MIGRATED, true);
}
