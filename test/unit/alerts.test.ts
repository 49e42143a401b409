import * as assert from 'node:assert/strict';
import {
  type AlertTarget,
  alertSecrets,
  alertToken,
  alertUrl,
  checkAlertTarget,
  destinationLines,
} from '../../src/core/alerts/destinations';
import { alertsFileScript, parseAlertDeliveries, sendAlertScript } from '../../src/core/alerts/scripts';
import { scheduledBackupScript } from '../../src/core/schedule/script';
import { scheduleView } from '../../src/core/schedule/cron';

const problem = (schema: typeof alertUrl, v: string) => {
  const r = schema.safeParse(v);
  return r.success ? undefined : r.error.issues[0]?.message;
};

const slack: AlertTarget = {
  id: '1',
  name: 'Team Slack',
  kind: 'slack',
  when: 'failure',
  url: 'https://hooks.slack.com/services/T0/B0/CANARY1',
};
const ntfy: AlertTarget = {
  id: '2',
  name: 'Phone',
  kind: 'ntfy',
  when: 'always',
  url: 'https://ntfy.sh/backups',
  token: 'tk_CANARY2',
};

describe('alert destinations', () => {
  it('URLs: http or https with a host, no whitespace or quotes; each problem in one sentence', () => {
    assert.equal(problem(alertUrl, 'https://hooks.slack.com/services/T/B/x'), undefined);
    assert.equal(problem(alertUrl, 'http://127.0.0.1:8080/hook?x=1'), undefined);
    assert.match(problem(alertUrl, 'ftp://example.com/x') ?? '', /must start with https:\/\//);
    assert.match(
      problem(alertUrl, 'https://') ?? '',
      /must start with https:\/\/ \(or http:\/\/\) and name a host/,
    );
    assert.match(problem(alertUrl, 'https://a.example/x y') ?? '', /must not contain spaces/);
    assert.match(problem(alertUrl, 'https://a.example/"x') ?? '', /quotes/);
    assert.match(problem(alertUrl, "https://a.example/'x") ?? '', /quotes/);
    assert.match(problem(alertUrl, 'https://a.example/\\x') ?? '', /backslashes/);
    assert.match(problem(alertUrl, '') ?? '', /URL is required/);
    assert.match(problem(alertToken, 'tk a') ?? '', /without spaces/);
    assert.throws(() => checkAlertTarget({ ...slack, name: 'a\tb' }), /one line without tabs/);
    assert.throws(() => checkAlertTarget({ ...slack, when: 'sometimes' }), /failures only/);
  });

  it('the shell reads one tab-separated line per destination; "-" for no token; the secrets are URL and token', () => {
    assert.equal(
      destinationLines([slack, ntfy]),
      `slack\tfailure\t${slack.url}\t-\tTeam Slack\nntfy\talways\t${ntfy.url}\ttk_CANARY2\tPhone`,
    );
    assert.deepEqual(alertSecrets([slack, ntfy]), [slack.url, ntfy.url, 'tk_CANARY2']);
  });

  it('secrets reach the server only in the stdin script: the file script and the send script carry them in the preamble', () => {
    const file = alertsFileScript([slack, ntfy], '/opt/infrakt/.alerts/destinations');
    assert.match(file, /infrakt_write_secret_file/);
    const send = sendAlertScript([slack], {
      event: 'failed',
      server: 'web-1',
      database: 'shop',
      engine: 'postgres',
      cause: `it's "bad"`,
      trigger: 'manual',
    });
    const lines = send.split('\n').filter((l) => l.includes('CANARY1'));
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^infrakt_alert_dests='slack\tfailure\t/);
    assert.match(send, /\ninfrakt_alert_run\n/);
    assert.match(send, /curl -K -/);
  });

  it('the scheduled script reads the destinations file, and holds no URL', () => {
    const script = scheduledBackupScript({
      target: {
        server: { name: 'web-1', backupDir: '/var/backups/infrakt' },
        database: {
          name: 'shop',
          engine: 'postgres',
          mode: 'host',
          dbHost: '127.0.0.1',
          dbPort: 5432,
          dbUser: 'postgres',
          dbName: 'shop',
        },
        password: { kind: 'none' },
      },
      retention: { local: { last: 3 } },
      alertsPath: '/opt/infrakt/.alerts/destinations',
    });
    assert.match(script, /^infrakt_s_alerts='\/opt\/infrakt\/\.alerts\/destinations'$/m);
    assert.match(
      script,
      /# It holds no secret: alert destinations from \/opt\/infrakt\/\.alerts\/destinations/,
    );
    assert.match(script, /infrakt_alert_send_all/);
  });

  it('deliveries are read from the alert marks: HTTP status, or a network error', () => {
    const out = [
      '@@infrakt:alert 1 200 sent (test): HTTP 200',
      '@@infrakt:alert 2 error not sent: curl: (7) Failed to connect to ntfy.sh port 443',
      '@@infrakt:alert 9 200 a destination we did not send',
    ].join('\n');
    assert.deepEqual(parseAlertDeliveries(out, [slack, ntfy]), [
      { name: 'Team Slack', httpStatus: 200, ok: true, detail: 'sent (test): HTTP 200' },
      {
        name: 'Phone',
        httpStatus: undefined,
        ok: false,
        detail: 'not sent: curl: (7) Failed to connect to ntfy.sh port 443',
      },
    ]);
    assert.equal(parseAlertDeliveries('@@infrakt:alert 1 404 HTTP 404: revoked', [slack])[0].ok, false);
  });

  it("the schedule's tooltip names alerts that were not delivered", () => {
    const now = new Date('2026-01-02T03:00:00Z');
    const v = scheduleView(
      { cron: '0 2 * * *', retention: {} },
      {
        installed: true,
        status: {
          started: '2026-01-02T02:00:00Z',
          finished: '2026-01-02T02:01:00Z',
          ok: true,
          alertError: 'alert to Team Slack (slack) failed: HTTP 410: the webhook was revoked',
        },
      },
      now,
    );
    assert.ok(
      v.detail.includes(
        'Alerts not delivered: alert to Team Slack (slack) failed: HTTP 410: the webhook was revoked',
      ),
    );
  });
});
