// Test scripts that talk to a test S3 server with the product's own awscli
// set-up (remote/sh/aws.sh): `body` runs after it, with `awsx` (aws with the
// endpoint) and `$infrakt_bucket`, and the functions of `modules`; the set-up's
// temp dir is removed on exit.
import { SH } from '../../src/core/remote/modules';
import { type ShellModule, remoteScript } from '../../src/core/remote/script';
import { type S3Access, awsVars } from '../../src/core/s3/scripts';

export function awsShell(access: S3Access, body: string, modules: readonly ShellModule[] = []): string {
  return remoteScript({
    vars: awsVars(access),
    modules: [
      SH.aws,
      ...modules,
      {
        name: 'test-aws-body',
        text: [
          'infrakt_test_aws() {',
          "  infrakt_tmpdirs=''",
          '  trap \'for d in $infrakt_tmpdirs; do rm -rf -- "$d"; done\' EXIT',
          '  infrakt_aws_setup || exit 1',
          body,
          '}',
        ].join('\n'),
      },
    ],
    call: 'infrakt_test_aws',
  });
}
