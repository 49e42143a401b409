import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { sequenceScripts } from '../../src/core/remote/script';
import { effectiveScheduleVerify } from '../../src/core/schedule/script';
import {
  CRON_PRESETS,
  cronExpression,
  describeCron,
  nextRun,
  parseCron,
  cronLine,
  scheduleHealth,
  scheduleView,
  type CronSchedule,
} from '../../src/core/schedule/cron';

const cron = (e: string) => parseCron(e) as CronSchedule;

describe('schedule', () => {
  it('accepts the presets and describes them', () => {
    assert.deepEqual(
      CRON_PRESETS.map((p) => describeCron(p.expression)),
      ['daily 02:00', 'every 6 hours', 'hourly', 'weekly Sun 02:00'],
    );
    for (const p of CRON_PRESETS) assert.equal(typeof parseCron(p.expression), 'object');
  });

  it('rejects bad expressions with a message that says what is wrong', () => {
    assert.match(cronExpression.safeParse('0 2 * *').error?.issues[0].message ?? '', /5 fields/);
    assert.match(
      cronExpression.safeParse('0 25 * * *').error?.issues[0].message ?? '',
      /hour must be within 0–23/,
    );
    assert.match(
      cronExpression.safeParse('0 2 * * mon; rm -rf /').error?.issues[0].message ?? '',
      /5 fields|not valid/,
    );
    assert.match(
      cronExpression.safeParse('x 2 * * *').error?.issues[0].message ?? '',
      /not valid in the minute field/,
    );
  });

  it('computes the next run in UTC', () => {
    const from = new Date('2026-11-24T01:30:00Z');
    assert.equal(nextRun(cron('0 2 * * *'), from)?.toISOString(), '2026-11-24T02:00:00.000Z');
    assert.equal(nextRun(cron('0 */6 * * *'), from)?.toISOString(), '2026-11-24T06:00:00.000Z');
    assert.equal(nextRun(cron('0 2 * * 0'), from)?.toISOString(), '2026-11-29T02:00:00.000Z');
    // Both day fields set: either may match, as cron does (the 13th, or a Friday).
    assert.equal(nextRun(cron('0 2 13 * 5'), from)?.toISOString(), '2026-11-27T02:00:00.000Z');
    assert.equal(nextRun(cron('0 0 31 2 *'), from), undefined, 'a day that never comes');
  });

  it('health: ok, failed, and stale after two missed intervals', () => {
    const now = new Date('2026-11-24T12:00:00Z');
    const ok = { started: '2026-11-24T02:00:00Z', finished: '2026-11-24T02:01:00Z', ok: true };
    assert.equal(scheduleHealth('0 2 * * *', ok, new Date(ok.finished), now).kind, 'ok');
    const failed = { started: '2026-11-24T02:00:00Z', ok: false, error: 'upload failed' };
    assert.deepEqual(scheduleHealth('0 2 * * *', failed, new Date('2026-11-23T02:01:00Z'), now), {
      kind: 'failed',
      at: new Date('2026-11-24T02:00:00Z'),
      error: 'upload failed',
    });
    const old = { started: '2026-11-20T02:00:00Z', finished: '2026-11-20T02:01:00Z', ok: true };
    assert.equal(scheduleHealth('0 2 * * *', old, new Date(old.finished), now).kind, 'stale');
    assert.equal(scheduleHealth('0 2 * * *', undefined, undefined, now).kind, 'never-run');
  });

  it('the crontab line: normalised schedule, script, log, and the marker that makes it ours', () => {
    assert.deepEqual(
      cronLine({
        databaseId: 'd-1',
        expression: '0  2 * * *',
        scriptPath: '/opt/infrakt/backups/backup-app.sh',
        logPath: '/opt/infrakt/backups/.status/app.log',
      }),
      {
        line: '0 2 * * * /opt/infrakt/backups/backup-app.sh >> /opt/infrakt/backups/.status/app.log 2>&1 # infrakt:backup:d-1',
        marker: '# infrakt:backup:d-1',
        expression: '0 2 * * *',
      },
    );
    assert.throws(() =>
      cronLine({ databaseId: 'd-1', expression: '* * *', scriptPath: '/x', logPath: '/y' }),
    );
    assert.throws(() =>
      cronLine({ databaseId: 'd 1', expression: '0 2 * * *', scriptPath: '/x', logPath: '/y' }),
    );
  });
});

describe('schedule on a database row', () => {
  const daily = {
    cron: '0 2 * * *',
    retention: { local: { within: 7 } },
    installedAt: '2026-11-20T10:00:00Z',
  };
  const now = new Date('2026-11-25T05:00:00Z');
  const ok = {
    started: '2026-11-25T02:00:00Z',
    finished: '2026-11-25T02:00:04Z',
    ok: true,
    file: 'f.dump.zst',
    uploaded: true,
  };

  it('ok with its age, not run yet, and the schedule and retention in the tooltip', () => {
    const v = scheduleView(daily, { installed: true, status: ok }, now);
    assert.equal(v.text, 'daily 02:00 · ok 2 h ago');
    assert.equal(v.problem, false);
    assert.match(
      v.detail.join('\n'),
      /0 2 \* \* \*, the server's time\); on the server: within 7 days; in S3: all kept/,
    );
    assert.match(v.detail.join('\n'), /f\.dump\.zst, uploaded to S3/);
    const fresh = { ...daily, installedAt: '2026-11-25T04:00:00Z' };
    assert.deepEqual(
      [
        scheduleView(fresh, { installed: true }, now).text,
        scheduleView(fresh, { installed: true }, now).problem,
      ],
      ['daily 02:00 · not run yet', false],
    );
    assert.equal(scheduleView(daily, undefined, now).text, 'daily 02:00 · …', 'not listed yet');
  });

  it('a schedule that verifies says when, and a run whose backup passed its verification restore says so', () => {
    const v = scheduleView(
      { ...daily, verify: 'each' },
      { installed: true, status: { ...ok, verified: true } },
      now,
    );
    assert.match(v.detail.join('\n'), /Verification restore: after every backup/);
    assert.match(v.detail.join('\n'), /f\.dump\.zst, uploaded to S3, verified by a restore/);
    const weekly = scheduleView({ ...daily, verify: 'weekly' }, { installed: true, status: ok }, now);
    assert.match(weekly.detail.join('\n'), /Verification restore: weekly/);
    assert.doesNotMatch(weekly.detail.join('\n'), /verified by a restore/);
    assert.doesNotMatch(
      scheduleView(daily, { installed: true, status: ok }, now).detail.join('\n'),
      /Verification/,
    );
    // Where it cannot run, the setting is off whatever was stored.
    const pg = { engine: 'postgres', mode: 'host' } as const;
    assert.equal(effectiveScheduleVerify('each', pg, false), 'each');
    assert.equal(effectiveScheduleVerify('each', pg, true), 'off', 'encrypted: the key is not on the server');
    assert.equal(effectiveScheduleVerify('weekly', { ...pg, mode: 'container' }, false), 'off');
  });

  it('failed: the cause, shortened, as a problem', () => {
    const long = 'aws s3 cp failed: '.padEnd(200, 'x');
    const v = scheduleView(
      daily,
      {
        installed: true,
        status: {
          started: '2026-11-25T02:00:00Z',
          ok: false,
          error: long,
          lastSuccess: '2026-11-24T02:00:03Z',
        },
      },
      now,
    );
    assert.equal(v.problem, true);
    assert.ok(v.text.startsWith('daily 02:00 · failed: aws s3 cp failed: xx'));
    assert.ok(v.text.endsWith('…') && v.text.length < 110, v.text);
    assert.match(v.detail.join('\n'), /Error: aws s3 cp failed/);
  });

  it('an upload failure shows its cause as Back Up Now says it, never awscli’s crash text', () => {
    const v = scheduleView(
      daily,
      {
        installed: true,
        status: {
          started: '2026-11-25T02:00:00Z',
          ok: false,
          file: 'f.dump.zst',
          error:
            "saved locally; upload to S3 failed: argument of type 'NoneType' is not iterable | infrakt: the S3 endpoint answered SignatureDoesNotMatch",
        },
      },
      now,
    );
    assert.equal(
      v.text,
      'daily 02:00 · failed: saved locally; upload to S3 failed: the secret key is wrong: the S3 endpoint re…',
    );
    assert.match(
      v.detail.join('\n'),
      /^Cause: saved locally; upload to S3 failed: the secret key is wrong: the S3 endpoint rejected the request signature — paste the secret key again in S3 Settings/m,
    );
  });

  it('stale after two missed intervals — also when it never ran since it was installed', () => {
    const late = new Date('2026-11-28T05:00:00Z');
    const v = scheduleView(daily, { installed: true, status: ok }, late);
    assert.equal(v.text, 'daily 02:00 · stale: no success in 2 intervals');
    assert.equal(v.problem, true);
    assert.match(v.detail.join('\n'), /Last success 3 days ago/);
    const never = scheduleView(daily, { installed: true }, late);
    assert.equal(never.text, 'daily 02:00 · stale: no success in 2 intervals');
    assert.match(never.detail.join('\n'), /No successful run since it was installed/);
  });

  it('missing crontab entry or unreadable status record are problems that say what to do', () => {
    const gone = scheduleView(daily, { installed: false, status: ok }, now);
    assert.equal(gone.text, 'daily 02:00 · not installed on the server');
    assert.equal(gone.problem, true);
    assert.match(gone.detail.join('\n'), /run Schedule Backups again/);
    const bad = scheduleView(
      daily,
      { installed: true, unreadable: 'the status record is not valid JSON' },
      now,
    );
    assert.deepEqual([bad.text, bad.problem], ['daily 02:00 · status unreadable', true]);
  });
});

describe('several scripts as one round trip', () => {
  it('runs each in its own subshell; the first failure stops the rest, keeps its status and names its step', () => {
    const script = sequenceScripts([
      { what: 'first', script: "{\n  trap 'echo cleanup-1' EXIT\n  echo one\n  exit 0\n}\n" },
      { what: "the second's step", script: '{\n  echo two\n  exit 7\n}\n' },
      { what: 'third', script: 'echo three\n' },
    ]);
    for (const shell of ['sh', 'bash']) {
      const r = spawnSync(shell, ['-s'], { input: script, encoding: 'utf8' });
      assert.equal(r.status, 7, shell);
      assert.equal(
        r.stdout,
        'one\ncleanup-1\ntwo\n',
        `${shell}: the first's trap ran when it ended; the third never ran`,
      );
      assert.equal(r.stderr, "infrakt: the second's step failed\n");
    }
    const ok = spawnSync('sh', ['-s'], {
      input: sequenceScripts([
        { what: 'a', script: 'echo a' },
        { what: 'b', script: 'echo b' },
      ]),
      encoding: 'utf8',
    });
    assert.deepEqual([ok.status, ok.stdout], [0, 'a\nb\n']);
  });
});
