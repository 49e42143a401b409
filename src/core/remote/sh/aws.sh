# shellcheck shell=sh
# awscli set-up. The credentials are either exported by the preamble (a run we
# wait for: the only place the secret is) or read by awscli from a root-only
# shared-credentials file (cron: infrakt_s3_credentials_file, profile
# infrakt_s3_profile), so an installed script holds no key. The non-secret
# compatibility options go in a config file inside a private temp dir that the
# exit trap removes (infrakt_tmpdirs).
#
# Input: infrakt_s3_endpoint, infrakt_s3_bucket, infrakt_s3_region,
# infrakt_s3_path_style, infrakt_s3_checksum_when_required,
# infrakt_s3_credentials_file (empty: exported keys), infrakt_s3_profile.

infrakt_aws_setup() {
  AWS_DEFAULT_REGION=${infrakt_s3_region:-us-east-1}
  AWS_EC2_METADATA_DISABLED=true AWS_PAGER='' AWS_MAX_ATTEMPTS=3
  export AWS_DEFAULT_REGION AWS_EC2_METADATA_DISABLED AWS_PAGER AWS_MAX_ATTEMPTS
  unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN
  if [ -n "$infrakt_s3_credentials_file" ]; then
    # awscli prefers exported keys over the profile.
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    infrakt_aws_section="[profile $infrakt_s3_profile]"
    AWS_SHARED_CREDENTIALS_FILE=$infrakt_s3_credentials_file AWS_PROFILE=$infrakt_s3_profile
    export AWS_SHARED_CREDENTIALS_FILE AWS_PROFILE
  else
    unset AWS_PROFILE
    infrakt_aws_section='[default]'
    AWS_SHARED_CREDENTIALS_FILE=/dev/null
    export AWS_SHARED_CREDENTIALS_FILE
  fi
  infrakt_aws_dir=$(mktemp -d "${TMPDIR:-/tmp}/infrakt-aws.XXXXXX") || {
    infrakt_aws_dir=
    return 1
  }
  infrakt_tmpdirs="${infrakt_tmpdirs:-} $infrakt_aws_dir"
  {
    printf '%s\n' "$infrakt_aws_section"
    if [ "$infrakt_s3_path_style" = 1 ]; then printf '%s\n' 's3 =' '    addressing_style = path'; fi
    if [ "$infrakt_s3_checksum_when_required" = 1 ]; then
      printf '%s\n' 'request_checksum_calculation = when_required' 'response_checksum_validation = when_required'
    fi
  } >"$infrakt_aws_dir/config"
  AWS_CONFIG_FILE=$infrakt_aws_dir/config
  export AWS_CONFIG_FILE
  infrakt_endpoint=$infrakt_s3_endpoint
  infrakt_bucket=$infrakt_s3_bucket
}

# aws with the endpoint. Its stderr passes through a file, so that a failure
# awscli could not name gets its S3 error code added (infrakt_aws_explain).
awsx() {
  infrakt_ax_err=$infrakt_aws_dir/awsx.err
  aws --endpoint-url "$infrakt_endpoint" "$@" 2>"$infrakt_ax_err"
  infrakt_ax_rc=$?
  if [ "$infrakt_ax_rc" != 0 ]; then
    infrakt_ax_why=$(infrakt_aws_explain "$infrakt_ax_err" "$@" 2>/dev/null) || infrakt_ax_why=
    [ -z "$infrakt_ax_why" ] || printf '%s\n' "$infrakt_ax_why" >>"$infrakt_ax_err"
  fi
  cat "$infrakt_ax_err" >&2
  return "$infrakt_ax_rc"
}

# infrakt_aws_explain <awscli's stderr> [<the failed awscli arguments>]: when
# awscli failed without naming the S3 error — it crashes on an empty <Message>
# (as Ceph RGW sends), and the answer to a HEAD has no body, only its status —
# the code is read from the endpoint's answer with --debug: the failed request
# again when it is a read or Test Connection's probe put (never a delete: a
# second try that succeeds would change what the caller reports), else one
# cheap listing. Prints
#   infrakt: the S3 endpoint answered <Code>
# (for RequestTimeTooSkewed also the clock offset, from the answer's Date).
# Nothing for a network failure (the same request would fail the same way), an
# error awscli named itself, or — after a 404 — any listing code but
# NoSuchBucket (a missing object is not explained by the listing's rights).
# The debug text stays in a variable: only the code is printed. Safe under
# `set -e` in every shell (no status escapes).
infrakt_aws_explain() {
  infrakt_ae_err=$1
  shift
  if [ -s "$infrakt_ae_err" ] &&
    grep -Eq 'An error occurred \([A-Za-z]|endpoint URL|onnect timeout|Read timeout|Connection was closed|Could not resolve|Name or service not known|SSL|certificate|not found on this server|made no progress' "$infrakt_ae_err"; then
    return 0
  fi
  infrakt_ae_code=
  case "${1:-} ${2:-}" in
    's3api head-object' | 's3api get-object' | 's3api list-objects-v2' | 's3api list-multipart-uploads' | 's3api put-object')
      infrakt_aws_debug "$@"
      ;;
  esac
  if [ -z "$infrakt_ae_code" ]; then
    infrakt_aws_debug s3api list-objects-v2 --bucket "$infrakt_bucket" --max-keys 1
    if [ -s "$infrakt_ae_err" ] && grep -Eq '\(404\)|Not Found' "$infrakt_ae_err" && [ "$infrakt_ae_code" != NoSuchBucket ]; then
      infrakt_ae_code=
    fi
  fi
  [ -n "$infrakt_ae_code" ] || return 0
  printf 'infrakt: the S3 endpoint answered %s\n' "$infrakt_ae_code"
  if [ "$infrakt_ae_code" = RequestTimeTooSkewed ]; then
    infrakt_ae_date=$(printf '%s\n' "$infrakt_ae_out" | grep -io "'date': '[^']*'" | head -n 1 | cut -d"'" -f4) || infrakt_ae_date=
    infrakt_ae_then=$(date -u -d "$infrakt_ae_date" +%s 2>/dev/null) || infrakt_ae_then=
    case "$infrakt_ae_then" in
      '' | *[!0-9]*) ;;
      *) printf "infrakt: this server's clock is %s s off the S3 endpoint's\n" "$(($(date -u +%s) - infrakt_ae_then))" ;;
    esac
  fi
  return 0
}

# One try of an awscli call with --debug: its log in infrakt_ae_out, the <Code>
# of the endpoint's answer in infrakt_ae_code ('' when it has none).
infrakt_aws_debug() {
  infrakt_ae_out=$(AWS_MAX_ATTEMPTS=1 aws --endpoint-url "$infrakt_endpoint" --debug --cli-connect-timeout 10 \
    --cli-read-timeout 20 "$@" 2>&1 >/dev/null </dev/null) || :
  infrakt_ae_code=$(printf '%s\n' "$infrakt_ae_out" | grep -o '<Code>[A-Za-z0-9.]*</Code>' | head -n 1 | sed 's/<[^>]*>//g') ||
    infrakt_ae_code=
}

# Says so (as diagnoseS3Error knows it) and fails when the server has no awscli.
infrakt_aws_found() {
  command -v aws >/dev/null 2>&1 || {
    echo "infrakt: awscli (aws) not found on this server" >&2
    return 1
  }
}

# awscli for clean-up calls: one attempt, short timeouts (the endpoint may be the thing that failed).
# Through infrakt_bg: a TERM to a sweep ends the call it waits on.
infrakt_aws_quick() {
  infrakt_bg env AWS_MAX_ATTEMPTS=1 aws --endpoint-url "$infrakt_endpoint" --cli-connect-timeout 10 --cli-read-timeout 20 "$@"
}

# awscli with both timeouts at the stall limit and two tries.
infrakt_aws_bounded() {
  AWS_MAX_ATTEMPTS=2 aws --endpoint-url "$infrakt_endpoint" --cli-connect-timeout "$infrakt_s3_stall" \
    --cli-read-timeout "$infrakt_s3_stall" "$@"
}
