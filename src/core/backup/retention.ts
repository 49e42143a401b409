// Retention: which backups of a database are kept, on the server's disk and in
// S3. The policy is the database's (Set Retention…, or the Schedule Backups
// questions): per side, keep the last N, everything of the last N days, and
// the newest backup of each of the last N days, ISO weeks, months and years
// that have one (as restic and borg count them). The shell library applies it
// (remote/sh/retention.sh), right after each backup the pipeline commits and
// for Apply Retention Now…; `selectRetention` below is the same selection for
// the editor's preview as the user types. The two are held equal by one table
// of cases and a randomized comparison (test/unit/retention*.test.ts).
//
// Rules that keep the last good copy: only verified backups (a .sha256 beside
// them) are kept by a rule or count for one; the newest verified backup and the
// one just made are always kept; a backup without a checksum is never deleted
// by a policy (it is reported, for a person to decide); time buckets are UTC
// and come from the backup's name, never from a file's mtime.
import { z } from 'zod';
import {
  RETENTION_RULES,
  type RetentionPolicy,
  type RetentionRule,
  type RetentionRuleKind,
  parseReadable,
  retentionPolicy,
  retentionRule,
} from '../model';
import { COMPRESSIONS, ENCRYPTED_EXT, parseBackupName } from './naming';
import { engineSpec, type Engine } from '../engines';
import { MARKS, markValues } from '../remote/protocol';
import { SH } from '../remote/modules';
import type { ShellModule, ShellVars } from '../remote/script';

export type { RetentionPolicy, RetentionRule };

/** The rule a scheduled database gets on the server when it has none: the last 7 backups. */
export const DEFAULT_SCHEDULED_LOCAL: RetentionRule = { last: 7 };

/** True when the rule keeps every backup (no rule set). */
export function keepsAll(rule: RetentionRule | undefined): boolean {
  return !rule || RETENTION_RULES.every((k) => !rule[k]);
}

const RULE_WORDS: Record<RetentionRuleKind, (n: number) => string> = {
  last: (n) => `last ${n}`,
  within: (n) => `within ${n} days`,
  daily: (n) => `daily ${n}`,
  weekly: (n) => `weekly ${n}`,
  monthly: (n) => `monthly ${n}`,
  yearly: (n) => `yearly ${n}`,
};

/** "last 3, daily 7, weekly 4" — the form the editor shows and reads back; "" keeps all. */
export function formatRule(rule: RetentionRule | undefined): string {
  if (!rule) return '';
  return RETENTION_RULES.filter((k) => rule[k])
    .map((k) => RULE_WORDS[k](rule[k]!))
    .join(', ');
}

const EXAMPLE = '"last 7, daily 7, weekly 4, monthly 12" (also: within N days, yearly N); empty keeps all';

/** Reads the editor's text back into a rule, or one sentence saying what is wrong. */
export function parseRule(text: string): { rule: RetentionRule } | { error: string } {
  const out: Record<string, number> = {};
  for (const part of text.split(/[,;]/)) {
    const p = part.trim();
    if (!p) continue;
    const bare = p.toLowerCase() as RetentionRuleKind;
    if (RETENTION_RULES.includes(bare)) return { error: `"${bare}" needs a number, e.g. ${bare} 4` };
    const m = /^([a-z]+)\s*[ =:]\s*(\S+?)(?:\s*(?:d|days?))?$/i.exec(p);
    const kind = m?.[1].toLowerCase() as RetentionRuleKind | undefined;
    if (!m || !kind || !RETENTION_RULES.includes(kind))
      return { error: `"${p}" is not a rule: write rules like ${EXAMPLE}` };
    if (out[kind] !== undefined) return { error: `"${kind}" is given twice: keep one` };
    const r = retentionRule.shape[kind].safeParse(m[2]);
    if (!r.success || r.data === undefined)
      return { error: r.success ? `"${kind}" needs a number` : (r.error.issues[0]?.message ?? 'bad number') };
    out[kind] = r.data;
  }
  return { rule: out as RetentionRule };
}

/** "on the server: last 7; in S3: daily 7, weekly 4, monthly 12" (or that all are kept). */
export function describeRetention(p: RetentionPolicy | undefined): string {
  const side = (r: RetentionRule | undefined) => (keepsAll(r) ? 'all kept' : formatRule(r));
  return `on the server: ${side(p?.local)}; in S3: ${side(p?.s3)}`;
}

/** Ready-made policies (the editor offers them first; Custom… types the rules). */
export const RETENTION_PRESETS: readonly { label: string; policy: RetentionPolicy }[] = [
  {
    label: 'Last 7 on the server; 7 daily, 4 weekly, 12 monthly in S3',
    policy: { local: { last: 7 }, s3: { daily: 7, weekly: 4, monthly: 12 } },
  },
  {
    label: 'Last 3 on the server; 14 daily, 8 weekly, 24 monthly, 5 yearly in S3',
    policy: { local: { last: 3 }, s3: { daily: 14, weekly: 8, monthly: 24, yearly: 5 } },
  },
  {
    label: '7 daily, 4 weekly on the server; last 30 in S3',
    policy: { local: { daily: 7, weekly: 4 }, s3: { last: 30 } },
  },
  { label: 'Keep every backup', policy: {} },
];

/** A rule as the shell reads it: "last=3 within=0 daily=7 weekly=0 monthly=0 yearly=0"; "" keeps all. */
function ruleVar(rule: RetentionRule | undefined): string {
  return keepsAll(rule) ? '' : RETENTION_RULES.map((k) => `${k}=${rule?.[k] ?? 0}`).join(' ');
}

/** "<format>.<ext>" endings a backup of this engine may have (the same rule as parseBackupName). */
function tails(engine: Engine): string {
  return engineSpec(engine)
    .formats.flatMap((f) => COMPRESSIONS.flatMap((c) => [`${f}.${c}`, `${f}.${c}${ENCRYPTED_EXT}`]))
    .join(' ');
}

/** Each side's rule and the engine's name endings, as the shell reads them. */
function policyVars(policy: RetentionPolicy, engine: Engine): ShellVars {
  const p = parseReadable(retentionPolicy, policy, 'Retention');
  return {
    infrakt_ret_local: ruleVar(p.local),
    infrakt_ret_s3: ruleVar(p.s3),
    infrakt_ret_tails: tails(engine),
  };
}

/** The retention module and its variables for a backup of this engine, or nothing when the policy keeps all. */
export function retentionParts(
  policy: RetentionPolicy | undefined,
  engine: Engine,
): { vars: ShellVars; modules: ShellModule[] } | undefined {
  if (!policy) return undefined;
  const vars = policyVars(policy, engine);
  if (!vars.infrakt_ret_local && !vars.infrakt_ret_s3) return undefined;
  return { vars, modules: [SH.retention] };
}

/**
 * Apply Retention Now…'s variables: the same rules, run without a new backup.
 * `confirmed`: the names the user saw marked for deletion (apply deletes only
 * those the rules still select); none: a preview that deletes nothing.
 */
export function retentionNowVars(
  policy: RetentionPolicy,
  engine: Engine,
  confirmed?: { local: readonly string[]; s3: readonly string[] },
): ShellVars {
  return {
    ...policyVars(policy, engine),
    infrakt_ret_apply: confirmed ? 'confirmed' : 'none',
    infrakt_ret_confirmed: confirmed
      ? [...confirmed.local, ...confirmed.s3.map((k) => `s3:${k}`)].join(' ')
      : '',
  };
}

// ---------------------------------------------------------------------------
// The selection (the same as retention.sh's awk program).

/** A backup the listing found: its name and whether its .sha256 is beside it. */
export interface RetentionCandidate {
  name: string;
  verified: boolean;
}

/** Kept (with every reason) or deleted. */
export interface RetentionDecision {
  name: string;
  keep: boolean;
  /** "last 3", "within 30 days", "daily 2026-12-01", "weekly 2026-W49", "monthly 2026-11", "yearly 2026", "newest verified", "just made", "no checksum". */
  reasons: string[];
}

const DAY = 86_400;

/** Days since 1970-01-01 of a civil date (the shell computes the same arithmetic). */
function daysFromCivil(y: number, m: number, d: number): number {
  return Math.floor(Date.UTC(y, m - 1, d) / 1000 / DAY);
}

/** "2026-W49": the ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeek(days: number): string {
  const weekday = ((((days + 3) % 7) + 7) % 7) + 1; // Monday 1 … Sunday 7
  const thursday = days - weekday + 4;
  const year = new Date(thursday * DAY * 1000).getUTCFullYear();
  const week = Math.floor((thursday - daysFromCivil(year, 1, 1)) / 7) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/**
 * Which backups the rule keeps, newest first. Names that are not backups of
 * this form are left out (never deleted). An empty rule keeps everything.
 */
export function selectRetention(
  candidates: readonly RetentionCandidate[],
  rule: RetentionRule,
  opts: { now: Date; justMade?: string },
): RetentionDecision[] {
  const parsed = candidates
    .map((c) => ({ c, p: parseBackupName(c.name) }))
    .filter((x) => x.p !== undefined)
    .sort(
      (a, b) =>
        b.p!.startedAt.getTime() - a.p!.startedAt.getTime() ||
        b.p!.sequence - a.p!.sequence ||
        (a.c.name < b.c.name ? 1 : -1),
    );
  const out: RetentionDecision[] = parsed.map((x) => ({ name: x.c.name, keep: false, reasons: [] }));
  if (keepsAll(rule)) return out.map((d) => ({ ...d, keep: true, reasons: ['policy keeps all'] }));
  const now = Math.floor(opts.now.getTime() / 1000);
  const buckets: Record<'daily' | 'weekly' | 'monthly' | 'yearly', { last?: string; n: number }> = {
    daily: { n: 0 },
    weekly: { n: 0 },
    monthly: { n: 0 },
    yearly: { n: 0 },
  };
  let verifiedSeen = 0;
  parsed.forEach((x, i) => {
    const d = out[i];
    if (!x.c.verified) {
      d.reasons.push('no checksum');
      return;
    }
    verifiedSeen++;
    const t = Math.floor(x.p!.startedAt.getTime() / 1000);
    const days = Math.floor(t / DAY);
    const iso = new Date(t * 1000).toISOString();
    const keys = {
      daily: iso.slice(0, 10),
      weekly: isoWeek(days),
      monthly: iso.slice(0, 7),
      yearly: iso.slice(0, 4),
    };
    if (rule.last && verifiedSeen <= rule.last) d.reasons.push(`last ${rule.last}`);
    if (rule.within && t >= now - rule.within * DAY) d.reasons.push(`within ${rule.within} days`);
    for (const k of ['daily', 'weekly', 'monthly', 'yearly'] as const) {
      const b = buckets[k];
      if (b.last === keys[k]) continue;
      b.last = keys[k];
      b.n++;
      if (rule[k] && b.n <= rule[k]!) d.reasons.push(`${k} ${keys[k]}`);
    }
    if (verifiedSeen === 1) d.reasons.push('newest verified');
  });
  for (const d of out) {
    if (opts.justMade && d.name === opts.justMade) d.reasons.push('just made');
    d.keep = d.reasons.length > 0;
  }
  return out;
}

// ---------------------------------------------------------------------------
// What the shell reports.

const outcome = z.object({ deletedLocal: z.number().int(), deletedS3: z.number().int(), error: z.string() });

export interface RetentionOutcome {
  /** What was deleted: file names on the server, keys in S3. */
  deletedLocal: string[];
  deletedS3: string[];
  /** Why a part of it did not run or did not finish (nothing else was lost). */
  error?: string;
}

/** What the pipeline's retention did, from the backup's output; undefined when it did not run. */
export function parseRetention(stdout: string): RetentionOutcome | undefined {
  const line = markValues(stdout, MARKS.retention).pop();
  if (line === undefined) return undefined;
  let parsed: z.infer<typeof outcome>;
  try {
    parsed = outcome.parse(JSON.parse(line));
  } catch {
    return { deletedLocal: [], deletedS3: [], error: 'the retention outcome was unreadable' };
  }
  const deleted = markValues(stdout, MARKS.deleted);
  return {
    deletedLocal: deleted.filter((d) => d.startsWith('local ')).map((d) => d.slice(6)),
    deletedS3: deleted.filter((d) => d.startsWith('s3 ')).map((d) => d.slice(3)),
    error: parsed.error || undefined,
  };
}

/** The plan the shell printed (one `retain` mark per backup): each side's decisions, newest first. */
export function parseRetentionPlan(stdout: string): { local: RetentionDecision[]; s3: RetentionDecision[] } {
  const plan = { local: [] as RetentionDecision[], s3: [] as RetentionDecision[] };
  for (const line of markValues(stdout, MARKS.retain)) {
    const m = /^(local|s3) (keep|delete) (\S+) ?(.*)$/.exec(line);
    if (!m) continue;
    plan[m[1] as 'local' | 's3'].push({
      name: m[3],
      keep: m[2] === 'keep',
      reasons: m[4] ? m[4].split(', ') : [],
    });
  }
  return plan;
}

/** One sentence for the message after a backup: what retention deleted, or why it stopped. */
export function summariseRetention(r: RetentionOutcome | undefined): string {
  if (!r) return '';
  const parts: string[] = [];
  if (r.deletedLocal.length) parts.push(`${r.deletedLocal.length} old backup(s) on the server`);
  if (r.deletedS3.length) parts.push(`${r.deletedS3.length} in S3`);
  const done = parts.length ? ` Retention deleted ${parts.join(' and ')}.` : '';
  return r.error ? `${done} Retention did not finish: ${r.error}.` : done;
}
