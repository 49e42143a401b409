# shellcheck shell=sh
# S3 operations VS Code waits for (Test Connection, the listings, Upload to
# S3, the download before a restore, Delete from S3), with aws.sh's set-up.
# Keys and paths come from the preamble; each function prints its marks and
# result line and exits with the protocol's codes.

# A standalone S3 script's start: awscli present (or exit 127 with the message
# diagnoseS3Error knows), set-up, temp dirs removed on exit, and which awscli
# this is (infrakt_s3_announce: version, or only its path where the run is
# waited for: every awscli start costs up to seconds).
infrakt_s3_start() {
  set -u
  infrakt_tmpdirs=''
  infrakt_aws_found || exit 127
  trap 'infrakt_s3_cleanup' EXIT
  trap 'exit 130' INT TERM HUP
  infrakt_aws_setup || {
    echo "infrakt: cannot create a temp dir for awscli's config" >&2
    exit "$infrakt_exit_setup"
  }
  if [ "${infrakt_s3_announce:-version}" = version ]; then
    echo "infrakt: using $(aws --version 2>&1 | head -n1)" >&2
  else
    echo "infrakt: using $(command -v aws)" >&2
  fi
}

infrakt_s3_cleanup() {
  for infrakt_d in $infrakt_tmpdirs; do rm -rf -- "$infrakt_d"; done
}

# The first 400 characters of awscli's stderr, on one line.
infrakt_s3_err() { tr '\n' ' ' <"$infrakt_aws_dir/err" | cut -c1-400; }

# Test Connection: put, head (size), get (sha256), list and delete one probe
# object (infrakt_s3_key), one step mark each; the first failure removes the
# probe and exits with the step code.
infrakt_s3_test() {
  infrakt_s3_start
  infrakt_probe=$infrakt_aws_dir/probe
  printf 'infrakt connection test %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$infrakt_probe"
  infrakt_sum=$(sha256sum "$infrakt_probe" | cut -d' ' -f1)
  infrakt_size=$(wc -c <"$infrakt_probe" | tr -d ' ')
  if awsx s3api put-object --bucket "$infrakt_bucket" --key="$infrakt_s3_key" --body "$infrakt_probe" \
    --metadata sha256="$infrakt_sum" >/dev/null 2>"$infrakt_aws_dir/err"; then
    infrakt_s3_step put ok "$infrakt_s3_key"
  else
    infrakt_s3_step_failed put keep
  fi
  if infrakt_head=$(awsx s3api head-object --bucket "$infrakt_bucket" --key="$infrakt_s3_key" \
    --query ContentLength --output text 2>"$infrakt_aws_dir/err") && [ "$infrakt_head" = "$infrakt_size" ]; then
    infrakt_s3_step head ok "$infrakt_head bytes"
  else
    infrakt_s3_step_failed head "size $infrakt_head, expected $infrakt_size"
  fi
  if awsx s3api get-object --bucket "$infrakt_bucket" --key="$infrakt_s3_key" "$infrakt_probe.back" \
    >/dev/null 2>"$infrakt_aws_dir/err" &&
    [ "$(sha256sum "$infrakt_probe.back" | cut -d' ' -f1)" = "$infrakt_sum" ]; then
    infrakt_s3_step get ok 'sha256 matches'
  else
    infrakt_s3_step_failed get 'downloaded bytes differ from what was uploaded (sha256 mismatch)'
  fi
  if infrakt_n=$(awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix="$infrakt_s3_key" \
    --query 'length(Contents[])' --output text 2>"$infrakt_aws_dir/err") && [ "$infrakt_n" -ge 1 ] 2>/dev/null; then
    infrakt_s3_step list ok 'probe listed'
  else
    infrakt_s3_step_failed list 'the probe object was not listed'
  fi
  if awsx s3api delete-object --bucket "$infrakt_bucket" --key="$infrakt_s3_key" >/dev/null 2>"$infrakt_aws_dir/err"; then
    infrakt_s3_step delete ok 'probe removed'
  else
    infrakt_s3_step_failed delete keep
  fi
  exit 0
}

infrakt_s3_step() { printf '%s %s %s %s\n' "$infrakt_mark_s3step" "$1" "$2" "$3"; }

# infrakt_s3_step_failed <step> <why when awscli said nothing | keep>: the
# step's fail mark; the probe is removed (after a failed put too: the second
# try that reads the error's code may have stored it).
infrakt_s3_step_failed() {
  if [ "$2" != keep ] && [ ! -s "$infrakt_aws_dir/err" ]; then echo "$2" >"$infrakt_aws_dir/err"; fi
  infrakt_s3_step "$1" fail "$(infrakt_s3_err)"
  if [ "$1" != delete ]; then
    aws --endpoint-url "$infrakt_endpoint" s3api delete-object --bucket "$infrakt_bucket" --key="$infrakt_s3_key" \
      </dev/null >/dev/null 2>&1 || :
  fi
  exit "$infrakt_exit_s3_step"
}

# Lists whole key prefixes (infrakt_s3_prefixes: "<index> <prefix>" per line)
# with one awscli call each (awscli follows the continuation tokens): each
# prefix's objects as one JSON array of [key, size, lastModified] between marks
# with its index. The first failure prints the error mark and exits 1. Output
# goes through a file, not a variable: a listing can be megabytes.
infrakt_s3_list_prefixes() {
  infrakt_s3_start
  while read -r infrakt_i infrakt_prefix; do
    [ -n "$infrakt_i" ] || continue
    printf '%s %s\n' "$infrakt_mark_s3prefix" "$infrakt_i"
    # A short connect timeout: a server that cannot reach the endpoint fails in
    # seconds, so that another server can be asked instead.
    if awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix="$infrakt_prefix" \
      --query 'Contents[].[Key,Size,LastModified]' --output json --cli-connect-timeout 10 \
      >"$infrakt_aws_dir/out" 2>"$infrakt_aws_dir/err" </dev/null; then
      cat "$infrakt_aws_dir/out"
    else
      printf '\n%s %s\n' "$infrakt_mark_s3error" "$(infrakt_s3_err)"
      exit 1
    fi
    printf '\n%s\n' "$infrakt_mark_s3prefix_end"
  done <<EOF
$infrakt_s3_prefixes
EOF
  exit 0
}

# Upload to S3 of a backup that is only local (infrakt_file → infrakt_s3_key):
# checked against its .sha256 first, then the object, then the checksum object
# (the commit mark). A file without a .sha256 is refused: its S3 copy could
# never be verified, and an object without its mark is removed as unfinished
# by the next backup's sweep.
infrakt_s3_upload_file() {
  infrakt_s3_start
  [ -f "$infrakt_file" ] || {
    echo "infrakt: $infrakt_file is not on the server any more" >&2
    exit "$infrakt_exit_not_found"
  }
  [ -f "$infrakt_file.sha256" ] || {
    echo "infrakt: $infrakt_file has no .sha256 beside it, so a copy in S3 could never be verified — take a new backup instead" >&2
    exit "$infrakt_exit_no_checksum"
  }
  [ "$(sha256sum <"$infrakt_file" | cut -c1-64)" = "$(head -c 64 <"$infrakt_file.sha256")" ] || {
    echo "infrakt: $infrakt_file does not match its .sha256: it is damaged and is not uploaded" >&2
    exit "$infrakt_exit_checksum_mismatch"
  }
  awsx s3 cp --only-show-errors "$infrakt_file" "s3://$infrakt_bucket/$infrakt_s3_key" </dev/null || exit $?
  awsx s3 cp --only-show-errors "$infrakt_file.sha256" "s3://$infrakt_bucket/$infrakt_s3_key.sha256" </dev/null || exit $?
  printf '%s {"uploaded":"%s"}\n' "$infrakt_mark_result" "$infrakt_s3_key"
}

# Brings an S3-only backup back into the backup dir (infrakt_dir): downloaded
# as .partial, checked against its .sha256 object, then renamed — so a file
# that looks complete is always the one that was uploaded.
infrakt_s3_download() {
  infrakt_s3_start
  if [ ! -d "$infrakt_dir" ]; then (umask 077 && mkdir -p -- "$infrakt_dir") || exit "$infrakt_exit_backup_dir"; fi
  if [ -f "$infrakt_file" ] && [ -f "$infrakt_file.sha256" ]; then
    printf '%s {"downloaded":"%s","existed":true}\n' "$infrakt_mark_result" "$infrakt_file"
    exit 0
  fi
  # A missing checksum object and one that cannot be read are different failures.
  awsx s3 cp --only-show-errors "s3://$infrakt_bucket/$infrakt_s3_key.sha256" "$infrakt_file.sha256.partial" \
    </dev/null 2>"$infrakt_aws_dir/err" || {
    infrakt_dl_rc=$?
    cat "$infrakt_aws_dir/err" >&2
    if grep -Eq '\((404|NoSuchKey)\)|Not Found|does not exist' "$infrakt_aws_dir/err" &&
      ! grep -q 'infrakt: the S3 endpoint answered' "$infrakt_aws_dir/err"; then
      echo "infrakt: no checksum object $infrakt_s3_key.sha256 in S3 — refusing to restore an unverifiable file" >&2
      infrakt_s3_download_failed "$infrakt_exit_no_checksum"
    fi
    echo "infrakt: cannot read the checksum object $infrakt_s3_key.sha256 from S3" >&2
    infrakt_s3_download_failed "$infrakt_dl_rc"
  }
  awsx s3 cp --only-show-errors "s3://$infrakt_bucket/$infrakt_s3_key" "$infrakt_file.partial" </dev/null ||
    infrakt_s3_download_failed $?
  infrakt_want=$(head -c 64 <"$infrakt_file.sha256.partial")
  infrakt_got=$(sha256sum <"$infrakt_file.partial" | cut -c1-64)
  [ "$infrakt_want" = "$infrakt_got" ] || {
    echo "infrakt: downloaded file does not match its checksum (sha256 $infrakt_got, expected $infrakt_want)" >&2
    infrakt_s3_download_failed "$infrakt_exit_checksum_mismatch"
  }
  chmod 600 "$infrakt_file.partial" "$infrakt_file.sha256.partial"
  { mv -f -- "$infrakt_file.sha256.partial" "$infrakt_file.sha256" && mv -f -- "$infrakt_file.partial" "$infrakt_file"; } ||
    infrakt_s3_download_failed "$infrakt_exit_backup_dir"
  printf '%s {"downloaded":"%s","existed":false}\n' "$infrakt_mark_result" "$infrakt_file"
}

infrakt_s3_download_failed() {
  rm -f -- "$infrakt_file.partial" "$infrakt_file.sha256.partial"
  exit "$1"
}

# Deletes backups and their checksum objects (infrakt_s3_keys, one per line),
# printing a result line per key removed; exits 1 when any removal failed.
infrakt_s3_delete() {
  infrakt_s3_start
  infrakt_rc=0
  while IFS= read -r infrakt_k; do
    [ -n "$infrakt_k" ] || continue
    if awsx s3 rm --only-show-errors "s3://$infrakt_bucket/$infrakt_k" </dev/null &&
      awsx s3 rm --only-show-errors "s3://$infrakt_bucket/$infrakt_k.sha256" </dev/null; then
      printf '%s {"deleted":"%s"}\n' "$infrakt_mark_result" "$infrakt_k"
    else
      infrakt_rc=1
    fi
  done <<EOF
$infrakt_s3_keys
EOF
  exit "$infrakt_rc"
}
