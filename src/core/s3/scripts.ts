// Remote S3 work runs awscli on the server. Credentials travel only as
// exported variables inside the stdin script (never argv, never a file); the
// non-secret compatibility options go in a config file inside a private
// `mktemp -d` that a trap removes.
import { type S3Settings, remoteDir } from '../model';
import { checkServerBackupFile } from '../backup/listScript';
import { check, checkServer } from '../backup/serverCheck';
import { s3DatabasePrefix, s3Key } from './layout';
import type { Sink } from '../backup/backupScript';
import { SH } from '../remote/modules';
import { MARKS } from '../remote/protocol';
import { type ShellVars, remoteScript } from '../remote/script';

export interface S3Credentials {
  settings: Pick<
    S3Settings,
    'endpointUrl' | 'bucket' | 'region' | 'accessKey' | 'prefix' | 'pathStyle' | 'checksumWhenRequired'
  >;
  secretKey: string;
}

/** The awscli profile scheduled backups use in their root-only credentials file. */
export const SCHEDULE_AWS_PROFILE = 'infrakt';

/** A standalone S3 script (remote/sh/s3.sh): aws.sh's set-up, then one of s3.sh's functions. */
function s3Script(
  c: S3Credentials,
  call: string,
  vars: ShellVars = {},
  announce: 'version' | 'path' = 'version',
): string {
  return remoteScript({
    vars: { ...awsVars(c), infrakt_s3_announce: announce, ...vars },
    modules: [SH.aws, SH.s3],
    call,
  });
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
  return s3Script(c, 'infrakt_s3_test', { infrakt_s3_key: `${c.settings.prefix}${probeName}` });
}

/** The S3 error a listing reported, if any. */
export function s3ListingError(stdout: string): string | undefined {
  // indexOf, not split: a listing's output can be megabytes.
  const mark = `${MARKS.s3error} `;
  let at = stdout.indexOf(mark);
  while (at > 0 && stdout[at - 1] !== '\n') at = stdout.indexOf(mark, at + 1);
  if (at < 0) return undefined;
  const end = stdout.indexOf('\n', at);
  return stdout.slice(at + mark.length, end < 0 ? undefined : end).trim();
}

export interface S3StepResult {
  step: string;
  ok: boolean;
  detail: string;
}

export function parseS3Steps(stdout: string): S3StepResult[] {
  const steps: S3StepResult[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${MARKS.s3step} `)) continue;
    const [step, status, ...rest] = line.slice(MARKS.s3step.length + 1).split(' ');
    steps.push({ step, ok: status === 'ok', detail: rest.join(' ') });
  }
  return steps;
}

export interface S3Diagnosis {
  cause: string;
  next: string;
}

/** The line the shell library prints when it recovered the S3 error code (aws.sh, infrakt_aws_explain). */
const ANSWERED_RE = /infrakt: the S3 endpoint answered ([A-Za-z0-9.]+)/;
const SKEW_RE = /infrakt: this server's clock is (-?\d+) s off the S3 endpoint's/;

/**
 * The S3 error code in awscli's output: the one the shell recovered, else
 * awscli's own "An error occurred (Code)" when it is a name (a number such as
 * 403 is only the HTTP status of an answer without a body), else an XML <Code>.
 */
export function s3ErrorCode(text: string): string | undefined {
  const recovered = ANSWERED_RE.exec(text);
  if (recovered) return recovered[1];
  const named = /An error occurred \(([A-Za-z][A-Za-z0-9.]*)\)/.exec(text);
  if (named) return named[1];
  return /<Code>([A-Za-z0-9.]+)<\/Code>/.exec(text)?.[1];
}

const CHECKSUM_FIX: S3Diagnosis = {
  cause: 'the provider rejected awscli’s checksum headers',
  next: 'choose your provider’s preset in S3 Settings (it turns on the checksum compatibility option: checksums only when required)',
};

/** What each S3 error code means for the user, and what to do. */
function byCode(code: string, text: string, serverName: string, step?: string): S3Diagnosis | undefined {
  switch (code) {
    case 'SignatureDoesNotMatch':
      return {
        cause: 'the secret key is wrong: the S3 endpoint rejected the request signature',
        next: 'paste the secret key again in S3 Settings (for AWS, also check the region)',
      };
    case 'InvalidAccessKeyId':
      return {
        cause: 'the access key is not known to the storage provider',
        next: 'check the access key in S3 Settings',
      };
    case 'NoSuchBucket':
      return {
        cause: 'the bucket does not exist at this endpoint',
        next: 'check the bucket name and endpoint URL',
      };
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return step === 'put'
        ? {
            cause: 'the key is not allowed to write to this bucket',
            next: 'grant the key write (PutObject) access to the bucket and prefix',
          }
        : { cause: 'access denied', next: 'check the key’s permissions on this bucket and prefix' };
    case 'AuthorizationHeaderMalformed':
    case 'PermanentRedirect':
    case 'IllegalLocationConstraintException':
    case 'InvalidRegion':
      return {
        cause: `the region or endpoint does not match the bucket (${code})`,
        next: 'set the bucket’s region in S3 Settings, and use the endpoint URL your provider gives for it',
      };
    case 'RequestTimeTooSkewed': {
      const skew = SKEW_RE.exec(text);
      const off = skew ? Number(skew[1]) : undefined;
      const by =
        off === undefined
          ? ''
          : ` by ${Math.abs(off)} s (${off > 0 ? 'ahead of' : 'behind'} the S3 endpoint)`;
      return {
        cause: `${serverName}’s clock is off${by}, so the S3 endpoint refuses its signed requests`,
        next: `set ${serverName}’s clock (turn on NTP, e.g. timedatectl set-ntp true)`,
      };
    }
    case 'QuotaExceeded':
    case 'XMinioStorageFull':
    case 'InsufficientStorage':
    case 'StorageFull':
      return {
        cause: `the bucket is full: its quota or the provider’s storage is used up (${code})`,
        next: 'free space in the bucket (fewer kept backups in S3) or raise its quota with your provider',
      };
    case 'EntityTooLarge':
      return {
        cause: 'the backup is larger than the S3 endpoint accepts in one object or part (EntityTooLarge)',
        next: 'check your provider’s object size limit; the backup is kept on the server',
      };
    case 'SlowDown':
    case 'ServiceUnavailable':
    case '503':
      return {
        cause: 'the S3 endpoint is overloaded and asked to slow down (503)',
        next: 'try again in a few minutes',
      };
    case 'NotImplemented':
    case '501':
      return CHECKSUM_FIX;
    case 'InvalidArgument':
    case 'InvalidRequest':
      return /checksum|x-amz-(sdk-)?checksum|content-sha256|trailer/i.test(text) ? CHECKSUM_FIX : undefined;
    case '403':
    case 'Forbidden':
      return byCode('AccessDenied', text, serverName, step);
    default:
      return undefined;
  }
}

/** Lines that never name a cause: the product's own version line, and awscli's crash text. */
const NOT_A_CAUSE: readonly RegExp[] = [
  /^infrakt: using /,
  /^infrakt: the S3 endpoint answered /,
  /^infrakt: this server's clock is /,
  /^Traceback \(most recent call last\)/,
  /^\s*File "/,
  /argument of type 'NoneType' is not iterable/,
  /^\s*\^+\s*$/,
];

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
  const noSum = /infrakt: no checksum object (\S+) in S3/.exec(t);
  if (noSum) {
    return {
      cause: `there is no checksum object ${noSum[1]} in S3, so this backup cannot be verified`,
      next: 'restore another backup (an upload without its .sha256 never finished)',
    };
  }
  const code = s3ErrorCode(t) ?? /An error occurred \((\d{3})\)/.exec(t)?.[1];
  const known = code ? byCode(code, t, serverName, step) : undefined;
  if (known) return known;
  if (/Could not connect to the endpoint URL|Connection refused|Connect timeout|timed out/i.test(t)) {
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
      cause: 'TLS to the endpoint failed (its certificate was not accepted)',
      next: 'check the endpoint URL (https) and the server’s CA certificates',
    };
  }
  if (code && !/^\d+$/.test(code)) {
    return {
      cause: `the S3 endpoint refused the request (${code})`,
      next: 'see the Infrakt log for the full output',
    };
  }
  const line = t
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0 && !NOT_A_CAUSE.some((re) => re.test(l)));
  if (!line) {
    return {
      cause: 'the S3 endpoint refused the request, and awscli failed before it could say why',
      next: 'run Test Connection in S3 Settings; the Infrakt log has awscli’s output',
    };
  }
  return { cause: line.slice(0, 300), next: 'see the Infrakt log for the full output' };
}

function transferPaths(server: { name: string; backupDir: string }, filename: string): { file: string } {
  const s = checkServer(server);
  checkServerBackupFile(s.name, filename);
  return { file: `${s.backupDir}/${filename}` };
}

/**
 * Upload to S3 of a backup that is only local: checked against its `.sha256`
 * first, then the object, then the checksum object (the commit mark). A file
 * without a `.sha256` is refused.
 */
export function s3UploadFileScript(
  c: S3Credentials,
  server: { name: string; backupDir: string },
  databaseName: string,
  filename: string,
): string {
  const { file } = transferPaths(server, filename);
  return s3Script(c, 'infrakt_s3_upload_file', {
    infrakt_file: file,
    infrakt_s3_key: s3Key(c.settings.prefix, databaseName, filename),
  });
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
  return s3Script(c, 'infrakt_s3_download', {
    infrakt_file: file,
    infrakt_dir: file.slice(0, file.lastIndexOf('/')),
    infrakt_s3_key: s3Key(c.settings.prefix, databaseName, filename),
  });
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
  return s3Script(c, 'infrakt_s3_delete', { infrakt_s3_keys: keys });
}

/**
 * Lists whole key prefixes with one awscli call each (awscli follows the
 * continuation tokens itself): the tree's shared listing (the whole backup
 * prefix, once per refresh, for every server) or one server's own backups.
 * Each prefix's objects are one JSON array of `[key, size, lastModified]`
 * between marks, in the order given; the first failure prints the error mark
 * and ends the script.
 */
export function listS3PrefixesScript(c: S3Credentials, keyPrefixes: readonly string[]): string {
  return s3Script(
    c,
    'infrakt_s3_list_prefixes',
    { infrakt_s3_prefixes: keyPrefixes.map((p, i) => `${i} ${p}`) },
    'path',
  );
}

/** The JSON text per prefix index of listS3PrefixesScript output; a prefix cut short by an error is missing. */
export function splitS3Prefixes(stdout: string): Map<number, string> {
  const S3_PREFIX_MARK = MARKS.s3prefix;
  const S3_PREFIX_END = MARKS.s3prefixEnd;
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
