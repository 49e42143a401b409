// The S3 scripts run by bash against a real S3 server (s3rver) on 127.0.0.1,
// with the machine's real awscli. (Run locally here; the same text goes over SSH in the product.)
import * as assert from 'node:assert/strict';
import {
  diagnoseS3Error,
  parseS3Steps,
  listS3PrefixesScript,
  splitS3Prefixes,
  testConnectionScript,
  type S3Credentials,
} from '../../src/core/s3/scripts';
import { s3DatabasePrefix } from '../../src/core/s3/layout';
import { s3rverSettings, startS3, stopS3AndRemove, type S3World } from '../world/s3';
import { runLocalScript } from '../support/localShell';
import { awsShell } from '../support/aws';

describe('S3 scripts with awscli against s3rver (local bash)', function () {
  this.timeout(120_000);
  let s3: S3World;
  const creds = (over: Partial<S3Credentials['settings']> = {}, secretKey = 'S3RVER'): S3Credentials => ({
    settings: s3rverSettings(s3, over),
    secretKey,
  });

  before(async () => {
    s3 = await startS3();
  });
  after(async () => {
    await stopS3AndRemove(s3);
  });

  it('Test Connection: put, head, get + sha256, list, delete all succeed and leave nothing behind', async () => {
    const r = await runLocalScript(testConnectionScript(creds(), 'infrakt-probe-1.txt'));
    const steps = parseS3Steps(r.stdout);
    assert.deepEqual(
      steps.map((s) => `${s.step}:${s.ok}`),
      ['put:true', 'head:true', 'get:true', 'list:true', 'delete:true'],
      r.stderr,
    );
    assert.equal(r.code, 0);
    assert.deepEqual(s3.listKeys(), []);
  });

  it('a wrong access key fails at put with a mapped cause', async () => {
    const r = await runLocalScript(testConnectionScript(creds({ accessKey: 'WRONGKEY' }), 'p.txt'));
    const steps = parseS3Steps(r.stdout);
    assert.equal(steps[0].step, 'put');
    assert.equal(steps[0].ok, false);
    assert.notEqual(r.code, 0);
    assert.match(diagnoseS3Error(steps[0].detail, 'web-1', 'put').cause, /access key is not known/);
  });

  it('a missing bucket is reported as such', async () => {
    const r = await runLocalScript(testConnectionScript(creds({ bucket: 'no-such-bucket' }), 'p.txt'));
    const [put] = parseS3Steps(r.stdout);
    assert.equal(put.ok, false);
    assert.match(diagnoseS3Error(put.detail, 'web-1', 'put').cause, /bucket does not exist/);
  });

  it('a stopped server is reported as unreachable', async () => {
    await s3.stop();
    try {
      const r = await runLocalScript(testConnectionScript(creds(), 'p.txt'));
      const [put] = parseS3Steps(r.stdout);
      assert.equal(put.ok, false);
      assert.match(diagnoseS3Error(put.detail, 'web-1', 'put').cause, /cannot reach the S3 endpoint/);
    } finally {
      await s3.restart();
    }
  });

  it('the secret is never written to disk or argv by the script (it is only exported)', () => {
    const script = testConnectionScript(creds({}, 'CANARY-SECRET-123'), 'p.txt');
    const lines = script
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.includes('CANARY-SECRET-123'));
    assert.deepEqual(lines, ["AWS_SECRET_ACCESS_KEY='CANARY-SECRET-123'"]);
    assert.ok(
      script.split('\n').some((l) => /^export .*\bAWS_SECRET_ACCESS_KEY\b/.test(l)),
      'the secret is exported for awscli',
    );
  });

  it('lists several prefixes in one script run, names with spaces intact', async () => {
    const seed = awsShell(
      creds(),
      [
        'set -e',
        'echo hello > "$infrakt_aws_dir/f"',
        `awsx s3 cp "$infrakt_aws_dir/f" "s3://$infrakt_bucket/infrakt/backups/app/app_1.dump.zst" >/dev/null`,
        `awsx s3 cp "$infrakt_aws_dir/f" "s3://$infrakt_bucket/infrakt/backups/app/app 2.dump.zst" >/dev/null`,
        `awsx s3 cp "$infrakt_aws_dir/f" "s3://$infrakt_bucket/infrakt/backups/cache/cache_1.rdb.zst" >/dev/null`,
      ].join('\n'),
    );
    const seeded = await runLocalScript(seed);
    assert.equal(seeded.code, 0, seeded.stderr);
    const prefixes = ['app', 'cache', 'empty'].map((db) => s3DatabasePrefix('infrakt/backups/', db));
    const r = await runLocalScript(listS3PrefixesScript(creds(), prefixes));
    assert.equal(r.code, 0, r.stderr);
    const docs = splitS3Prefixes(r.stdout);
    const names = (i: number): string[] =>
      ((JSON.parse(docs.get(i) ?? 'null') ?? []) as [string, number, string][]).map((row) => row[0]).sort();
    assert.deepEqual(names(0), ['infrakt/backups/app/app 2.dump.zst', 'infrakt/backups/app/app_1.dump.zst']);
    assert.deepEqual(names(1), ['infrakt/backups/cache/cache_1.rdb.zst']);
    assert.deepEqual(names(2), [], 'an empty prefix is an empty list');
  });

  it('a path prefix that starts with a dash reaches awscli as a value, not an option (Test Connection and the listing)', async () => {
    const dashed = creds({ prefix: '-1/infrakt/' });
    const t = await runLocalScript(testConnectionScript(dashed, 'infrakt-probe-dash.txt'));
    assert.deepEqual(
      parseS3Steps(t.stdout).map((s) => `${s.step}:${s.ok}`),
      ['put:true', 'head:true', 'get:true', 'list:true', 'delete:true'],
      t.stderr,
    );
    const seed = awsShell(
      dashed,
      [
        'set -e',
        'echo hello > "$infrakt_aws_dir/f"',
        `awsx s3 cp "$infrakt_aws_dir/f" "s3://$infrakt_bucket/-1/infrakt/app/app_1.dump.zst" >/dev/null`,
      ].join('\n'),
    );
    assert.equal((await runLocalScript(seed)).code, 0);
    const r = await runLocalScript(listS3PrefixesScript(dashed, [s3DatabasePrefix('-1/infrakt/', 'app')]));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /expected one argument/);
    const rows = JSON.parse(splitS3Prefixes(r.stdout).get(0) ?? 'null') as [string][];
    assert.deepEqual(
      rows.map((row) => row[0]),
      ['-1/infrakt/app/app_1.dump.zst'],
    );
  });
});
