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

# aws with the endpoint.
awsx() { aws --endpoint-url "$infrakt_endpoint" "$@"; }

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
