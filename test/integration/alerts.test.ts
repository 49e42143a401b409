// Alerts from the server on real parts: a real HTTP receiver on 127.0.0.1
// records what every destination gets; the schedule is installed over the
// pooled ssh2 transport into a real sshd (root's real crontab, saved and
// restored; the expression never fires), its script run as cron runs it,
// with a real PostgreSQL, s3rver and the machine's curl. The canary is a
// token in every destination's URL (and ntfy's bearer token).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AlertTarget } from '../../src/core/alerts/destinations';
import { forServer } from '../../src/core/backup';
import { findOnPath } from '../../src/core/backup/localRestore';
import { parseAlertDeliveries, sendAlertScript } from '../../src/core/alerts/scripts';
import type { Server } from '../../src/core/model';
import { shellQuote as q } from '../../src/core/remote/script';
import { type SchedulePlan, installSchedule, removeSchedule } from '../../src/core/schedule/actions';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { keyServer, testEnv } from '../support/sshEnv';
import { scheduleFiles } from '../support/scheduleRun';
import { type Postgres, hostDatabase, startPostgres } from '../world/databases';
import { type HttpReceiver, type ReceivedRequest, startHttpReceiver } from '../world/httpReceiver';
import { S3RVER_KEY, s3rverSettings, startS3, stopS3AndRemove, type S3World } from '../world/s3';
import { startSshServer, type SshServer } from '../world/sshServer';
import { readCrontab, writeCrontab } from '../world/crontab';

const json = (r: ReceivedRequest): Record<string, unknown> => JSON.parse(r.body) as Record<string, unknown>;

describe('alerts from the server (real HTTP receiver + sshd + crontab + s3rver + PostgreSQL + curl)', function () {
  this.timeout(180_000);
  let sshd: SshServer;
  let s3: S3World;
  let pg: Postgres;
  let rx: HttpReceiver;
  let pool: ConnectionPool;
  let work: string;
  let server: Server;
  let savedCrontab: string | null | undefined;
  const canary = `alert-canary-${randomBytes(8).toString('hex')}`;
  const databaseId = `it-alerts-${process.pid}`;
  let files: { credentialsPath: string; passwordFile: string; alertsPath: string };
  const dest = (
    name: string,
    kind: AlertTarget['kind'],
    when: AlertTarget['when'],
    pathPart: string,
    token?: string,
  ): AlertTarget => ({ id: name, name, kind, when, url: `${rx.url}/${pathPart}/${canary}`, token });
  let destinations: AlertTarget[];
  const plan = (alerts: AlertTarget[]): SchedulePlan => ({
    databaseId,
    target: {
      server,
      database: hostDatabase(pg, 'shop'),
      password: { kind: 'inline', password: pg.password },
    },
    expression: '0 0 31 2 *',
    retention: { local: { last: 5 }, s3: {} },
    s3: { creds: { settings: s3rverSettings(s3, { prefix: 'alerts/' }), secretKey: S3RVER_KEY } },
    alerts,
    files,
  });
  const { paths, status, log } = scheduleFiles(() => server.backupDir, 'shop');
  /** A bin dir with every tool of /usr/bin but those named: a server without them. */
  const usrBinWithout = (name: string, ...missing: string[]) => {
    const bin = path.join(work, name);
    fs.mkdirSync(bin);
    for (const f of fs.readdirSync('/usr/bin'))
      if (!missing.includes(f)) fs.symlinkSync(path.join('/usr/bin', f), path.join(bin, f));
    return bin;
  };
  /** Send Test Alert's script for a failure, run on the server with only `bin` on PATH. */
  const sendFailureWith = (bin: string, targets: AlertTarget[], cause: string) =>
    pool.run(
      server,
      `PATH=${q(bin)}; export PATH\n${sendAlertScript(targets, {
        event: 'failed',
        server: server.name,
        database: 'shop',
        engine: 'postgres',
        cause,
        trigger: 'manual',
      })}`,
      { secrets: [canary] },
    );
  const runLikeCron = () =>
    pool.run(server, `env -i PATH=/usr/bin:/bin HOME=/root SHELL=/bin/sh LOGNAME=root ${q(paths().script)}`);

  before(async () => {
    savedCrontab = readCrontab();
    [sshd, s3, pg, rx] = await Promise.all([
      startSshServer(),
      startS3(),
      startPostgres(),
      startHttpReceiver(),
    ]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-alerts-'));
    files = {
      credentialsPath: path.join(work, 'opt', '.aws', 'credentials'),
      passwordFile: path.join(work, 'opt', '.secrets', 'shop.env'),
      alertsPath: path.join(work, 'opt', '.alerts', 'destinations'),
    };
    server = keyServer(sshd, path.join(work, 'backups'));
    pool = new ConnectionPool(testEnv());
    pg.createDatabase('shop');
    pg.sql('CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, $$a$$)', 'shop');
    destinations = [
      dest('Ops webhook', 'webhook', 'always', 'hook'),
      dest('Team Slack', 'slack', 'failure', 'slack'),
      dest('Discord', 'discord', 'failure', 'discord'),
      dest('Mattermost', 'mattermost', 'always', 'mm'),
      dest('ntfy', 'ntfy', 'failure', 'ntfy', `tk_${canary}`),
      dest('Healthchecks', 'healthchecks', 'failure', 'hc'),
    ];
  });
  after(async () => {
    try {
      if (savedCrontab !== undefined) writeCrontab(savedCrontab);
    } finally {
      pool?.dispose();
      await sshd?.stop();
      if (s3) await stopS3AndRemove(s3);
      pg?.stop();
      await rx?.stop();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('installs the destinations root-only (0600 in a 0700 dir); the cron script holds no URL or token', async () => {
    const r = await installSchedule(forServer(pool, server), plan(destinations));
    assert.deepEqual(
      r.warnings.filter((w) => /curl|wget|alert/.test(w)),
      [],
    );
    const st = fs.statSync(files.alertsPath);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(files.alertsPath)).mode & 0o777, 0o700);
    assert.ok(fs.readFileSync(files.alertsPath, 'utf8').includes(canary), 'the file holds the destinations');
    const script = fs.readFileSync(paths().script, 'utf8');
    assert.ok(!script.includes(canary), 'no URL or token in the cron script');
    assert.ok(script.includes(files.alertsPath), 'the script names the file it reads');
  });

  it('a success: healthchecks gets /start then its success ping; only the destinations set to "always" get the ok', async () => {
    rx.clear();
    const r = await runLikeCron();
    assert.equal(r.code, 0, `${r.stderr}\n${log()}`);
    const s = status();
    assert.equal(s.ok, true);
    assert.equal(s.alertError, undefined, s.alertError);
    const hc = rx.to('/hc/');
    assert.deepEqual(
      hc.map((x) => x.path),
      [`/hc/${canary}/start`, `/hc/${canary}`],
    );
    assert.ok(hc[0].at <= hc[1].at);
    assert.deepEqual(
      rx.requests
        .map((x) => x.path.split('/')[1])
        .filter((k) => k !== 'hc')
        .sort(),
      ['hook', 'mm'],
      'failure-only destinations get nothing on success',
    );
    const hook = json(rx.to('/hook/')[0]);
    assert.equal(hook.status, 'ok');
    assert.equal(hook.server, server.name);
    assert.equal(hook.database, 'shop');
    assert.equal(hook.engine, 'postgres');
    assert.equal(hook.file, s.file);
    assert.equal(hook.size, s.size);
    assert.equal(hook.cause, null);
    assert.equal(typeof hook.duration, 'number');
    assert.match(String(hook.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(String(json(rx.to('/mm/')[0]).text), /backup of shop \(postgres\) on web-1 ok: /);
  });

  it('S3 down: every kind gets the failure with the status record’s cause in its own shape; the canary is in no ps sample, script or log', async () => {
    rx.clear();
    // Each receiver answers after 400 ms, so the sampler sees curl while it sends.
    for (const p of ['/hook/', '/slack/', '/discord/', '/mm/', '/ntfy/', '/hc/'])
      rx.respond(p, 200, 'ok', 400);
    const samples: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const ps = spawnSync('ps', ['-eww', '-o', 'args='], { encoding: 'utf8' });
        samples.push(ps.stdout);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    await s3.stop();
    let r;
    try {
      r = await runLikeCron();
    } finally {
      sampling = false;
      await sampler;
      await s3.restart();
    }
    assert.equal(r.code, 75, `${r.stderr}\n${log()}`);
    const s = status();
    assert.equal(s.ok, false);
    const cause = s.error ?? '';
    assert.match(cause, /upload to S3 failed/);
    assert.ok(cause.includes('"'), 'the real cause carries quotes (awscli names the endpoint URL in quotes)');

    const hook = json(rx.to('/hook/')[0]);
    assert.equal(hook.status, 'failed');
    assert.equal(hook.cause, cause);
    assert.equal(hook.file, s.file, 'the local file is named (it was kept)');
    assert.equal(rx.to('/hook/')[0].headers['content-type'], 'application/json');
    const slack = json(rx.to('/slack/')[0]);
    assert.deepEqual(Object.keys(slack), ['text']);
    assert.ok(String(slack.text).endsWith(`FAILED: ${cause}`), String(slack.text));
    const discord = json(rx.to('/discord/')[0]);
    assert.ok(String(discord.content).endsWith(`FAILED: ${cause}`));
    assert.equal(discord.username, 'infrakt');
    assert.ok(String(json(rx.to('/mm/')[0]).text).endsWith(`FAILED: ${cause}`));
    const ntfy = rx.to('/ntfy/')[0];
    assert.equal(ntfy.headers.priority, 'high');
    assert.equal(ntfy.headers.authorization, `Bearer tk_${canary}`);
    assert.equal(ntfy.headers.title, 'infrakt: shop on web-1');
    assert.ok(ntfy.body.endsWith(`FAILED: ${cause}`), ntfy.body);
    assert.deepEqual(
      rx.to('/hc/').map((x) => x.path),
      [`/hc/${canary}/start`, `/hc/${canary}/fail`],
    );
    assert.equal(rx.to('/hc/')[1].body.trim(), cause);
    fs.writeFileSync(path.join(work, 'failure-alert-webhook.json'), rx.to('/hook/')[0].body);
    console.log(`      webhook body as received: ${rx.to('/hook/')[0].body.trim()}`);
    console.log(`      slack body as received: ${rx.to('/slack/')[0].body.trim()}`);

    assert.ok(
      samples.some((x) => /^curl -K -$/m.test(x)),
      `the sampler saw curl sending (${samples.length} samples)`,
    );
    assert.ok(!samples.some((x) => x.includes(canary)), 'no URL or token in any process list');
    for (const f of [paths().script, paths().status, paths().log])
      assert.ok(!fs.readFileSync(f, 'utf8').includes(canary), `${f} holds no URL or token`);
    assert.match(log(), /alert Team Slack \(slack, failed\): sent \(failed\): HTTP 200/);
  });

  it('a destination that is down or revoked leaves the backup result unchanged; the failure is in the status record and the log', async () => {
    rx.clear();
    rx.respond('/slack/', 410, 'no_service');
    const down = { ...dest('Gone', 'webhook', 'always', 'gone'), url: `http://127.0.0.1:1/gone/${canary}` };
    await installSchedule(forServer(pool, server), plan([...destinations, down]));
    // A failure (S3 down) so the failure-only Slack is sent too, and a success after it.
    await s3.stop();
    let r;
    try {
      r = await runLikeCron();
    } finally {
      await s3.restart();
    }
    assert.equal(r.code, 75, 'the exit code is the backup’s');
    let s = status();
    assert.equal(s.ok, false);
    assert.equal(s.exitCode, 75);
    assert.match(s.error ?? '', /upload to S3 failed/);
    assert.doesNotMatch(s.error ?? '', /alert to/, 'the backup’s cause is not mixed with the alerts');
    assert.match(
      s.alertError ?? '',
      /alert to Team Slack \(slack\) failed: HTTP 410: the webhook was revoked/,
    );
    assert.match(
      s.alertError ?? '',
      /alert to Gone \(webhook\) failed: not sent: curl: \(7\) .*127\.0\.0\.1 port 1/,
    );
    assert.ok(!(s.alertError ?? '').includes(canary));
    assert.match(log(), /alert Gone \(webhook, failed\): not sent: curl: \(7\)/);
    assert.ok(rx.to('/hook/').length === 1, 'the others were still sent');

    const r2 = await runLikeCron();
    assert.equal(r2.code, 0, `a success stays a success: ${log()}`);
    s = status();
    assert.equal(s.ok, true);
    assert.equal(s.exitCode, 0);
    assert.match(s.alertError ?? '', /alert to Gone \(webhook\) failed/);
    assert.ok(!log().includes(canary));
  });

  it('Send Test Alert: the HTTP status per destination, or the network error; hostile text is JSON-encoded and never run', async () => {
    rx.clear();
    const marker = path.join(work, 'pwned');
    const hostile = `it's "quoted" \\ back\nnew line $(touch ${marker}) \`touch ${marker}\`; rm -rf / & echo`;
    const down = { ...dest('Gone', 'slack', 'failure', 'gone'), url: `http://127.0.0.1:1/x/${canary}` };
    const targets = [destinations[0], destinations[1], down];
    const r = await pool.run(
      server,
      sendAlertScript(targets, {
        event: 'failed',
        server: server.name,
        database: 'shop',
        engine: 'postgres',
        cause: hostile,
        trigger: 'test',
      }),
      { secrets: [canary] },
    );
    assert.equal(r.code, 0, r.stderr);
    const d = parseAlertDeliveries(r.stdout, targets);
    assert.deepEqual(
      d.map((x) => [x.name, x.httpStatus, x.ok]),
      [
        ['Ops webhook', 200, true],
        ['Team Slack', 200, true],
        ['Gone', undefined, false],
      ],
    );
    assert.match(d[2].detail, /not sent: curl: \(7\) Failed to connect to 127\.0\.0\.1 port 1/);
    const hook = json(rx.to('/hook/')[0]);
    assert.equal(
      hook.cause,
      `it's "quoted" \\ back new line $(touch ${marker}) \`touch ${marker}\`; rm -rf / & echo`,
    );
    assert.equal(hook.trigger, 'test');
    assert.ok(String(json(rx.to('/slack/')[0]).text).includes('"quoted"'));
    assert.ok(!fs.existsSync(marker), 'nothing in the cause ran');
  });

  it('an Uptime Kuma push URL gets the outcome in its query (status=down on failure, up otherwise)', async () => {
    rx.clear();
    const kuma: AlertTarget = {
      id: 'kuma',
      name: 'Kuma',
      kind: 'healthchecks',
      when: 'always',
      url: `${rx.url}/api/push/${canary}?status=up&msg=OK&ping=`,
    };
    const send = (event: 'failed' | 'test') =>
      pool.run(
        server,
        sendAlertScript([kuma], {
          event,
          server: server.name,
          database: 'shop',
          engine: 'postgres',
          trigger: 'test',
        }),
        { secrets: [canary] },
      );
    assert.equal((await send('failed')).code, 0);
    assert.equal((await send('test')).code, 0);
    assert.deepEqual(
      rx.requests.map((x) => x.path),
      [`/api/push/${canary}?status=down&msg=backup%20failed`, `/api/push/${canary}?status=up&msg=OK`],
    );
  });

  it('without curl, GNU wget sends the same bodies and headers (token in a 0600 config file, URL on stdin), and names a network error', async () => {
    const bin = usrBinWithout('no-curl-bin', 'curl');
    rx.clear();
    rx.respond('/ntfy/', 200, 'ok', 400);
    const down = { ...dest('Gone', 'webhook', 'failure', 'gone'), url: `http://127.0.0.1:1/gone/${canary}` };
    const targets = [destinations[4], destinations[0], down];
    const samples: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(spawnSync('ps', ['-eww', '-o', 'args='], { encoding: 'utf8' }).stdout);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    let r;
    try {
      r = await sendFailureWith(bin, targets, 'dump failed: "x"');
    } finally {
      sampling = false;
      await sampler;
    }
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /curl/);
    const d = parseAlertDeliveries(r.stdout, targets);
    assert.deepEqual(
      d.map((x) => [x.name, x.httpStatus]),
      [
        ['ntfy', 200],
        ['Ops webhook', 200],
        ['Gone', undefined],
      ],
    );
    assert.match(d[2].detail, /not sent: .*(refused|failed)/i);
    const ntfy = rx.to('/ntfy/')[0];
    assert.equal(ntfy.method, 'POST');
    assert.equal(ntfy.headers.priority, 'high');
    assert.equal(ntfy.headers.authorization, `Bearer tk_${canary}`);
    assert.ok(ntfy.body.endsWith('FAILED: dump failed: "x"'));
    assert.equal(json(rx.to('/hook/')[0]).cause, 'dump failed: "x"');
    assert.ok(
      samples.some((x) => /^wget --config=\S+ -S -q -T 20 -t 1 -O \S+ -i -$/m.test(x)),
      `the sampler saw wget sending (${samples.length} samples)`,
    );
    assert.ok(!samples.some((x) => x.includes(canary)), 'no URL or token in any process list');
  });

  it("a server whose only wget is busybox's sends nothing (its token would be on its command line) and says to run Provision Server", async () => {
    const bin = usrBinWithout('busybox-wget-bin', 'curl', 'wget');
    fs.symlinkSync(findOnPath('busybox'), path.join(bin, 'wget'));
    rx.clear();
    const targets = [destinations[0]];
    const r = await sendFailureWith(bin, targets, 'dump failed');
    assert.equal(r.code, 0, r.stderr);
    const d = parseAlertDeliveries(r.stdout, targets);
    assert.equal(d[0].httpStatus, undefined);
    assert.match(
      d[0].detail,
      /its wget is busybox's, which cannot send alerts .* run Provision Server \(it installs curl\)/,
    );
    assert.deepEqual(rx.requests, [], 'nothing was sent');
  });

  it('removing the last schedule removes the destinations file', async () => {
    await removeSchedule(forServer(pool, server), {
      databaseId,
      backupDir: server.backupDir,
      databaseName: 'shop',
      hadPasswordFile: true,
      lastOnServer: true,
      files,
    });
    assert.ok(!fs.existsSync(files.alertsPath));
  });
});
