// Retention, the shell library's one implementation (remote/sh/retention.sh),
// run for real under bash, dash and busybox ash as the pipeline runs it right
// after a commit: on a real backup dir, and against a stub awscli that lists
// and deletes keys of a fixture bucket. The S3 rule is held against an
// independent statement of it (test/support/retentionOracle.ts).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SH } from '../../src/core/remote/modules';
import { remoteScript } from '../../src/core/remote/script';
import { type RetentionPolicy, parseRetention, retentionParts } from '../../src/core/backup/retention';
import { type S3Object, mergeBackupLocations } from '../../src/core/s3/layout';
import { type S3Credentials, awsVars } from '../../src/core/s3/scripts';
import { s3RetentionVictims } from '../support/retentionOracle';
import { SHELLS } from '../support/stubBin';

const BASE = 'web-1_shop_postgres_';
const name = (day: number, seq = 1) =>
  `${BASE}202611${String(day).padStart(2, '0')}T020000Z${seq > 1 ? `-${seq}` : ''}.dump.zst`;
const PREFIX = 'infrakt/backups/shop/';
const creds: S3Credentials = {
  settings: {
    endpointUrl: 'https://s3.example.com',
    bucket: 'b',
    region: 'us-east-1',
    accessKey: 'AKIAEXAMPLE',
    prefix: 'infrakt/backups/',
    pathStyle: false,
    checksumWhenRequired: false,
  },
  secretKey: 'x',
};

/** awscli stand-in over a fixture bucket (one key per line): lists as `--output text` does, deletes, or fails. */
const STUB_AWS = `#!/bin/sh
key= json=
while [ $# -gt 0 ]; do
  case "$1" in
    list-objects-v2) op=list ;;
    delete-object | delete-objects) op=delete ;;
    --key=*) key=\${1#--key=} ;;
    --delete) json=$2 ;;
  esac
  shift
done
if [ -f "$STUB_DIR/fail-$op" ]; then cat "$STUB_DIR/fail-$op" >&2; exit 254; fi
case "$op" in
  list) if [ -s "$STUB_DIR/bucket" ]; then cat "$STUB_DIR/bucket"; else echo None; fi ;;
  delete)
    if [ -n "$json" ]; then
      printf '%s' "$json" | grep -o '"Key":"[^"]*"' | sed 's/^"Key":"//; s/"$//' > "$STUB_DIR/del"
    else
      printf '%s\\n' "$key" > "$STUB_DIR/del"
    fi
    grep -vxF -f "$STUB_DIR/del" "$STUB_DIR/bucket" > "$STUB_DIR/bucket.new"; mv "$STUB_DIR/bucket.new" "$STUB_DIR/bucket"
    cat "$STUB_DIR/del" >> "$STUB_DIR/deleted"
    if [ -n "$json" ]; then tr '\\n' '\\t' < "$STUB_DIR/del"; echo; fi
    ;;
esac
`;

describe('retention (retention.sh) after a commit, under bash, dash and busybox ash', () => {
  let work: string;
  let dir: string;
  let stub: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-ret-'));
    dir = path.join(work, 'backups');
    stub = path.join(work, 'stub');
    fs.mkdirSync(dir);
    fs.mkdirSync(path.join(stub, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(stub, 'bin', 'aws'), STUB_AWS, { mode: 0o755 });
    fs.writeFileSync(path.join(stub, 'bucket'), '');
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  const file = (f: string, daysOld: number) => {
    const p = path.join(dir, f);
    fs.writeFileSync(p, 'x');
    const t = new Date(Date.now() - daysOld * 86_400_000);
    fs.utimesSync(p, t, t);
  };
  const bucket = (keys: string[]) =>
    fs.writeFileSync(path.join(stub, 'bucket'), keys.map((k) => `${k}\n`).join(''));
  const bucketKeys = () => fs.readFileSync(path.join(stub, 'bucket'), 'utf8').split('\n').filter(Boolean);

  /** Runs retention as the pipeline does after committing `made` (the s3 sink's status: `uploadRc`). */
  const retain = (cmd: string[], policy: RetentionPolicy, made: string, uploadRc = 0) => {
    const parts = retentionParts(policy, 'postgres');
    assert.ok(parts, 'the policy keeps fewer than all');
    const script = remoteScript({
      vars: {
        ...awsVars(creds),
        ...parts.vars,
        infrakt_dir: dir,
        infrakt_base: BASE,
        infrakt_name: made,
        infrakt_s3_prefix: PREFIX,
        infrakt_sink_s3_rc: uploadRc,
      },
      modules: [
        SH.common,
        SH.pipeline,
        SH.aws,
        ...parts.modules,
        {
          name: 'after-commit',
          text: [
            'infrakt_after_commit() {',
            "  infrakt_tmpdirs=''",
            '  infrakt_aws_setup',
            '  infrakt_work=$(mktemp -d)',
            '  infrakt_retention',
            '  rm -rf -- "$infrakt_work" $infrakt_tmpdirs',
            '}',
          ].join('\n'),
        },
      ],
      call: 'infrakt_after_commit',
    });
    const r = spawnSync(cmd[0], cmd.slice(1), {
      input: script,
      encoding: 'utf8',
      env: { PATH: `${path.join(stub, 'bin')}:/usr/bin:/bin`, STUB_DIR: stub, TMPDIR: work },
    });
    assert.equal(r.status, 0, r.stderr);
    const outcome = parseRetention(r.stdout);
    assert.ok(outcome, `a retention mark: ${r.stdout}`);
    return { ...outcome, stderr: r.stderr };
  };

  for (const [shell, cmd] of SHELLS) {
    it(`${shell}: local — what the rule does not keep goes with its checksum; the backup just made, other databases and partials stay`, () => {
      for (const d of [20, 21, 22, 28]) {
        file(name(d), 30 - d);
        file(`${name(d)}.sha256`, 30 - d);
      }
      file(`${name(19)}.sha256`, 11); // its backup was deleted by hand
      file(name(10), 20); // made now, but with an old mtime (a clock jump): never deleted
      file(`${name(18)}.partial`, 12);
      file('web-1_orders_postgres_20261101T020000Z.dump.zst', 30);
      file('web-2_shop_postgres_20261101T020000Z.dump.zst', 30);
      file(`${BASE}20261101T020000Z.dump.zst.bak`, 30);
      const r = retain(cmd, { local: { last: 1 } }, name(10));
      assert.deepEqual(r.deletedLocal.sort(), [name(20), name(21), name(22)]);
      assert.equal(r.error, undefined);
      assert.deepEqual(
        fs.readdirSync(dir).sort(),
        [
          `${BASE}20261101T020000Z.dump.zst.bak`,
          name(10),
          `${name(18)}.partial`,
          name(28),
          `${name(28)}.sha256`,
          'web-1_orders_postgres_20261101T020000Z.dump.zst',
          'web-2_shop_postgres_20261101T020000Z.dump.zst',
        ].sort(),
      );
      assert.deepEqual(bucketKeys(), [], 'the local rule never asks S3');
    });

    it(`${shell}: S3 "last N" counts only verified backups, as the independent rule says, and never the local copies`, () => {
      const marked = (d: number, seq = 1) => [`${PREFIX}${name(d, seq)}`, `${PREFIX}${name(d, seq)}.sha256`];
      const keys = [
        ...marked(20),
        ...marked(21),
        ...marked(22),
        `${PREFIX}${name(23)}`, // two failed runs: objects without their mark
        `${PREFIX}${name(24)}`,
        ...marked(25),
        ...marked(25, 2),
        `${PREFIX}nested/${name(19)}`,
        `${PREFIX}web-2_shop_postgres_20261101T020000Z.dump.zst`,
      ];
      bucket(keys);
      file(name(20), 1);
      file(`${name(20)}.sha256`, 1);
      const r = retain(cmd, { s3: { last: 2 } }, name(25, 2));
      const objects: S3Object[] = keys
        .filter((k) => !k.slice(PREFIX.length).includes('/'))
        .map((k) => ({ key: k, filename: k.slice(PREFIX.length), sizeBytes: 1, modified: new Date() }));
      const expected = s3RetentionVictims(mergeBackupLocations([], objects), 2, name(25, 2));
      assert.deepEqual(expected, [name(22), name(21), name(20)]);
      assert.deepEqual(
        r.deletedS3,
        expected.map((f) => `${PREFIX}${f}`),
      );
      assert.deepEqual(
        bucketKeys(),
        keys.filter((k) => !expected.some((f) => k === `${PREFIX}${f}` || k === `${PREFIX}${f}.sha256`)),
        'the unmarked objects, the nested key and the other server’s stay for the sweep',
      );
      assert.ok(fs.existsSync(path.join(dir, name(20))), 'the S3 rule never deletes on the server');
    });

    it(`${shell}: S3 does nothing when the upload failed, is not listed yet, or the listing fails — the local rule still runs`, () => {
      const keys = [
        `${PREFIX}${name(20)}`,
        `${PREFIX}${name(20)}.sha256`,
        `${PREFIX}${name(21)}`,
        `${PREFIX}${name(21)}.sha256`,
      ];
      bucket(keys);
      assert.deepEqual(retain(cmd, { s3: { last: 1 } }, name(22), 1).deletedS3, [], 'upload failed');
      const notListed = retain(cmd, { s3: { last: 1 } }, name(22));
      assert.deepEqual(notListed.deletedS3, []);
      assert.match(notListed.stderr, /not listed in S3 yet/);
      assert.deepEqual(bucketKeys(), keys);
      fs.writeFileSync(
        path.join(stub, 'fail-list'),
        'An error occurred (AccessDenied) when calling the ListObjectsV2 operation',
      );
      for (const d of [9, 10]) {
        file(name(d), 30);
        file(`${name(d)}.sha256`, 30);
      }
      const failed = retain(cmd, { local: { last: 1 }, s3: { last: 1 } }, name(21));
      assert.deepEqual(failed.deletedS3, []);
      assert.match(failed.error ?? '', /^S3: cannot list infrakt\/backups\/shop\/: .*AccessDenied/);
      assert.deepEqual(failed.deletedLocal, [name(9)], 'the local rule ran');
      assert.deepEqual(bucketKeys(), keys);
    });

    it(`${shell}: a delete that fails is named and the rest goes on`, () => {
      const keys = [20, 21, 22].flatMap((d) => [`${PREFIX}${name(d)}`, `${PREFIX}${name(d)}.sha256`]);
      bucket(keys);
      fs.writeFileSync(
        path.join(stub, 'fail-delete'),
        'An error occurred (AccessDenied) when calling the DeleteObject operation',
      );
      const r = retain(cmd, { s3: { last: 1 } }, name(22));
      assert.deepEqual(r.deletedS3, []);
      assert.match(
        r.error ?? '',
        /^S3: cannot delete infrakt\/backups\/shop\/\S+ and 1 more: .*AccessDenied/,
      );
      assert.deepEqual(bucketKeys(), keys);
    });
  }
});
