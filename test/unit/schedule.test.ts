import * as assert from 'node:assert/strict';
import {
  CRON_PRESETS,
  cronExpression,
  describeCron,
  installCronLines,
  nextRun,
  parseCron,
  removeCronLines,
  scheduleHealth,
  type CronSchedule,
} from '../../src/core/schedule';

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

  it('cron lines carry a marker and replace only their own entry', () => {
    const lines = installCronLines({
      databaseId: 'd-1',
      expression: '0  2 * * *',
      scriptPath: '/opt/infrakt/backups/backup-app.sh',
      logPath: '/opt/infrakt/backups/.status/app.log',
    }).join('\n');
    assert.match(lines, /grep -vF '# infrakt:backup:d-1'/);
    assert.match(lines, /0 2 \* \* \* \/opt\/infrakt\/backups\/backup-app\.sh >> .* # infrakt:backup:d-1/);
    assert.match(removeCronLines('d-1').join('\n'), /grep -vF '# infrakt:backup:d-1' \| crontab -/);
    assert.throws(() =>
      installCronLines({ databaseId: 'd-1', expression: '* * *', scriptPath: '/x', logPath: '/y' }),
    );
  });
});
