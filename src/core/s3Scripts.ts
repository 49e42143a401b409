// Remote S3 work runs awscli on the server. Credentials travel only as
// exported variables inside the stdin script (never argv, never a file); the
// non-secret compatibility options go in a config file inside a private
// `mktemp -d` that a trap removes.
import { type S3Settings, remoteDir } from './model';
import { MARKS, shellQuote as q, wholeScript } from './backup/shell';
import { checkServerBackupFile } from './backup/listScript';
import { check, checkServer } from './backup/serverCheck';
import { s3DatabasePrefix, s3Key } from './s3Layout';
import type { Sink } from './backup/backupScript';
import { SH } from './remote/modules';
import { EXIT } from './remote/protocol';
import type { ShellVars } from './remote/script';

export const S3_STEP_MARK = '@@infrakt:s3step';

export interface S3Credentials {
  settings: Pick<
    S3Settings,
    'endpointUrl' | 'bucket' | 'region' | 'accessKey' | 'prefix' | 'pathStyle' | 'checksumWhenRequired'
  >;
  secretKey: string;
}

/**
 * awscli set-up for a script: `preamble` exports the credentials (the only
 * place the secret appears), writes the non-secret compatibility config into
 * a private temp dir and defines `awsx` (aws with the endpoint); `cleanup`
 * removes the temp dir. Composes with the backup script's own traps.
 */
export function awsSetup(c: S3Credentials): { preamble: string[]; cleanup: string[] } {
  const s = c.settings;
  return {
    preamble: [
      `export AWS_ACCESS_KEY_ID=${q(s.accessKey)}`,
      `export AWS_SECRET_ACCESS_KEY=${q(c.secretKey)}`,
      `export AWS_DEFAULT_REGION=${q(s.region || 'us-east-1')}`,
      'export AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" AWS_MAX_ATTEMPTS=3',
      'unset AWS_PROFILE AWS_SESSION_TOKEN',
      ...awsConfigLines(s, '[default]'),
      'export AWS_CONFIG_FILE="$infrakt_aws_dir/config" AWS_SHARED_CREDENTIALS_FILE=/dev/null',
      ...awsxLines(s),
    ],
    cleanup: [...AWS_CLEANUP],
  };
}

/** The awscli profile scheduled backups use in their root-only credentials file. */
export const SCHEDULE_AWS_PROFILE = 'infrakt';

/** The non-secret compatibility config, in a private temp dir (`$infrakt_aws_dir`). */
function awsConfigLines(s: S3Credentials['settings'], section: string): string[] {
  const config = [section];
  if (s.pathStyle) config.push('s3 =', '    addressing_style = path');
  if (s.checksumWhenRequired) {
    config.push(
      'request_checksum_calculation = when_required',
      'response_checksum_validation = when_required',
    );
  }
  return [
    'infrakt_aws_dir=$(mktemp -d "${TMPDIR:-/tmp}/infrakt-aws.XXXXXX")',
    `printf '%s\\n' ${config.map((v) => q(v)).join(' ')} > "$infrakt_aws_dir/config"`,
  ];
}

function awsxLines(s: S3Credentials['settings']): string[] {
  return [
    `infrakt_endpoint=${q(s.endpointUrl)}`,
    'awsx() { aws --endpoint-url "$infrakt_endpoint" "$@"; }',
    `infrakt_bucket=${q(s.bucket)}`,
  ];
}

const AWS_CLEANUP = ['if [ -n "${infrakt_aws_dir:-}" ]; then rm -rf -- "$infrakt_aws_dir"; fi'];

/** Exits 127 with the message diagnoseS3Error knows when the server has no awscli. */
export const REQUIRE_AWS = awsFound('exit 127');

/** A test that the server has awscli; when not, says so (as REQUIRE_AWS) and runs `otherwise`. */
function awsFound(otherwise: string): string {
  return `command -v aws >/dev/null 2>&1 || { echo "infrakt: awscli (aws) not found on this server" >&2; ${otherwise}; }`;
}

function exitTrap(cleanup: readonly string[]): string {
  return `trap ${q(cleanup.join('; '))} EXIT`;
}

/**
 * A standalone S3 script: strict mode, set-up, cleanup trap, and the body parsed whole before it
 * runs. It logs the awscli version, or only its path where the run is waited for (every awscli
 * start costs up to seconds).
 */
function s3Script(
  c: S3Credentials,
  body: readonly string[],
  announce: 'version' | 'path' = 'version',
): string {
  const { preamble, cleanup } = awsSetup(c);
  return wholeScript([
    'set -u',
    REQUIRE_AWS,
    ...preamble,
    exitTrap(cleanup),
    "trap 'exit 130' INT TERM HUP",
    announce === 'version'
      ? 'echo "infrakt: using $(aws --version 2>&1 | head -n1)" >&2'
      : 'echo "infrakt: using $(command -v aws)" >&2',
    ...body,
  ]);
}

/** Default of the upload stall limit: seconds with no byte accepted by the S3 endpoint. */
export const DEFAULT_UPLOAD_STALL_SECONDS = 60;

/**
 * An S3 object without its `.sha256` object this old is a leftover: the mark
 * follows a finished upload within seconds (e.g. a client killed while its
 * CompleteMultipartUpload was being assembled by the server).
 */
export const UNMARKED_OBJECT_AGE_SECONDS = 3600;

export interface S3SinkOptions {
  /** Seconds without progress before the upload is stopped as stalled (the local backup goes on). */
  stallSeconds?: number;
}

/**
 * Where awscli gets its keys: exported from the script (a run we wait for) or
 * a root-only shared-credentials file on the server (cron; profile `infrakt`).
 */
export type S3Access = S3Credentials | { settings: S3Credentials['settings']; credentialsPath: string };

/** The variables aws.sh reads. */
export function awsVars(access: S3Access): ShellVars {
  const s = access.settings;
  const vars: ShellVars = {
    infrakt_s3_endpoint: { value: s.endpointUrl, field: 'Endpoint URL' },
    infrakt_s3_bucket: { value: s.bucket, field: 'Bucket' },
    infrakt_s3_region: { value: s.region || 'us-east-1', field: 'Region' },
    infrakt_s3_path_style: s.pathStyle,
    infrakt_s3_checksum_when_required: s.checksumWhenRequired,
    infrakt_s3_profile: SCHEDULE_AWS_PROFILE,
    infrakt_s3_credentials_file: '',
  };
  if ('credentialsPath' in access) {
    vars.infrakt_s3_credentials_file = check(remoteDir, access.credentialsPath, 'S3 credentials file');
  } else {
    vars.AWS_ACCESS_KEY_ID = { value: s.accessKey, field: 'Access key', export: true };
    vars.AWS_SECRET_ACCESS_KEY = { value: access.secretKey, field: 'Secret key', export: true };
  }
  return vars;
}

/**
 * The upload as a sink of the backup pipeline (remote/sh/s3sink.sh): streamed
 * from the dump, never a second read of the file, committed by its `.sha256`
 * object only after the local file is committed and the size is checked.
 */
export function s3UploadSink(access: S3Access, databaseName: string, opts: S3SinkOptions = {}): Sink {
  const stall = opts.stallSeconds ?? DEFAULT_UPLOAD_STALL_SECONDS;
  if (!(Number.isInteger(stall) && stall >= 5 && stall <= 3600))
    throw new Error('the upload stall limit must be 5–3600 seconds');
  return {
    id: 's3',
    modules: [SH.aws, SH.s3sink],
    vars: {
      ...awsVars(access),
      infrakt_s3_prefix: s3DatabasePrefix(access.settings.prefix, databaseName),
      infrakt_s3_stall: stall,
      infrakt_s3_unmarked_seconds: UNMARKED_OBJECT_AGE_SECONDS,
    },
    stallSeconds: stall,
  };
}

/** Round trip run on the server with the same client and credentials real uploads use. */
export function testConnectionScript(c: S3Credentials, probeName: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(probeName)) throw new Error('probe name must be a plain file name');
  const key = `${c.settings.prefix}${probeName}`;
  const mark = (step: string, status: 'ok' | 'fail', detail: string) =>
    `printf '${S3_STEP_MARK} %s %s %s\\n' ${step} ${status} "${detail}"`;
  return s3Script(c, [
    `key=${q(key)}`,
    'probe="$infrakt_aws_dir/probe"',
    `printf 'infrakt connection test %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$probe"`,
    'sum=$(sha256sum "$probe" | cut -d" " -f1)',
    'size=$(wc -c < "$probe" | tr -d " ")',
    'err="$infrakt_aws_dir/err"',
    "fail() { printf '%s %s fail %s\\n' \"" +
      S3_STEP_MARK +
      '" "$1" "$(tr \'\\n\' \' \' < "$err" | cut -c1-400)"; }',
    `if awsx s3api put-object --bucket "$infrakt_bucket" --key "$key" --body "$probe" --metadata sha256="$sum" >/dev/null 2>"$err"; then ${mark('put', 'ok', '$key')}; else fail put; exit ${EXIT.s3Step}; fi`,
    `if head=$(awsx s3api head-object --bucket "$infrakt_bucket" --key "$key" --query ContentLength --output text 2>"$err") && [ "$head" = "$size" ]; then ${mark('head', 'ok', '$head bytes')}`,
    `else [ -s "$err" ] || echo "size $head, expected $size" > "$err"; fail head; awsx s3api delete-object --bucket "$infrakt_bucket" --key "$key" >/dev/null 2>&1; exit ${EXIT.s3Step}; fi`,
    `if awsx s3api get-object --bucket "$infrakt_bucket" --key "$key" "$probe.back" >/dev/null 2>"$err" && [ "$(sha256sum "$probe.back" | cut -d" " -f1)" = "$sum" ]; then ${mark('get', 'ok', 'sha256 matches')}`,
    `else [ -s "$err" ] || echo "downloaded bytes differ from what was uploaded (sha256 mismatch)" > "$err"; fail get; awsx s3api delete-object --bucket "$infrakt_bucket" --key "$key" >/dev/null 2>&1; exit ${EXIT.s3Step}; fi`,
    `if n=$(awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix "$key" --query 'length(Contents[])' --output text 2>"$err") && [ "$n" -ge 1 ] 2>/dev/null; then ${mark('list', 'ok', 'probe listed')}`,
    `else [ -s "$err" ] || echo "the probe object was not listed" > "$err"; fail list; awsx s3api delete-object --bucket "$infrakt_bucket" --key "$key" >/dev/null 2>&1; exit ${EXIT.s3Step}; fi`,
    `if awsx s3api delete-object --bucket "$infrakt_bucket" --key "$key" >/dev/null 2>"$err"; then ${mark('delete', 'ok', 'probe removed')}; else fail delete; exit ${EXIT.s3Step}; fi`,
    'exit 0',
  ]);
}

export const S3_ERROR_MARK = '@@infrakt:s3error';

/**
 * Lines listing the backup objects of the given databases, one JSON document
 * per database between marks. A failure prints `@@infrakt:s3error <text>` on
 * stdout and exits (the caller decides whether that ends a subshell or the script).
 */
function s3ListBody(c: S3Credentials, databaseNames: readonly string[]): string[] {
  return databaseNames.flatMap((db) => {
    const prefix = s3DatabasePrefix(c.settings.prefix, db);
    return [
      `printf '@@infrakt:s3list %s\\n' ${q(db)}`,
      `if infrakt_out=$(awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix ${q(prefix)} --output json 2>"$infrakt_aws_dir/err"); then printf '%s\\n' "$infrakt_out"`,
      `else printf '\\n${S3_ERROR_MARK} %s\\n' "$(tr '\\n' ' ' < "$infrakt_aws_dir/err" | cut -c1-400)"; exit 1; fi`,
      `printf '\\n@@infrakt:s3end\\n'`,
    ];
  });
}

/** Lists every backup object of the given databases in one script: one JSON document per database. */
export function listS3Script(c: S3Credentials, databaseNames: readonly string[]): string {
  return s3Script(c, s3ListBody(c, databaseNames));
}

/**
 * The same listing as a subshell to embed in a larger script (the tree's one
 * round trip per server): a missing awscli or an S3 error is reported with
 * the error mark and ends only the subshell.
 */
export function s3ListSection(c: S3Credentials, databaseNames: readonly string[]): string[] {
  const { preamble, cleanup } = awsSetup(c);
  return [
    '(',
    `  command -v aws >/dev/null 2>&1 || { printf '${S3_ERROR_MARK} awscli (aws) not found on this server\\n'; exit 127; }`,
    ...preamble.map((l) => `  ${l}`),
    `  ${exitTrap(cleanup)}`,
    ...s3ListBody(c, databaseNames).map((l) => `  ${l}`),
    ')',
  ];
}

/** The S3 error a listing reported, if any. */
export function s3ListingError(stdout: string): string | undefined {
  // indexOf, not split: a listing's output can be megabytes.
  const mark = `${S3_ERROR_MARK} `;
  let at = stdout.indexOf(mark);
  while (at > 0 && stdout[at - 1] !== '\n') at = stdout.indexOf(mark, at + 1);
  if (at < 0) return undefined;
  const end = stdout.indexOf('\n', at);
  return stdout.slice(at + mark.length, end < 0 ? undefined : end).trim();
}

/** Splits listS3Script output into the JSON text per database name. */
export function splitS3Listing(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /@@infrakt:s3list (\S+)\n([\s\S]*?)\n@@infrakt:s3end/g;
  for (let m = re.exec(stdout); m; m = re.exec(stdout)) out.set(m[1], m[2]);
  return out;
}

export interface S3StepResult {
  step: string;
  ok: boolean;
  detail: string;
}

export function parseS3Steps(stdout: string): S3StepResult[] {
  const steps: S3StepResult[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${S3_STEP_MARK} `)) continue;
    const [step, status, ...rest] = line.slice(S3_STEP_MARK.length + 1).split(' ');
    steps.push({ step, ok: status === 'ok', detail: rest.join(' ') });
  }
  return steps;
}

export interface S3Diagnosis {
  cause: string;
  next: string;
}

/** Maps awscli's error text to a cause and a next step a person can take. */
export function diagnoseS3Error(text: string, serverName: string, step?: string): S3Diagnosis {
  const t = text;
  if (/awscli \(aws\) not found|aws: (command )?not found/.test(t)) {
    return { cause: `awscli not found on ${serverName}`, next: 'run Provision Server' };
  }
  const stalled = /the s3 upload made no progress for (\d+) s/.exec(t);
  if (stalled) {
    return {
      cause: `the upload stalled: the S3 endpoint accepted nothing for ${stalled[1]} s`,
      next: 'check that the endpoint is up and reachable from the server, then retry the upload',
    };
  }
  // A send that times out mid-body is reported by botocore as a closed connection.
  if (/Read timeout on endpoint URL|Connection was closed before we received a valid response/.test(t)) {
    return {
      cause: 'the upload stopped: the S3 endpoint stopped answering (a timeout, or it closed the connection)',
      next: 'check that the endpoint is up and reachable from the server, then retry the upload',
    };
  }
  if (/InvalidAccessKeyId/.test(t))
    return {
      cause: 'the access key is not known to the storage provider',
      next: 'check the access key in S3 Settings',
    };
  if (/SignatureDoesNotMatch/.test(t)) {
    return {
      cause: 'the request signature was rejected',
      next: 'check the secret key, the region, and the provider preset (path-style addressing)',
    };
  }
  if (/NoSuchBucket/.test(t))
    return {
      cause: 'the bucket does not exist at this endpoint',
      next: 'check the bucket name and endpoint URL',
    };
  if (/AccessDenied|Forbidden|403/.test(t)) {
    return step === 'put'
      ? {
          cause: 'the key is not allowed to write to this bucket',
          next: 'grant the key write (PutObject) access to the bucket and prefix',
        }
      : { cause: 'access denied', next: 'check the key’s permissions on this bucket and prefix' };
  }
  if (/NotImplemented|\b501\b/.test(t)) {
    return {
      cause: 'the provider rejected awscli’s checksum headers',
      next: 'choose your provider’s preset in S3 Settings (it sets when_required checksums)',
    };
  }
  if (
    /Could not connect to the endpoint URL|Connection refused|Connect timeout|Read timeout|timed out/i.test(t)
  ) {
    return {
      cause: `${serverName} cannot reach the S3 endpoint`,
      next: 'check the endpoint URL and the server’s outbound network/firewall',
    };
  }
  if (/Name or service not known|Could not resolve|getaddrinfo|nodename nor servname/i.test(t)) {
    return {
      cause: `${serverName} cannot resolve the endpoint’s host name`,
      next: 'check the endpoint URL and the server’s DNS',
    };
  }
  if (/SSL|certificate/i.test(t)) {
    return {
      cause: 'TLS to the endpoint failed',
      next: 'check the endpoint URL (https) and the server’s CA certificates',
    };
  }
  const firstLine =
    t
      .split('\n')
      .find((l) => l.trim().length > 0)
      ?.trim() ?? 'unknown error';
  return { cause: firstLine.slice(0, 300), next: 'see the Infrakt log for the full output' };
}

/** Exit codes of the transfer scripts below (beyond awscli's own). */

function transferPaths(server: { name: string; backupDir: string }, filename: string): { file: string } {
  const s = checkServer(server);
  checkServerBackupFile(s.name, filename);
  return { file: `${s.backupDir}/${filename}` };
}

/**
 * Upload to S3 of a backup that is only local: checked against its `.sha256`
 * first, then the object, then the checksum object (the commit mark). A file
 * without a `.sha256` is refused: its S3 copy could never be verified, and an
 * object without its mark is removed as unfinished by the next backup's sweep.
 */
export function s3UploadFileScript(
  c: S3Credentials,
  server: { name: string; backupDir: string },
  databaseName: string,
  filename: string,
): string {
  const { file } = transferPaths(server, filename);
  const key = s3Key(c.settings.prefix, databaseName, filename);
  return s3Script(c, [
    `infrakt_file=${q(file)}`,
    `infrakt_key=${q(key)}`,
    `[ -f "$infrakt_file" ] || { echo "infrakt: $infrakt_file is not on the server any more" >&2; exit ${EXIT.notFound}; }`,
    `[ -f "$infrakt_file.sha256" ] || { echo "infrakt: $infrakt_file has no .sha256 beside it, so a copy in S3 could never be verified — take a new backup instead" >&2; exit ${EXIT.noChecksum}; }`,
    `[ "$(sha256sum < "$infrakt_file" | cut -c1-64)" = "$(cut -c1-64 < "$infrakt_file.sha256")" ] || { echo "infrakt: $infrakt_file does not match its .sha256: it is damaged and is not uploaded" >&2; exit ${EXIT.checksumMismatch}; }`,
    'awsx s3 cp --only-show-errors "$infrakt_file" "s3://$infrakt_bucket/$infrakt_key" || exit $?',
    'awsx s3 cp --only-show-errors "$infrakt_file.sha256" "s3://$infrakt_bucket/$infrakt_key.sha256" || exit $?',
    `printf '${MARKS.result} {"uploaded":"%s"}\\n' "$infrakt_key"`,
  ]);
}

/**
 * Brings an S3-only backup back into the server's backup dir: downloaded as
 * `.partial`, checked against its `.sha256` object, then renamed — so a file
 * that looks complete is always the one that was uploaded.
 */
export function s3DownloadScript(
  c: S3Credentials,
  server: { name: string; backupDir: string },
  databaseName: string,
  filename: string,
): string {
  const { file } = transferPaths(server, filename);
  const key = s3Key(c.settings.prefix, databaseName, filename);
  const dir = file.slice(0, file.lastIndexOf('/'));
  return s3Script(c, [
    `infrakt_file=${q(file)}`,
    `infrakt_key=${q(key)}`,
    `mkdir -p -m 700 ${q(dir)} || exit ${EXIT.backupDir}`,
    'if [ -f "$infrakt_file" ] && [ -f "$infrakt_file.sha256" ]; then',
    `  printf '${MARKS.result} {"downloaded":"%s","existed":true}\\n' "$infrakt_file"; exit 0`,
    'fi',
    'infrakt_fail() { rm -f -- "$infrakt_file.partial" "$infrakt_file.sha256.partial"; exit "$1"; }',
    'awsx s3 cp --only-show-errors "s3://$infrakt_bucket/$infrakt_key.sha256" "$infrakt_file.sha256.partial" ||',
    `  { echo "infrakt: no checksum object $infrakt_key.sha256 in S3 — refusing to restore an unverifiable file" >&2; infrakt_fail ${EXIT.noChecksum}; }`,
    'awsx s3 cp --only-show-errors "s3://$infrakt_bucket/$infrakt_key" "$infrakt_file.partial" || infrakt_fail $?',
    'infrakt_want=$(cut -c1-64 < "$infrakt_file.sha256.partial")',
    'infrakt_got=$(sha256sum < "$infrakt_file.partial" | cut -c1-64)',
    `[ "$infrakt_want" = "$infrakt_got" ] || { echo "infrakt: downloaded file does not match its checksum (sha256 $infrakt_got, expected $infrakt_want)" >&2; infrakt_fail ${EXIT.checksumMismatch}; }`,
    'chmod 600 "$infrakt_file.partial" "$infrakt_file.sha256.partial"',
    `mv -f -- "$infrakt_file.sha256.partial" "$infrakt_file.sha256" && mv -f -- "$infrakt_file.partial" "$infrakt_file" || infrakt_fail ${EXIT.backupDir}`,
    `printf '${MARKS.result} {"downloaded":"%s","existed":false}\\n' "$infrakt_file"`,
  ]);
}

/** Deletes backups (and their checksum objects) of one database from S3; prints each key removed. */
export function s3DeleteScript(
  c: S3Credentials,
  server: { name: string; backupDir: string },
  databaseName: string,
  filenames: readonly string[],
): string {
  const keys = filenames.map((f) => {
    transferPaths(server, f); // a backup file name of this server, or throw
    return s3Key(c.settings.prefix, databaseName, f);
  });
  return s3Script(c, [
    'infrakt_rc=0',
    ...keys.flatMap((k) => [
      `if awsx s3 rm --only-show-errors "s3://$infrakt_bucket/"${q(k)} && awsx s3 rm --only-show-errors "s3://$infrakt_bucket/"${q(`${k}.sha256`)}; then printf '${MARKS.result} {"deleted":"%s"}\\n' ${q(k)}; else infrakt_rc=1; fi`,
    ]),
    'exit $infrakt_rc',
  ]);
}

const S3_PREFIX_MARK = '@@infrakt:s3prefix';
const S3_PREFIX_END = '@@infrakt:s3prefixend';

/** What listS3PrefixesScript prints per object: `[key, size, lastModified]` (JSON, from `--query`). */
export const S3_OBJECT_QUERY = 'Contents[].[Key,Size,LastModified]';

/**
 * Lists whole key prefixes with one awscli call each (awscli follows the
 * continuation tokens itself): the tree's shared listing (the whole backup
 * prefix, once per refresh, for every server) or one server's own backups.
 * Each prefix's objects are one JSON array of `[key, size, lastModified]`
 * between marks, in the order given; the first failure prints the error mark
 * and ends the script. The output goes through a file, not a shell variable:
 * a listing can be megabytes.
 */
export function listS3PrefixesScript(c: S3Credentials, keyPrefixes: readonly string[]): string {
  return s3Script(
    c,
    [
      ...keyPrefixes.flatMap((prefix, i) => [
        `printf '${S3_PREFIX_MARK} %s\\n' ${i}`,
        // A short connect timeout: a server that cannot reach the endpoint should
        // fail in seconds, so that another server can be asked instead.
        `if awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix ${q(prefix)} --query ${q(S3_OBJECT_QUERY)} --output json --cli-connect-timeout 10 >"$infrakt_aws_dir/out" 2>"$infrakt_aws_dir/err"; then cat "$infrakt_aws_dir/out"`,
        `else printf '\\n${S3_ERROR_MARK} %s\\n' "$(tr '\\n' ' ' < "$infrakt_aws_dir/err" | cut -c1-400)"; exit 1; fi`,
        `printf '\\n${S3_PREFIX_END}\\n'`,
      ]),
      'exit 0',
    ],
    'path',
  );
}

/** The JSON text per prefix index of listS3PrefixesScript output; a prefix cut short by an error is missing. */
export function splitS3Prefixes(stdout: string): Map<number, string> {
  const out = new Map<number, string>();
  // indexOf, not a regex over the whole text: the output can be large.
  let at = stdout.indexOf(`${S3_PREFIX_MARK} `);
  while (at >= 0) {
    const nl = stdout.indexOf('\n', at);
    if (nl < 0) break;
    const index = Number(stdout.slice(at + S3_PREFIX_MARK.length + 1, nl));
    const end = stdout.indexOf(`\n${S3_PREFIX_END}\n`, nl);
    if (end < 0) break;
    const next = stdout.indexOf(`\n${S3_PREFIX_MARK} `, nl);
    // A prefix cut short (its end mark missing) is not merged into the next one's text.
    if (Number.isInteger(index) && (next < 0 || next > end)) out.set(index, stdout.slice(nl + 1, end));
    at = next < 0 ? -1 : next + 1;
  }
  return out;
}
