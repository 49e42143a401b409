// Scheduled backups: cron expressions (validated, described, with presets),
// the crontab entry with its marker, and the run-status records that the
// installed script writes on the server.
import { Cron } from 'croner';
import { z } from 'zod';
import { humanAge } from '../format';
import { type RetentionPolicy, type ScheduleVerify, parseReadable, remoteDir } from '../model';
import { describeRetention } from '../backup/retention';
import { diagnoseS3Error } from '../s3/scripts';

export const CRON_PRESETS = [
  { label: 'Daily at 02:00', expression: '0 2 * * *' },
  { label: 'Every 6 hours', expression: '0 */6 * * *' },
  { label: 'Hourly', expression: '0 * * * *' },
  { label: 'Weekly (Sunday 02:00)', expression: '0 2 * * 0' },
] as const;

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

/**
 * Checks one field against what every server's cron (Vixie cron, cronie, busybox)
 * runs: numbers, ranges a-b, lists a,b and steps — with a message that says
 * which field is wrong. croner then parses the whole expression.
 */
function fieldError(text: string, f: (typeof FIELDS)[number]): string | undefined {
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m)
      return `"${part}" is not valid in the ${f.name} field (use numbers, ranges a-b, lists a,b, steps */n)`;
    if (m[4] && m[1] !== '*' && m[3] === undefined)
      return `"${part}" in the ${f.name} field: a step needs a range or *, e.g. ${m[2]}-${f.max}/${m[4]}`;
    const step = m[4] ? Number(m[4]) : 1;
    const lo = m[1] === '*' ? f.min : Number(m[2]);
    const hi = m[1] === '*' ? f.max : m[3] !== undefined ? Number(m[3]) : m[4] ? f.max : lo;
    if (lo < f.min || hi > f.max || lo > hi) return `${f.name} must be within ${f.min}–${f.max}`;
    if (step < 1) return `the step in the ${f.name} field must be at least 1`;
  }
  return undefined;
}

export interface CronSchedule {
  expression: string;
  cron: Cron;
}

export function parseCron(expression: string): CronSchedule | string {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) {
    return 'A cron expression has 5 fields: minute hour day-of-month month day-of-week, e.g. "0 2 * * *"';
  }
  for (let i = 0; i < 5; i++) {
    const e = fieldError(parts[i], FIELDS[i]);
    if (e) return e;
  }
  const normal = parts.join(' ');
  try {
    // UTC, as on most servers; day-of-month OR day-of-week when both are set, as cron does.
    return {
      expression: normal,
      cron: new Cron(normal, { paused: true, timezone: 'UTC', mode: '5-part', domAndDow: false }),
    };
  } catch (e) {
    return `"${normal}" is not a cron expression cron can run: ${e instanceof Error ? e.message : String(e)}`;
  }
}

export const cronExpression = z
  .string()
  .trim()
  .superRefine((v, ctx) => {
    const r = parseCron(v);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
  })
  .transform((v) => v.split(/\s+/).join(' '));

/** Next run strictly after `from` (UTC), or undefined for one that never comes (e.g. 31 February). */
export function nextRun(s: CronSchedule, from: Date): Date | undefined {
  return s.cron.nextRun(from) ?? undefined;
}

/** "daily 02:00", "every 6 hours", "hourly", "weekly Sun 02:00", or the expression itself. */
export function describeCron(expression: string): string {
  const e = expression.trim().split(/\s+/).join(' ');
  let m = /^(\d+) (\d+) \* \* \*$/.exec(e);
  if (m) return `daily ${m[2].padStart(2, '0')}:${m[1].padStart(2, '0')}`;
  m = /^(\d+) \*\/(\d+) \* \* \*$/.exec(e);
  if (m) return `every ${m[2]} hours`;
  if (/^\d+ \* \* \* \*$/.test(e)) return 'hourly';
  m = /^(\d+) (\d+) \* \* ([0-7])$/.exec(e);
  if (m) {
    const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][Number(m[3])];
    return `weekly ${day} ${m[2].padStart(2, '0')}:${m[1].padStart(2, '0')}`;
  }
  return `cron ${e}`;
}

/** The marker that identifies this database's crontab line, so install and remove are idempotent. */
export function cronMarker(databaseId: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(databaseId)) throw new Error('database id must be alphanumeric');
  return `# infrakt:backup:${databaseId}`;
}

/**
 * A path that goes into the crontab line: absolute, of characters that need no
 * quoting in sh (cron hands the line to sh), and no `%` (cron's newline).
 */
function cronPath(value: string, label: string): string {
  return parseReadable(remoteDir, value, label);
}

/** This database's crontab line: the schedule, the script (its output appended to the log) and the marker. */
export function cronLine(opts: {
  databaseId: string;
  expression: string;
  scriptPath: string;
  logPath: string;
}): { line: string; marker: string; expression: string } {
  const expression = parseReadable(cronExpression, opts.expression, 'Schedule');
  const marker = cronMarker(opts.databaseId);
  const script = cronPath(opts.scriptPath, 'Script path');
  const log = cronPath(opts.logPath, 'Log path');
  return { line: `${expression} ${script} >> ${log} 2>&1 ${marker}`, marker, expression };
}

export const runStatus = z.object({
  started: z.string(),
  finished: z.string().optional(),
  ok: z.boolean(),
  file: z.string().optional(),
  size: z.number().optional(),
  uploaded: z.boolean().optional(),
  error: z.string().optional(),
  /** The backup's checksum (when a file was committed). */
  sha256: z.string().optional(),
  /** When the last successful run finished (carried over by failed runs; for "stale"). */
  lastSuccess: z.string().optional(),
  /** The run's exit status (0 when ok). */
  exitCode: z.number().optional(),
  /** Backups this run removed by local retention / S3 keep-newest. */
  deletedLocal: z.number().optional(),
  deletedS3: z.number().optional(),
  /** Alerts of this run that could not be sent (the run's result is unchanged by them). */
  alertError: z.string().optional(),
  /** The verification restore of this run's backup passed (false: it did not); absent when none ran. */
  verified: z.boolean().optional(),
});
export type RunStatus = z.infer<typeof runStatus>;

export type ScheduleHealth =
  | { kind: 'never-run' }
  | { kind: 'ok'; at: Date }
  | { kind: 'failed'; at: Date; error: string }
  | { kind: 'stale'; lastSuccess?: Date };

/**
 * ok / failed from the last run; stale when no success within two intervals
 * of the schedule (a missed or silently broken cron).
 */
export function scheduleHealth(
  expression: string,
  status: RunStatus | undefined,
  lastSuccess: Date | undefined,
  now: Date,
): ScheduleHealth {
  const s = parseCron(expression);
  if (typeof s !== 'string') {
    const reference = lastSuccess ?? (status ? new Date(status.started) : undefined);
    if (reference) {
      const first = nextRun(s, reference);
      const second = first ? nextRun(s, first) : undefined;
      if (second && now.getTime() > second.getTime() + 15 * 60_000) return { kind: 'stale', lastSuccess };
    }
  }
  if (!status) return { kind: 'never-run' };
  const at = new Date(status.finished ?? status.started);
  return status.ok ? { kind: 'ok', at } : { kind: 'failed', at, error: status.error ?? 'unknown error' };
}

/** What the server said about one database's schedule (from the tree's listing round trip). */
export interface ScheduleOnServer {
  /** Its crontab entry (with our marker) is in the crontab. */
  installed: boolean;
  status?: RunStatus;
  /** The status record exists but could not be read (why). */
  unreadable?: string;
}

/** A database row's schedule part: "daily 02:00 · ok 3 h ago", and whether it needs attention. */
export interface ScheduleView {
  text: string;
  problem: boolean;
  /** Tooltip lines. */
  detail: string[];
}

const ERROR_CHARS = 80;

/**
 * A run's error as the user should read it: an upload failure's awscli text
 * becomes its cause, as Back Up Now says it ("saved locally; upload to S3
 * failed: the secret key is wrong: …").
 */
function readableRunError(error: string): { text: string; next?: string } {
  const m = /^(.*?upload to S3 failed: )([\s\S]*)$/.exec(error);
  if (!m) return { text: error };
  const d = diagnoseS3Error(m[2], 'the server');
  return { text: `${m[1]}${d.cause}`, next: d.next };
}

/** "after every backup", "weekly": when a schedule's verification restore runs. */
export function describeScheduleVerify(v: ScheduleVerify): string {
  return v === 'each'
    ? 'after every backup'
    : v === 'weekly'
      ? 'weekly (after the first backup a week after the last good one)'
      : 'off';
}

export function scheduleView(
  schedule: { cron: string; retention: RetentionPolicy; installedAt?: string; verify?: ScheduleVerify },
  onServer: ScheduleOnServer | undefined,
  now: Date,
): ScheduleView {
  const what = describeCron(schedule.cron);
  const detail = [
    `Schedule: ${what} (${schedule.cron}, the server's time); ${describeRetention(schedule.retention)}`,
    ...(schedule.verify && schedule.verify !== 'off'
      ? [`Verification restore: ${describeScheduleVerify(schedule.verify)}`]
      : []),
  ];
  const view = (state: string, problem: boolean, more: string[] = []): ScheduleView => ({
    text: `${what} · ${state}`,
    problem,
    detail: [...detail, ...more],
  });
  if (!onServer) return view('…', false);
  if (!onServer.installed)
    return view('not installed on the server', true, [
      'The crontab entry is missing on the server — run Schedule Backups again to reinstall it.',
    ]);
  if (onServer.unreadable) return view('status unreadable', true, [`Last run: ${onServer.unreadable}`]);
  const s = onServer.status;
  const lastSuccess = s?.ok
    ? new Date(s.finished ?? s.started)
    : s?.lastSuccess
      ? new Date(s.lastSuccess)
      : undefined;
  // Never ran: count the intervals from the install, so a cron that never fires shows as stale too.
  const since = lastSuccess ?? (!s && schedule.installedAt ? new Date(schedule.installedAt) : undefined);
  const health = scheduleHealth(schedule.cron, s, since, now);
  const last = s
    ? [
        `Last run: ${s.ok ? 'ok' : 'failed'} at ${new Date(s.finished ?? s.started).toISOString().replace('T', ' ').slice(0, 19)} UTC${
          s.file
            ? ` — ${s.file}${s.uploaded ? ', uploaded to S3' : ''}${s.verified === true ? ', verified by a restore' : ''}`
            : ''
        }`,
        ...(s.error ? [`Error: ${s.error}`] : []),
        ...(s.alertError ? [`Alerts not delivered: ${s.alertError}`] : []),
      ]
    : [];
  switch (health.kind) {
    case 'never-run':
      return view('not run yet', false, ['It has not run yet.']);
    case 'ok':
      return view(`ok ${humanAge(health.at, now)}`, false, last);
    case 'failed': {
      const readable = readableRunError(health.error);
      const e = readable.text.replace(/\s+/g, ' ').trim();
      return view(`failed: ${e.length > ERROR_CHARS ? `${e.slice(0, ERROR_CHARS - 1)}…` : e}`, true, [
        ...last,
        ...(readable.next ? [`Cause: ${readable.text} — ${readable.next}.`] : []),
        'See the log on the server beside the status record (.status/<db>.log), or run Back Up Now to see the cause.',
      ]);
    }
    case 'stale':
      return view('stale: no success in 2 intervals', true, [
        ...last,
        lastSuccess
          ? `Last success ${humanAge(lastSuccess, now)} — check that cron runs on the server (Provision Server).`
          : 'No successful run since it was installed — check that cron runs on the server (Provision Server).',
      ]);
  }
}
