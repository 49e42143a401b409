// The retention selection on the calendar, as tables of backups → kept (with
// the reason) or deleted. Each case runs through both implementations — the
// shell library's awk program (remote/sh/retention.sh, the one that deletes;
// under gawk, mawk and busybox awk) and selectRetention (the editor's preview)
// — and a randomized comparison holds the two equal beyond the table.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type RetentionCandidate,
  type RetentionDecision,
  type RetentionRule,
  describeRetention,
  formatRule,
  isoWeek,
  parseRule,
  retentionParts,
  selectRetention,
} from '../../src/core/backup/retention';
import { SH } from '../../src/core/remote/modules';
import { remoteScript } from '../../src/core/remote/script';
import { toolPath } from '../support/stubBin';

const BASE = 'web-1_shop_postgres_';
/** A backup named for "2026-12-01 02:00:00" (UTC), optionally the n-th of that second. */
const at = (when: string, seq = 1) =>
  `${BASE}${when.replace(/[-:]/g, '').replace(' ', 'T')}Z${seq > 1 ? `-${seq}` : ''}.dump.zst`;

/** The awks a server may have: each one installed here is a separate run of every case. */
const AWKS = (['gawk', 'mawk'] as const)
  .map((a): [string, string[]] => [a, [toolPath(a)]])
  .filter(([, p]) => p[0])
  .concat(toolPath('busybox') ? [['busybox awk', [toolPath('busybox'), 'awk']]] : []);

let bins: string;
before(() => {
  bins = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-awk-'));
  assert.ok(
    AWKS.length >= 2,
    `at least two awks to run the selection with (found: ${AWKS.map((a) => a[0])})`,
  );
  for (const [label, argv] of AWKS) {
    const dir = path.join(bins, label.replace(' ', '-'));
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'awk'), `#!/bin/sh\nexec ${argv.join(' ')} "$@"\n`, { mode: 0o755 });
  }
});
after(() => fs.rmSync(bins, { recursive: true, force: true }));

/** The shell library's selection of these candidates (listed as retention.sh lists them, in any order). */
function shellSelect(
  awk: string,
  candidates: readonly RetentionCandidate[],
  rule: RetentionRule,
  now: Date,
  justMade = '',
): RetentionDecision[] {
  const parts = retentionParts({ local: rule }, 'postgres');
  assert.ok(parts);
  const script = remoteScript({
    vars: {
      ...parts.vars,
      infrakt_base: BASE,
      infrakt_test_now: Math.floor(now.getTime() / 1000),
      infrakt_test_just: justMade,
      infrakt_test_names: candidates.map((c) => `${c.name}:${c.verified ? 1 : 0}`).join(' '),
    },
    modules: [
      SH.common,
      ...parts.modules,
      {
        name: 'select',
        text: [
          'infrakt_test_select() {',
          '  for infrakt_t in $infrakt_test_names; do',
          '    infrakt_ret_is_backup "${infrakt_t%:*}" || continue',
          '    infrakt_ret_line "${infrakt_t%:*}" "${infrakt_t##*:}"',
          '  done | LC_ALL=C sort -r | infrakt_ret_select "$infrakt_ret_local" "$infrakt_test_now" "$infrakt_test_just"',
          '}',
        ].join('\n'),
      },
    ],
    call: 'infrakt_test_select',
  });
  const r = spawnSync('sh', ['-s'], {
    input: script,
    encoding: 'utf8',
    env: { PATH: `${path.join(bins, awk.replace(' ', '-'))}:/usr/bin:/bin` },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^(keep|delete) (\S+) ?(.*)$/.exec(l);
      assert.ok(m, l);
      return { name: m[2], keep: m[1] === 'keep', reasons: m[3] ? m[3].split(', ') : [] };
    });
}

/** "kept: <reasons>" or "deleted", per name — how the tables below are written. */
const verdicts = (ds: readonly RetentionDecision[]) =>
  Object.fromEntries(ds.map((d) => [d.name, d.keep ? `kept: ${d.reasons.join(', ')}` : 'deleted']));

interface Case {
  title: string;
  rule: string;
  now: string;
  justMade?: string;
  /** Name → verdict; a name ending in " (no checksum)" is listed without its .sha256. */
  table: Record<string, string>;
}

const nc = ' (no checksum)';
const CASES: Case[] = [
  {
    title: 'several backups a day: "daily" keeps the newest of each day; "last" the newest N',
    rule: 'last 2, daily 2',
    now: '2026-12-03 12:00:00',
    table: {
      [at('2026-12-03 02:00:00')]: 'kept: last 2, daily 2026-12-03, newest verified',
      [at('2026-12-02 18:00:00')]: 'kept: last 2, daily 2026-12-02',
      [at('2026-12-02 06:00:00', 2)]: 'deleted',
      [at('2026-12-02 06:00:00')]: 'deleted',
      [at('2026-12-01 02:00:00')]: 'deleted',
    },
  },
  {
    title: 'the same second twice: -2 is the newer',
    rule: 'last 1',
    now: '2026-12-03 12:00:00',
    table: {
      [at('2026-12-03 02:00:00', 2)]: 'kept: last 1, newest verified',
      [at('2026-12-03 02:00:00')]: 'deleted',
    },
  },
  {
    title: 'month and year boundaries (UTC from the name): monthly and yearly take the newest of each',
    rule: 'monthly 3, yearly 2',
    now: '2027-01-15 00:00:00',
    table: {
      [at('2027-01-01 00:00:00')]: 'kept: monthly 2027-01, yearly 2027, newest verified',
      [at('2026-12-31 23:59:59')]: 'kept: monthly 2026-12, yearly 2026',
      [at('2026-12-01 00:00:00')]: 'deleted',
      [at('2026-11-30 23:59:59')]: 'kept: monthly 2026-11',
      [at('2026-10-31 12:00:00')]: 'deleted',
      [at('2025-12-31 12:00:00')]: 'deleted',
    },
  },
  {
    title: 'ISO week 53: 2026-12-31 (Thursday) to 2027-01-03 (Sunday) are one week, 2027-01-04 starts W01',
    rule: 'weekly 3',
    now: '2027-01-05 00:00:00',
    table: {
      [at('2027-01-04 01:00:00')]: 'kept: weekly 2027-W01, newest verified',
      [at('2027-01-03 23:00:00')]: 'kept: weekly 2026-W53',
      [at('2027-01-01 01:00:00')]: 'deleted',
      [at('2026-12-31 01:00:00')]: 'deleted',
      [at('2026-12-27 23:00:00')]: 'kept: weekly 2026-W52',
      [at('2026-12-21 00:00:00')]: 'deleted',
    },
  },
  {
    title: 'ISO week 1 that starts in the old year: 2024-12-30 is 2025-W01',
    rule: 'weekly 2, yearly 2',
    now: '2025-01-02 00:00:00',
    table: {
      [at('2025-01-01 01:00:00')]: 'kept: weekly 2025-W01, yearly 2025, newest verified',
      [at('2024-12-30 01:00:00')]: 'kept: yearly 2024',
      [at('2024-12-29 01:00:00')]: 'kept: weekly 2024-W52',
    },
  },
  {
    title: 'a leap day is a day of its own, and in its month',
    rule: 'daily 3, monthly 2',
    now: '2028-03-02 00:00:00',
    table: {
      [at('2028-03-01 01:00:00')]: 'kept: daily 2028-03-01, monthly 2028-03, newest verified',
      [at('2028-02-29 23:00:00')]: 'kept: daily 2028-02-29, monthly 2028-02',
      [at('2028-02-29 01:00:00')]: 'deleted',
      [at('2028-02-28 01:00:00')]: 'kept: daily 2028-02-28',
      [at('2028-02-27 01:00:00')]: 'deleted',
    },
  },
  {
    title: 'gaps of weeks: "daily 7" keeps the last 7 days that have a backup, however far back',
    rule: 'daily 3',
    now: '2026-12-01 00:00:00',
    table: {
      [at('2026-11-30 02:00:00')]: 'kept: daily 2026-11-30, newest verified',
      [at('2026-11-02 02:00:00')]: 'kept: daily 2026-11-02',
      [at('2026-10-05 02:00:00')]: 'kept: daily 2026-10-05',
      [at('2026-09-07 02:00:00')]: 'deleted',
    },
  },
  {
    title: '"within N days" keeps everything of the last N days (from now), however many',
    rule: 'within 2 days',
    now: '2026-12-03 12:00:00',
    table: {
      [at('2026-12-03 02:00:00')]: 'kept: within 2 days, newest verified',
      [at('2026-12-02 02:00:00', 3)]: 'kept: within 2 days',
      [at('2026-12-02 02:00:00')]: 'kept: within 2 days',
      [at('2026-12-01 12:00:00')]: 'kept: within 2 days',
      [at('2026-12-01 11:59:59')]: 'deleted',
    },
  },
  {
    title: 'a clock-skewed name from the future is the newest; the backup just made is kept anyway',
    rule: 'last 1',
    now: '2026-12-03 12:00:00',
    justMade: at('2026-12-03 12:00:00'),
    table: {
      [at('2027-06-01 00:00:00')]: 'kept: last 1, newest verified',
      [at('2026-12-03 12:00:00')]: 'kept: just made',
      [at('2026-12-02 12:00:00')]: 'deleted',
    },
  },
  {
    title: 'backups without a checksum are never kept by a rule, never count, and are never deleted',
    rule: 'last 1, daily 1',
    now: '2026-12-03 12:00:00',
    table: {
      [at('2026-12-03 02:00:00') + nc]: 'kept: no checksum',
      [at('2026-12-02 02:00:00')]: 'kept: last 1, daily 2026-12-02, newest verified',
      [at('2026-12-01 02:00:00') + nc]: 'kept: no checksum',
      [at('2026-11-30 02:00:00')]: 'deleted',
    },
  },
  {
    title: 'only unverified backups: nothing is kept by a rule, nothing is deleted',
    rule: 'last 1',
    now: '2026-12-03 12:00:00',
    table: {
      [at('2026-12-02 02:00:00') + nc]: 'kept: no checksum',
      [at('2026-12-01 02:00:00') + nc]: 'kept: no checksum',
    },
  },
  {
    title: 'the newest verified backup is kept even when no rule reaches it',
    rule: 'within 1 days',
    now: '2026-12-30 00:00:00',
    table: {
      [at('2026-12-01 02:00:00')]: 'kept: newest verified',
      [at('2026-11-30 02:00:00')]: 'deleted',
    },
  },
  { title: 'an empty listing: nothing to do', rule: 'last 1', now: '2026-12-30 00:00:00', table: {} },
  {
    title: 'names that are not backups of this database are not touched (not listed)',
    rule: 'last 1',
    now: '2026-12-30 00:00:00',
    table: { [at('2026-12-01 02:00:00')]: 'kept: last 1, newest verified' },
  },
];

const candidatesOf = (table: Record<string, string>): RetentionCandidate[] =>
  Object.keys(table).map((k) => ({ name: k.replace(nc, ''), verified: !k.endsWith(nc) }));
const expectedOf = (table: Record<string, string>) =>
  Object.fromEntries(Object.entries(table).map(([k, v]) => [k.replace(nc, ''), v]));

describe('retention selection on the calendar (tables: backup → kept with reason, or deleted)', () => {
  for (const c of CASES) {
    it(c.title, () => {
      const parsed = parseRule(c.rule);
      assert.ok('rule' in parsed, JSON.stringify(parsed));
      const now = new Date(`${c.now.replace(' ', 'T')}Z`);
      // Listed in a shuffled order, with strangers among them.
      const cands = [
        ...candidatesOf(c.table).reverse(),
        { name: 'web-1_orders_postgres_20261201T020000Z.dump.zst', verified: true },
        { name: `${BASE}20261201T020000Z.dump.zst.bak`, verified: true },
        { name: `web-2_shop_postgres_20261201T020000Z.dump.zst`, verified: true },
      ];
      const expected = expectedOf(c.table);
      const ts = selectRetention(cands.slice(0, Object.keys(c.table).length), parsed.rule, {
        now,
        justMade: c.justMade,
      });
      assert.deepEqual(verdicts(ts), expected, 'selectRetention');
      for (const [awk] of AWKS)
        assert.deepEqual(
          verdicts(shellSelect(awk, cands, parsed.rule, now, c.justMade)),
          expected,
          `retention.sh under ${awk}`,
        );
    });
  }

  it('ISO weeks agree with the calendar for every day of 2020–2030', () => {
    // Independent statement: the week of the Thursday of the same Monday-based week.
    for (let d = Date.UTC(2020, 0, 1) / 86_400_000; d < Date.UTC(2031, 0, 1) / 86_400_000; d++) {
      const date = new Date(d * 86_400_000);
      const thursday = new Date(date);
      thursday.setUTCDate(date.getUTCDate() + 3 - ((date.getUTCDay() + 6) % 7));
      const jan1 = Date.UTC(thursday.getUTCFullYear(), 0, 1);
      const week = Math.floor((thursday.getTime() - jan1) / 86_400_000 / 7) + 1;
      assert.equal(
        isoWeek(d),
        `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`,
        date.toISOString(),
      );
    }
    assert.equal(isoWeek(Date.UTC(2026, 11, 31) / 86_400_000), '2026-W53');
    assert.equal(isoWeek(Date.UTC(2027, 0, 4) / 86_400_000), '2027-W01');
  });

  it('randomized: the shell and the preview agree on 300 listings and rules', function () {
    this.timeout(120_000);
    let seed = 20261207;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const awk = AWKS[rand(AWKS.length)][0];
    for (let i = 0; i < 300; i++) {
      const now = Date.UTC(2025, 0, 1) + rand(800) * 86_400_000;
      const cands: RetentionCandidate[] = [];
      const count = rand(40);
      for (let j = 0; j < count; j++) {
        const t = new Date(now - rand(500) * 86_400_000 + rand(86_400) * 1000 - 20 * 86_400_000);
        const stamp = t.toISOString().slice(0, 19).replace('T', ' ');
        cands.push({ name: at(stamp, rand(4) === 0 ? 2 + rand(3) : 1), verified: rand(6) !== 0 });
      }
      const uniq = [...new Map(cands.map((c) => [c.name, c])).values()];
      const rule: RetentionRule = {};
      for (const k of ['last', 'within', 'daily', 'weekly', 'monthly', 'yearly'] as const)
        if (rand(2)) rule[k] = 1 + rand(10);
      if (!Object.keys(rule).length) rule.last = 1;
      const just = uniq.length && rand(2) ? uniq[rand(uniq.length)].name : '';
      const opts = { now: new Date(now), justMade: just || undefined };
      assert.deepEqual(
        shellSelect(awk, uniq, rule, opts.now, just),
        selectRetention(uniq, rule, opts),
        `case ${i} (${awk}): ${formatRule(rule)} at ${opts.now.toISOString()}`,
      );
    }
  });
});

describe('retention rules as typed', () => {
  it('reads and writes the editor’s text', () => {
    assert.deepEqual(parseRule('last 7, daily 7, weekly 4, monthly 12'), {
      rule: { last: 7, daily: 7, weekly: 4, monthly: 12 },
    });
    assert.deepEqual(parseRule(' Within 30 days; yearly=2 '), { rule: { within: 30, yearly: 2 } });
    assert.deepEqual(parseRule(''), { rule: {} });
    assert.equal(formatRule({ yearly: 2, last: 3, within: 30 }), 'last 3, within 30 days, yearly 2');
    for (const text of ['last 3, within 30 days, yearly 2', 'daily 7, weekly 4, monthly 12']) {
      const p = parseRule(text);
      assert.ok('rule' in p);
      assert.equal(formatRule(p.rule), text, 'the round trip is exact');
    }
  });

  it('refuses what is not a rule with one sentence that shows the form', () => {
    const error = (t: string) => {
      const p = parseRule(t);
      assert.ok('error' in p, t);
      return p.error;
    };
    assert.match(error('keep 7'), /^"keep 7" is not a rule: write rules like "last 7, daily 7/);
    assert.match(error('daily seven'), /"daily" needs a whole number/);
    assert.equal(error('daily 7, Weekly'), '"weekly" needs a number, e.g. weekly 4');
    assert.match(error('daily 0'), /"daily" keeps at least 1/);
    assert.match(error('weekly 9999'), /"weekly" is at most 520/);
    assert.match(error('daily 1.5'), /"daily" needs a whole number/);
    assert.match(error('last 1, last 2'), /"last" is given twice/);
    assert.match(error('daily 7; rm -rf /'), /is not a rule/);
  });

  it('a policy that keeps everything adds no retention to the run; one that does describes itself', () => {
    assert.equal(retentionParts({}, 'postgres'), undefined);
    assert.equal(retentionParts({ local: {}, s3: {} }, 'postgres'), undefined);
    assert.throws(() => retentionParts({ local: { last: 0 } }, 'postgres'), /keeps at least 1/);
    assert.equal(describeRetention({}), 'on the server: all kept; in S3: all kept');
    assert.equal(
      describeRetention({ local: { last: 7 }, s3: { daily: 7, weekly: 4, monthly: 12 } }),
      'on the server: last 7; in S3: daily 7, weekly 4, monthly 12',
    );
  });
});
