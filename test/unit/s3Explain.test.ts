// The S3 error-code recovery (aws.sh: awsx, infrakt_aws_explain) and the
// stream's size estimate (pipeline.sh: infrakt_estimate_size, s3sink.sh's
// check and --expected-size), run under bash, dash and busybox ash in strict
// mode (set -eu, as the pipeline runs) with a stub awscli that crashes as
// awscli does on an empty <Message> and answers --debug with the endpoint's
// <Code>.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SH } from '../../src/core/remote/modules';
import { remoteScript } from '../../src/core/remote/script';
import { SHELLS, makeBin, runShell } from '../support/stubBin';

/**
 * awscli stand-in: logs each call's argv (one line, args separated by spaces).
 * A call with --debug prints a log holding the code in $STUB_DIR/code (and a
 * Date header); any other call fails with $STUB_DIR/fail's text, or succeeds.
 */
const STUB_AWS = `#!/bin/sh
echo "$*" >> "$STUB_DIR/calls"
for a in "$@"; do
  if [ "$a" = --debug ]; then
    echo "2026-12-03 DEBUG - Response headers: {'Date': 'Thu, 03 Dec 2026 10:00:00 GMT'}" >&2
    if [ -s "$STUB_DIR/code" ]; then echo "DEBUG - Response body: b'<Error><Code>$(cat "$STUB_DIR/code")</Code><Message></Message></Error>'" >&2; fi
    exit 255
  fi
done
if [ -s "$STUB_DIR/fail" ]; then cat "$STUB_DIR/fail" >&2; exit 255; fi
exit 0
`;

const CRASH = "\nargument of type 'NoneType' is not iterable\n";

describe('S3 error codes recovered, and the stream size announced (bash, dash, busybox ash; set -eu)', () => {
  let work: string;
  let stub: string;
  let bin: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-explain-'));
    stub = path.join(work, 'stub');
    fs.mkdirSync(stub);
    bin = makeBin(path.join(work, 'bin'), {
      real: ['cat', 'grep', 'head', 'sed', 'cut', 'date', 'mktemp', 'rm', 'tr', 'stat'],
      stubs: { aws: STUB_AWS.replace('#!/bin/sh\n', '') },
    });
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  /** Runs `body` after the strict mode and awscli set-up, with the modules the pipeline has. */
  const run = (shell: string[], body: string) => {
    const script = remoteScript({
      vars: {
        infrakt_s3_endpoint: 'http://s3.example',
        infrakt_s3_bucket: 'b',
        infrakt_s3_region: 'us-east-1',
        infrakt_s3_path_style: true,
        infrakt_s3_checksum_when_required: false,
        infrakt_s3_profile: 'infrakt',
        infrakt_s3_credentials_file: '',
      },
      modules: [
        SH.common,
        SH.aws,
        SH.pipeline,
        SH.s3sink,
        {
          name: 'test-body',
          text: `infrakt_test() {\n  infrakt_strict\n  infrakt_tmpdirs=''\n  trap 'for d in $infrakt_tmpdirs; do rm -rf -- "$d"; done' EXIT\n  infrakt_aws_setup\n${body}\n}`,
        },
      ],
      call: 'infrakt_test',
    });
    return runShell(shell, script, { PATH: bin, STUB_DIR: stub, HOME: work });
  };
  const calls = () =>
    fs.existsSync(path.join(stub, 'calls'))
      ? fs.readFileSync(path.join(stub, 'calls'), 'utf8').trim().split('\n')
      : [];

  for (const [name, shell] of SHELLS) {
    describe(name, () => {
      it('a crash gets the code of the same request (a read) appended; the caller’s status is kept', () => {
        fs.writeFileSync(path.join(stub, 'fail'), CRASH);
        fs.writeFileSync(path.join(stub, 'code'), 'SignatureDoesNotMatch');
        const r = run(
          shell,
          '  if awsx s3api head-object --bucket b --key=k; then echo ok; else echo "failed $?"; fi',
        );
        assert.equal(r.stdout.trim(), 'failed 255', r.stderr);
        assert.match(r.stderr, /NoneType[\s\S]*infrakt: the S3 endpoint answered SignatureDoesNotMatch/);
        assert.deepEqual(
          calls().map((c) => c.split(' ').slice(2, 5).join(' ')),
          ['s3api head-object --bucket', '--debug --cli-connect-timeout 10'],
        );
        assert.match(calls()[1], /--debug .* s3api head-object --bucket b --key=k$/);
      });

      it('a failed delete is never sent again: the code comes from a one-key listing', () => {
        fs.writeFileSync(path.join(stub, 'fail'), CRASH);
        fs.writeFileSync(path.join(stub, 'code'), 'AccessDenied');
        const r = run(shell, '  awsx s3api delete-object --bucket b --key=k || echo "failed $?"');
        assert.equal(r.stdout.trim(), 'failed 255');
        assert.match(r.stderr, /infrakt: the S3 endpoint answered AccessDenied/);
        assert.equal(calls().filter((c) => c.includes('delete-object')).length, 1, calls().join('\n'));
        assert.match(calls()[1], /--debug .* s3api list-objects-v2 --bucket b --max-keys 1$/);
      });

      it('after a 404, only NoSuchBucket from the listing explains it; a named error or a network failure is not asked again', () => {
        fs.writeFileSync(
          path.join(stub, 'fail'),
          'fatal error: An error occurred (404) when calling the HeadObject operation: Not Found\n',
        );
        fs.writeFileSync(path.join(stub, 'code'), 'AccessDenied');
        let r = run(shell, '  awsx s3 cp s3://b/k.sha256 /dev/null || :');
        assert.doesNotMatch(r.stderr, /answered/, 'a missing object is not "access denied"');
        fs.writeFileSync(path.join(stub, 'code'), 'NoSuchBucket');
        r = run(shell, '  awsx s3 cp s3://b/k.sha256 /dev/null || :');
        assert.match(r.stderr, /infrakt: the S3 endpoint answered NoSuchBucket/);
        for (const text of [
          'An error occurred (NoSuchKey) when calling the GetObject operation: none',
          'Could not connect to the endpoint URL: "http://s3.example/b"',
        ]) {
          fs.rmSync(path.join(stub, 'calls'), { force: true });
          fs.writeFileSync(path.join(stub, 'fail'), `${text}\n`);
          r = run(shell, '  awsx s3api get-object --bucket b --key=k /dev/null || :');
          assert.equal(calls().length, 1, `${text}: asked once`);
          assert.doesNotMatch(r.stderr, /answered/);
        }
      });

      it('the size is announced to awscli only for a large stream; over 5 TiB the upload is not started', () => {
        const estimate = (size: string, last = '') =>
          run(
            shell,
            [
              `  infrakt_db_size() { printf '%s\\n' '${size}'; }`,
              `  infrakt_raw='' infrakt_last_size='${last}'`,
              '  infrakt_estimate_size',
              '  echo "est=$infrakt_est_size expected=$infrakt_expected_size"',
              '  if infrakt_sink_s3_check; then echo started; else echo refused; fi',
            ].join('\n'),
          );
        const GiB = 1024 ** 3;
        // The last item: the estimate marks the progress reads (the last backup's size too, when there is one).
        const cases: [string, string, string, string[]][] = [
          ['1000', '', `est=1000 expected=\nstarted`, ['1000 database']],
          [String(20 * GiB), '7', `est=${20 * GiB} expected=\nstarted`, [`${20 * GiB} database`, '7 last']],
          [String(30 * GiB), '', `est=${30 * GiB} expected=${60 * GiB}\nstarted`, [`${30 * GiB} database`]],
          [
            'not a number',
            String(40 * GiB),
            `est=${40 * GiB} expected=${80 * GiB}\nstarted`,
            [`${40 * GiB} last`],
          ],
          ['', '', 'est= expected=\nstarted', []],
          [
            String(6 * 1024 * GiB),
            '',
            `est=${6 * 1024 * GiB} expected=${12 * 1024 * GiB}\nrefused`,
            [`${6 * 1024 * GiB} database`],
          ],
        ];
        for (const [size, last, want, marks] of cases) {
          const r = estimate(size, last);
          const lines = r.stdout.trim().split('\n');
          const mark = '@@infrakt:estimate ';
          assert.equal(
            lines.filter((l) => !l.startsWith(mark)).join('\n'),
            want,
            `${size}/${last}: ${r.stderr}`,
          );
          assert.deepEqual(
            lines.filter((l) => l.startsWith(mark)).map((l) => l.slice(mark.length)),
            marks,
            `${size}/${last}`,
          );
          if (want.endsWith('refused')) assert.match(r.stderr, /more than one S3 object can hold \(5 TiB\)/);
        }
      });
    });
  }
});
