// A verification's verdict (Verify Backup, remote/sh/verify.sh), as its
// result line and the record beside the backup (<backup>.verify) have it, and
// how the tree says it. Kept apart from the script builder so the listing can
// carry it without importing the runner.
import { z } from 'zod';
import { humanAge } from '../format';
import { MARKS, markValues } from '../remote/protocol';

const count = z.number().int().nonnegative();

/** One verification, as the result line and the record beside the backup have it. */
export const verificationSchema = z.object({
  verified: z.string(),
  ok: z.boolean(),
  /** When it ran (epoch seconds, the server's clock). */
  at: count,
  /** How long the restore into the scratch target took. */
  ms: count.nullable(),
  tables: count.nullable(),
  rows: count.nullable(),
  /** The live database's counts at backup time; null when the backup has none (older, or not counted). */
  expectedTables: count.nullable(),
  expectedRows: count.nullable(),
  problem: z.string(),
});
export type Verification = z.infer<typeof verificationSchema>;

/** "1.2 M": a count in a few characters. */
export function shortCount(n: number): string {
  if (n < 1000) return String(n);
  const [v, u] = n < 1e6 ? [n / 1e3, 'k'] : n < 1e9 ? [n / 1e6, 'M'] : [n / 1e9, 'G'];
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, '') : Math.round(v)} ${u}`;
}

/** "14 tables, 1.2 M rows" (or "2 databases, 340 keys" for Redis). */
export function countsText(v: Pick<Verification, 'tables' | 'rows'>, counts: 'tables' | 'keys'): string {
  const t = v.tables ?? 0;
  const r = v.rows ?? 0;
  return counts === 'keys'
    ? `${t} database${t === 1 ? '' : 's'}, ${shortCount(r)} key${r === 1 ? '' : 's'}`
    : `${t} table${t === 1 ? '' : 's'}, ${shortCount(r)} row${r === 1 ? '' : 's'}`;
}

/** The tree's line: "verified 2 days ago · 14 tables, 1.2 M rows" or "verification failed 3 h ago". */
export function verificationText(v: Verification, counts: 'tables' | 'keys', now = new Date()): string {
  const age = humanAge(new Date(v.at * 1000), now);
  return v.ok ? `verified ${age} · ${countsText(v, counts)}` : `verification failed ${age}`;
}

/** The tooltip's lines about a verification: when, what came back, against what, and what was wrong. */
export function verificationLines(v: Verification, counts: 'tables' | 'keys'): string[] {
  const when = `${new Date(v.at * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const lines = [
    v.ok
      ? `Verified ${when}: restored into a scratch copy, ${countsText(v, counts)}${v.ms === null ? '' : ` in ${(v.ms / 1000).toFixed(1)} s`}`
      : `Verification failed ${when}: ${v.problem}`,
  ];
  if (v.expectedTables !== null)
    lines.push(`At backup time: ${countsText({ tables: v.expectedTables, rows: v.expectedRows }, counts)}`);
  return lines;
}

/** The newest of some verifications. */
export function newestVerification(vs: readonly (Verification | undefined)[]): Verification | undefined {
  let best: Verification | undefined;
  for (const v of vs) if (v && (!best || v.at > best.at)) best = v;
  return best;
}

/** The listing's verification records (list.sh infrakt_list_verified), by backup file name. */
export function parseVerifications(stdout: string): Map<string, Verification> {
  const out = new Map<string, Verification>();
  for (const v of markValues(stdout, MARKS.verified)) {
    const at = v.indexOf(' ');
    if (at < 0) continue;
    try {
      const r = verificationSchema.safeParse(JSON.parse(v.slice(at + 1)));
      if (r.success) out.set(v.slice(0, at), r.data);
    } catch {
      // a record cut short: no verification shown
    }
  }
  return out;
}
