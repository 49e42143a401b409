// A database's retention policy as the user sets it — a preset, or rules per
// side typed in an editor that previews, as you type, which of the listed
// backups each rule keeps and why — and Apply Retention Now…, which asks the
// server which backups the policy deletes and deletes them once confirmed.
// Also the one-time move of the old global "keep newest in S3" setting.
import * as vscode from 'vscode';
import type { Database, RetentionPolicy, RetentionRule, Server } from '../../core/model';
import {
  RETENTION_PRESETS,
  type RetentionCandidate,
  type RetentionDecision,
  describeRetention,
  formatRule,
  keepsAll,
  parseRule,
  selectRetention,
  summariseRetention,
} from '../../core/backup/retention';
import { deletionsOf, runRetentionNow } from '../../core/backup/retentionNow';
import { parseBackupName } from '../../core/backup/naming';
import { s3Access } from '../credentials';
import { UserCancelled } from '../errors';
import { confirmModal, pickOne } from '../input';
import { withRemote } from '../remote';
import type { Services } from '../services';
import { resolveDatabase } from './targets';

type Side = 'local' | 's3';
const SIDE_NAME: Record<Side, string> = { local: 'on the server', s3: 'in S3' };

/** "2026-11-30 02:00 UTC" from a backup's name. */
function when(name: string): string {
  const p = parseBackupName(name);
  return p ? `${p.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC` : name;
}

/** The backups the tree listed for this database, per side, as the selection reads them. */
async function listedCandidates(
  services: Services,
  server: Server,
  database: Database,
): Promise<Record<Side, RetentionCandidate[]> | undefined> {
  const entry = await services.catalog.load(server);
  if (entry.state !== 'ok') return undefined;
  const all = entry.listing.byDatabase.get(database.name) ?? [];
  return {
    local: all.filter((b) => b.location !== 's3').map((b) => ({ name: b.filename, verified: b.hasChecksum })),
    // In S3 only marked (verified) objects are listed at all.
    s3: all.filter((b) => b.location !== 'local').map((b) => ({ name: b.filename, verified: true })),
  };
}

interface RuleItem extends vscode.QuickPickItem {
  accept?: boolean;
}

/** One line per backup: kept (and why) or deleted. */
function decisionItems(decisions: readonly RetentionDecision[]): RuleItem[] {
  return decisions.map((d) => ({
    label: `${d.keep ? '$(pass)' : '$(trash)'} ${when(d.name)}`,
    description: d.keep ? `kept: ${d.reasons.join(', ')}` : 'deleted',
    alwaysShow: true,
  }));
}

/**
 * The editor of one side's rules: the rules typed as text ("last 7, daily 7,
 * weekly 4, monthly 12"), and below it every listed backup with what the rules
 * do to it, updated as the user types. Enter takes the rules.
 */
function editRule(
  title: string,
  side: Side,
  current: RetentionRule | undefined,
  candidates: RetentionCandidate[] | undefined,
  required: boolean,
): Promise<RetentionRule> {
  return new Promise((resolve, reject) => {
    const qp = vscode.window.createQuickPick<RuleItem>();
    qp.title = title;
    qp.placeholder = `Rules ${SIDE_NAME[side]}, e.g. last 7, daily 7, weekly 4, monthly 12 (also: within N days, yearly N)${required ? '' : ' — empty keeps all'}`;
    qp.value = formatRule(current);
    qp.ignoreFocusOut = true;
    qp.matchOnDescription = false;
    let rule: RetentionRule | undefined;
    const update = () => {
      const parsed = parseRule(qp.value);
      rule = undefined;
      if ('error' in parsed) {
        qp.items = [{ label: `$(error) ${parsed.error}`, alwaysShow: true }];
        return;
      }
      if (required && keepsAll(parsed.rule)) {
        qp.items = [
          {
            label:
              '$(error) A scheduled database needs a rule on the server (e.g. last 7): scheduled runs must not fill its disk',
            alwaysShow: true,
          },
        ];
        return;
      }
      rule = parsed.rule;
      const head: RuleItem = {
        label: `$(check) Use: ${formatRule(rule) || 'keep every backup'}`,
        alwaysShow: true,
        accept: true,
      };
      if (!candidates) {
        qp.items = [{ ...head, detail: 'No preview: the backups of this server could not be listed.' }];
        return;
      }
      const decisions = selectRetention(candidates, rule, { now: new Date() });
      const deleted = decisions.filter((d) => !d.keep).length;
      head.description = `keeps ${decisions.length - deleted} of the ${decisions.length} listed ${SIDE_NAME[side]}, deletes ${deleted}`;
      qp.items = [head, ...decisionItems(decisions)];
    };
    qp.onDidChangeValue(update);
    // Disposing hides the pick, which would read as a cancel: an accepted rule resolves first.
    let accepted = false;
    qp.onDidAccept(() => {
      if (!rule) return;
      accepted = true;
      resolve(rule);
      qp.dispose();
    });
    qp.onDidHide(() => {
      qp.dispose();
      if (!accepted) reject(new UserCancelled());
    });
    update();
    qp.show();
  });
}

const CUSTOM = '$(edit) Custom rules…';

/**
 * Asks for the policy: a preset, the current one, or custom rules per side in
 * the editor. `requireLocal`: a scheduled database needs a rule on the server.
 */
export async function askRetention(
  services: Services,
  server: Server,
  database: Database,
  opts: { title: (step: string) => string; s3: boolean; requireLocal: boolean },
): Promise<RetentionPolicy> {
  const current = database.retention;
  type Item = vscode.QuickPickItem & { policy?: RetentionPolicy };
  const items: Item[] = [];
  if (!opts.requireLocal || !keepsAll(current.local))
    items.push({
      label: '$(check) Keep the current policy',
      description: describeRetention(current),
      policy: current,
    });
  const def = services.store.getDefaultRetention();
  if (!keepsAll(def.local) || !keepsAll(def.s3))
    items.push({
      label: '$(star) The default for new databases',
      description: describeRetention(def),
      policy: def,
    });
  for (const p of RETENTION_PRESETS)
    if (!opts.requireLocal || !keepsAll(p.policy.local))
      items.push({ label: p.label, description: describeRetention(p.policy), policy: p.policy });
  items.push({
    label: CUSTOM,
    description: 'keep last N, within N days, daily, weekly, monthly, yearly — previewed as you type',
  });
  const picked = await pickOne(items, {
    title: opts.title('policy'),
    placeHolder: `Which backups of ${database.name} to keep (applied after each backup; the newest verified one is always kept)`,
  });
  if (picked.policy) return picked.policy;
  const candidates = await listedCandidates(services, server, database);
  const local = await editRule(
    opts.title('on the server'),
    'local',
    current.local,
    candidates?.local,
    opts.requireLocal,
  );
  const s3 = opts.s3
    ? await editRule(opts.title('in S3'), 's3', current.s3, candidates?.s3, false)
    : current.s3;
  return {
    ...(keepsAll(local) ? {} : { local }),
    ...(keepsAll(s3) ? {} : { s3 }),
  };
}

/** The modal's list: what is deleted, then what is kept and why (at most `max` lines per side). */
function planDetail(plan: Record<Side, RetentionDecision[]>, max = 12): string {
  const lines: string[] = [];
  for (const side of ['local', 's3'] as const) {
    const all = plan[side];
    if (!all.length) continue;
    const gone = all.filter((d) => !d.keep);
    lines.push(
      `${SIDE_NAME[side][0].toUpperCase()}${SIDE_NAME[side].slice(1)}: delete ${gone.length}, keep ${all.length - gone.length}`,
    );
    const shown = [
      ...gone.map((d) => `  delete ${when(d.name)}`),
      ...all.filter((d) => d.keep).map((d) => `  keep ${when(d.name)} — ${d.reasons.join(', ')}`),
    ];
    lines.push(...shown.slice(0, max));
    if (shown.length > max) lines.push(`  … and ${shown.length - max} more (all in the Infrakt log)`);
  }
  return lines.join('\n');
}

/**
 * Apply Retention Now… on a database row: the server lists the backups and
 * applies the policy as a preview; the modal shows what would be deleted and
 * why each other backup is kept; only what the user confirmed is deleted.
 */
export async function applyRetentionNow(services: Services, arg?: unknown): Promise<void> {
  const { server, database } = await resolveDatabase(services, arg, 'Apply Retention Now');
  const policy = database.retention;
  if (keepsAll(policy.local) && keepsAll(policy.s3)) {
    void vscode.window.showInformationMessage(
      `${database.name} keeps every backup: set a policy with Set Retention… first.`,
    );
    return;
  }
  const s3 = await s3Access(services);
  const creds = !keepsAll(policy.s3) && s3.state === 'ready' ? s3.creds : undefined;
  const s3Skipped =
    !keepsAll(policy.s3) && !creds
      ? s3.state === 'no-secret'
        ? s3.message
        : 'S3 storage is not configured'
      : '';
  const secrets = creds ? [creds.secretKey] : [];
  const title = `Retention of ${database.name} on ${server.name}`;
  const preview = await withRemote(
    services,
    server,
    { title: `${title}: listing`, secrets, timeoutMs: 180_000 },
    ({ runner }) => runRetentionNow(runner, server, database, creds),
  );
  const logPlan = (plan: Record<Side, RetentionDecision[]>) => {
    for (const side of ['local', 's3'] as const)
      for (const d of plan[side])
        services.log.info(
          `${title} ${SIDE_NAME[side]}: ${d.keep ? `keep ${d.name} (${d.reasons.join(', ')})` : `delete ${d.name}`}`,
        );
  };
  logPlan(preview);
  const gone = deletionsOf(preview);
  const count = gone.local.length + gone.s3.length;
  const notes = [
    preview.outcome.error ? `Not applied: ${preview.outcome.error}.` : '',
    s3Skipped ? `S3 not included: ${s3Skipped}.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  if (count === 0) {
    void vscode.window.showInformationMessage(
      `${title}: nothing to delete (${describeRetention(policy)}).${notes ? ` ${notes}` : ''}`,
    );
    return;
  }
  await confirmModal(
    `Delete ${count} backup(s) of ${database.name} on ${server.name}?`,
    `${planDetail(preview)}${notes ? `\n\n${notes}` : ''}\n\nDeleted backups cannot be recovered.`,
    'Delete',
  );
  const done = await withRemote(
    services,
    server,
    { title: `${title}: deleting`, secrets, timeoutMs: 600_000 },
    ({ runner }) => runRetentionNow(runner, server, database, creds, gone),
  );
  logPlan(done);
  services.tree.reload(server.id);
  const summary = summariseRetention(done.outcome).trim() || 'Retention deleted nothing.';
  const message = `${title}: ${summary}`;
  if (done.outcome.error) void vscode.window.showWarningMessage(message);
  else void vscode.window.showInformationMessage(message);
}

const MIGRATED = 'infrakt.retention.keepNewestMigrated';

/**
 * `infrakt.s3.keepNewest` (global, applied by Back Up Now) became each
 * database's policy: once, it is copied onto every database without a
 * schedule and without an S3 rule of its own ("last N" in S3). A scheduled
 * database keeps its schedule's own rule, which is what its runs applied.
 */
export async function migrateKeepNewestSetting(services: Services): Promise<void> {
  if (services.context.globalState.get<boolean>(MIGRATED)) return;
  const keep = vscode.workspace.getConfiguration('infrakt').get<number>('s3.keepNewest', 0);
  if (Number.isInteger(keep) && keep >= 1 && keep <= 1000) {
    const scheduled = new Set(services.store.listSchedules().map((s) => s.databaseId));
    const moved: string[] = [];
    for (const d of services.store.listDatabases()) {
      if (scheduled.has(d.id) || !keepsAll(d.retention.s3)) continue;
      services.store.setRetention(d.id, { ...d.retention, s3: { last: keep } });
      moved.push(d.name);
    }
    if (moved.length)
      services.log.info(
        `The setting infrakt.s3.keepNewest (${keep}) is now each database's retention: set on ${moved.join(', ')} (change it with Set Retention…)`,
      );
  }
  await services.context.globalState.update(MIGRATED, true);
}
