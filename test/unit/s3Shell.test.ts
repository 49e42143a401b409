// The listing and S3 functions of the shell library (list.sh, s3.sh) run for
// real under bash, dash and busybox ash, against a real backup dir and a stub
// awscli that records each call's argv and the key it got from the
// environment, and answers list-objects-v2 from fixture files. What reaches
// awscli (one call per prefix, no version probe where the run is waited for),
// that the secret reaches it only through the environment, and what the
// parsers make of the output.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { localListingScript, parseLocalPart } from '../../src/core/backup/serverListing';
import { listBackups } from '../support/listing';
import { deleteScript, parseChecksum, checksumScript } from '../../src/core/backup';
import { EXIT } from '../../src/core/remote/protocol';
import {
  type S3Credentials,
  listS3PrefixesScript,
  parseS3Steps,
  s3DeleteScript,
  splitS3Prefixes,
  testConnectionScript,
} from '../../src/core/s3/scripts';
import { SHELLS } from '../support/stubBin';

const SECRET = `canary-Secret-42'"$(touch /tmp/infrakt-canary)`;
const creds: S3Credentials = {
  settings: {
    endpointUrl: 'https://s3.example.com',
    bucket: 'b',
    region: 'us-east-1',
    accessKey: 'AKIAEXAMPLE',
    prefix: 'infrakt/backups/',
    pathStyle: true,
    checksumWhenRequired: false,
  },
  secretKey: SECRET,
};
const F1 = 'web-1_shop_postgres_20261124T020000Z.dump.zst';
const F2 = 'web-1_shop_postgres_20261125T020000Z.dump.zst';
const dbs = [
  { name: 'shop', engine: 'postgres' as const },
  { name: 'cache', engine: 'redis' as const },
];

/** awscli stand-in: logs argv (one call per line, args NUL-separated) and the secret it saw; answers from fixtures. */
const STUB_AWS = `#!/bin/sh
printf '%s\\0' "$@" >> "$STUB_DIR/calls"; printf '\\n' >> "$STUB_DIR/calls"
printf '%s\\n' "\${AWS_SECRET_ACCESS_KEY:-}" >> "$STUB_DIR/secrets"
cat "$AWS_CONFIG_FILE" > "$STUB_DIR/config" 2>/dev/null
prefix= query= key=
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix=*) prefix=\${1#--prefix=} ;;
    --query) query=$2; shift ;;
    --key=*) key=\${1#--key=} ;;
    --version) echo "aws-cli/9.9.9 stub"; exit 0 ;;
  esac
  shift
done
if [ -f "$STUB_DIR/fail" ]; then cat "$STUB_DIR/fail" >&2; exit 254; fi
f="$STUB_DIR/objects/$(printf '%s' "$prefix" | tr / _)"
case "$query" in
  Contents*) if [ -f "$f" ]; then cat "$f.rows"; else echo '[]'; fi ;;
  *) if [ -f "$f" ]; then cat "$f"; else echo '{"Contents": []}'; fi ;;
esac
`;

describe('listing and S3 functions, run with a stub awscli (bash, dash, busybox ash)', () => {
  let work: string;
  let stub: string;
  let backupDir: string;
  let noAws: string;
  const server = () => ({ name: 'web-1', backupDir });

  // A PATH with every tool of this machine but awscli (a server where it is not installed).
  before(() => {
    noAws = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-noaws-'));
    for (const dir of ['/usr/bin', '/bin'])
      for (const f of fs.readdirSync(dir))
        if (f !== 'aws' && !fs.existsSync(path.join(noAws, f)))
          fs.symlinkSync(path.join(dir, f), path.join(noAws, f));
  });
  after(() => fs.rmSync(noAws, { recursive: true, force: true }));

  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-s3sh-'));
    stub = path.join(work, 'stub');
    fs.mkdirSync(path.join(stub, 'objects'), { recursive: true });
    fs.mkdirSync(path.join(stub, 'bin'));
    fs.writeFileSync(path.join(stub, 'bin', 'aws'), STUB_AWS, { mode: 0o755 });
    backupDir = path.join(work, 'backups');
    fs.mkdirSync(backupDir);
    for (const f of [
      F1,
      `${F1}.sha256`,
      `${F2}.partial`,
      'web-2_shop_postgres_20261125T020000Z.dump.zst',
      'notes.txt',
    ])
      fs.writeFileSync(path.join(backupDir, f), f.endsWith('.sha256') ? `${'a'.repeat(64)}  ${F1}\n` : 'x');
    fs.writeFileSync(path.join(backupDir, 'web-1_shop_postgres_20261126T020000Z.dump.zst\nforged'), 'x');
    const shop = path.join(stub, 'objects', 'infrakt_backups_shop_');
    fs.writeFileSync(
      shop,
      JSON.stringify({
        Contents: [F2, `${F2}.sha256`].map((f) => ({
          Key: `infrakt/backups/shop/${f}`,
          Size: 120,
          LastModified: '2026-11-25T02:00:05Z',
        })),
      }),
    );
    fs.writeFileSync(
      `${shop}.rows`,
      JSON.stringify([[`infrakt/backups/shop/${F2}`, 120, '2026-11-25T02:00:05Z']]),
    );
    // The whole prefix, as the tree lists it: this server's backup with its mark, another server's, a stranger.
    fs.writeFileSync(path.join(stub, 'objects', 'infrakt_backups_'), '{}');
    fs.writeFileSync(
      path.join(stub, 'objects', 'infrakt_backups_.rows'),
      JSON.stringify(
        [F2, `${F2}.sha256`, 'web-2_shop_postgres_20261125T020000Z.dump.zst', 'notes.txt'].map((f) => [
          `infrakt/backups/shop/${f}`,
          120,
          '2026-11-25T02:00:05Z',
        ]),
      ),
    );
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  const run = (cmd: string[], script: string, withAws = true) =>
    spawnSync(cmd[0], cmd.slice(1), {
      input: script,
      encoding: 'utf8',
      env: {
        PATH: withAws ? `${path.join(stub, 'bin')}:/usr/bin:/bin` : noAws,
        STUB_DIR: stub,
        HOME: work,
        TMPDIR: work,
      },
    });
  const calls = () =>
    fs.existsSync(path.join(stub, 'calls'))
      ? fs
          .readFileSync(path.join(stub, 'calls'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\0').filter(Boolean))
      : [];
  const reset = () => {
    for (const f of ['calls', 'secrets', 'config', 'fail']) fs.rmSync(path.join(stub, f), { force: true });
  };
  const leftovers = () => fs.readdirSync(work).filter((f) => f.startsWith('infrakt-'));

  for (const [name, cmd] of SHELLS) {
    const list = (cmd: string[], withAws = true, c: S3Credentials | null = creds) =>
      listBackups(
        { id: 'srv-1', ...server() },
        dbs,
        async (script) => {
          const r = run(cmd, script, withAws);
          return { code: r.status ?? 255, stdout: r.stdout, stderr: r.stderr };
        },
        c ?? undefined,
      );

    it(`${name}: a server's listing is local files plus one S3 call for the whole prefix; the secret only in awscli's environment`, async () => {
      reset();
      const l = await list(cmd);
      assert.deepEqual(l.s3, { state: 'ok' });
      assert.deepEqual(
        l.byDatabase
          .get('shop')
          ?.map((e) => [e.filename, e.location, e.hasChecksum])
          .sort(),
        [
          [F1, 'local', true],
          [F2, 's3', true],
        ],
        'the partial, the other server, the forged name and the stranger are not listed',
      );
      const c = calls();
      assert.deepEqual(
        c.map((a) => a.filter((x) => x.startsWith('--prefix'))),
        [['--prefix=infrakt/backups/']],
      );
      assert.ok(c.every((a) => a.slice(0, 3).join(' ') === '--endpoint-url https://s3.example.com s3api'));
      assert.ok(!c.flat().some((a) => a.includes('canary')), 'the secret is in no argv');
      assert.deepEqual(fs.readFileSync(path.join(stub, 'secrets'), 'utf8').split('\n').filter(Boolean), [
        SECRET,
      ]);
      assert.equal(
        fs.readFileSync(path.join(stub, 'config'), 'utf8'),
        '[default]\ns3 =\n    addressing_style = path\n',
      );
      assert.deepEqual(leftovers(), [], 'the awscli temp dir is removed');
      assert.ok(!fs.existsSync('/tmp/infrakt-canary'));

      // Without S3, no awscli call at all.
      reset();
      const local = await list(cmd, true, null);
      assert.deepEqual(calls(), []);
      assert.equal(local.byDatabase.get('shop')?.length, 1);
    });

    it(`${name}: an S3 failure marks only the S3 part; a missing awscli says so`, async () => {
      reset();
      fs.writeFileSync(
        path.join(stub, 'fail'),
        'An error occurred (AccessDenied) when calling the ListObjectsV2 operation\n',
      );
      const l = await list(cmd);
      assert.equal(l.s3.state, 'error');
      assert.match(l.s3.state === 'error' ? l.s3.message : '', /AccessDenied/);
      assert.equal(l.byDatabase.get('shop')?.[0].filename, F1, 'the local files are still listed');
      assert.equal(calls().length, 1, 'a refusal by the bucket is not asked again');
      const n = await list(cmd, false);
      assert.match(n.s3.state === 'error' ? n.s3.message : '', /awscli \(aws\) not found/);
    });

    it(`${name}: the tree's local round trip says whether awscli is there, calls no awscli, and lists schedules when asked`, () => {
      reset();
      fs.mkdirSync(path.join(backupDir, '.status'));
      fs.writeFileSync(path.join(backupDir, '.status', 'shop.json'), '{"started":"s","ok":true}');
      const r = run(cmd, localListingScript(server(), { schedules: true }));
      assert.equal(r.status, 0, r.stderr);
      const part = parseLocalPart(r.stdout, r.stderr, server(), dbs);
      assert.deepEqual(
        [part.awscli, part.localError, part.local.byDatabase.get('shop')?.[0].filename],
        [true, undefined, F1],
      );
      assert.match(r.stdout, /^@@infrakt:schedstatus shop \{"started":"s","ok":true\}$/m);
      assert.deepEqual(calls(), []);
      const without = run(cmd, localListingScript(server()), false);
      assert.equal(parseLocalPart(without.stdout, '', server(), dbs).awscli, false);
      assert.doesNotMatch(without.stdout, /schedstatus/);
    });

    it(`${name}: the tree's local round trip says which client tools are on the PATH (first alternative found wins)`, () => {
      reset();
      const tools = ['sh', 'infrakt-no-such-tool', 'infrakt-no-such-tool|cat'];
      const r = run(cmd, localListingScript(server(), { tools }));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(parseLocalPart(r.stdout, r.stderr, server(), dbs).tools, [
        { name: 'sh', found: true },
        { name: 'infrakt-no-such-tool', found: false },
        { name: 'infrakt-no-such-tool|cat', found: true },
      ]);
      const none = run(cmd, localListingScript(server()));
      assert.deepEqual(parseLocalPart(none.stdout, '', server(), dbs).tools, []);
    });

    it(`${name}: the shared listing lists whole prefixes (also the empty one) with one call each, no version probe`, () => {
      reset();
      const r = run(cmd, listS3PrefixesScript(creds, ['', 'infrakt/backups/shop/']));
      assert.equal(r.status, 0, r.stderr);
      const c = calls();
      assert.equal(c.length, 2);
      assert.ok(!c.some((a) => a.includes('--version')));
      assert.deepEqual(
        c[0].slice(c[0].indexOf('--prefix=')),
        [
          '--prefix=',
          '--query',
          'Contents[].[Key,Size,LastModified]',
          '--output',
          'json',
          '--cli-connect-timeout',
          '10',
        ].filter(Boolean),
      );
      const docs = splitS3Prefixes(r.stdout);
      assert.deepEqual(JSON.parse(docs.get(0) ?? ''), []);
      assert.equal(JSON.parse(docs.get(1) ?? '')[0][0], `infrakt/backups/shop/${F2}`);
    });

    it(`${name}: Test Connection stops at the first failing step, names it, and exits with the step code`, () => {
      reset();
      fs.writeFileSync(path.join(stub, 'fail'), 'An error occurred (SignatureDoesNotMatch)\n');
      const r = run(cmd, testConnectionScript(creds, 'probe.txt'));
      assert.equal(r.status, EXIT.s3Step, r.stderr);
      assert.deepEqual(
        parseS3Steps(r.stdout).map((s) => [s.step, s.ok]),
        [['put', false]],
      );
      assert.match(parseS3Steps(r.stdout)[0].detail, /SignatureDoesNotMatch/);
      assert.deepEqual(leftovers(), []);
    });

    it(`${name}: Delete removes each backup and its checksum object, one result line per key`, () => {
      reset();
      const r = run(cmd, s3DeleteScript(creds, server(), 'shop', [F1, F2]));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(
        calls()
          .filter((a) => a[3] === 'rm')
          .map((a) => a.slice(4).join(' ')),
        [
          `--only-show-errors s3://b/infrakt/backups/shop/${F1}`,
          `--only-show-errors s3://b/infrakt/backups/shop/${F1}.sha256`,
          `--only-show-errors s3://b/infrakt/backups/shop/${F2}`,
          `--only-show-errors s3://b/infrakt/backups/shop/${F2}.sha256`,
        ],
      );
      assert.equal(r.stdout.match(/^@@infrakt:result \{"deleted":/gm)?.length, 2);
    });

    it(`${name}: a local backup's checksum is read, and Delete removes the file and its checksum`, () => {
      const sum = run(cmd, checksumScript(server(), F1), false);
      assert.deepEqual(parseChecksum(sum.stdout), { sha256: 'a'.repeat(64), recipient: '' });
      const none = run(cmd, checksumScript(server(), F2), false);
      assert.equal(none.status, EXIT.noChecksum);
      assert.equal(parseChecksum(none.stdout), undefined);
      const del = run(cmd, deleteScript(server(), F1), false);
      assert.equal(del.status, 0, del.stderr);
      assert.match(del.stdout, /"existed":true/);
      assert.ok(
        !fs.existsSync(path.join(backupDir, F1)) && !fs.existsSync(path.join(backupDir, `${F1}.sha256`)),
      );
      assert.match(run(cmd, deleteScript(server(), F1), false).stdout, /"existed":false/);
    });
  }
});
