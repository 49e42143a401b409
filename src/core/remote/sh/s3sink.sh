# shellcheck shell=sh
# The S3 upload as a sink of the backup pipeline (no second read of the file).
# An object is a backup only once its `.sha256` object exists: _after checks
# the uploaded size, then writes the checksum object — the commit mark,
# written last. _abort removes what an uncommitted run left (its multipart
# upload, a finished object without its mark); _sweep removes those of earlier
# runs that were killed before they could.
#
# Input (besides aws.sh's): infrakt_s3_prefix (this database's key prefix),
# infrakt_s3_stall (seconds), infrakt_sweep_seconds and
# infrakt_s3_unmarked_seconds (an object without its mark this old is a leftover).

infrakt_sink_s3_init() { infrakt_aws_setup; }

# One S3 object holds at most 5 TiB: a larger stream is not started (said before
# the dump starts, not after hours of it).
infrakt_s3_max_object=5497558138880

infrakt_sink_s3_check() {
  infrakt_aws_found || return 1
  if [ -n "${infrakt_est_size:-}" ] && [ "$infrakt_est_size" -gt "$infrakt_s3_max_object" ]; then
    echo "infrakt: the database is $((infrakt_est_size / 1073741824)) GiB, more than one S3 object can hold (5 TiB) — the backup is kept on the server only" >&2
    return 1
  fi
}

# One process (env execs aws), so the pipeline can kill it before its input ends.
# --expected-size (set by the pipeline only for a large stream): awscli sizes
# the parts of a stream from it (S3 allows 10,000 parts; its default 8 MiB
# parts would end the upload at about 78 GiB).
infrakt_sink_s3_run() {
  set -- s3 cp --only-show-errors
  if [ -n "${infrakt_expected_size:-}" ]; then set -- "$@" --expected-size "$infrakt_expected_size"; fi
  exec env AWS_MAX_ATTEMPTS=2 aws --endpoint-url "$infrakt_endpoint" --cli-connect-timeout "$infrakt_s3_stall" \
    --cli-read-timeout "$infrakt_s3_stall" "$@" - "s3://$infrakt_bucket/$infrakt_s3_prefix$infrakt_name"
}

# awscli could not name the S3 error (it crashes on an empty <Message>): ask once more.
infrakt_sink_s3_explain() { infrakt_aws_explain "$1"; }

# Bounded by the stall limit too: the endpoint may hang after the data went in.
infrakt_sink_s3_after() {
  infrakt_s3_key=$infrakt_s3_prefix$INFRAKT_NAME
  infrakt_s3_len=$(infrakt_aws_bounded s3api head-object --bucket "$infrakt_bucket" --key="$infrakt_s3_key" \
    --query ContentLength --output text) || return 1
  if [ "$infrakt_s3_len" != "$INFRAKT_SIZE" ]; then
    echo "infrakt: S3 holds $infrakt_s3_len bytes of $INFRAKT_NAME where $INFRAKT_SIZE were sent — the upload is not kept" >&2
    return 1
  fi
  infrakt_sum_lines "$INFRAKT_SHA256" "$INFRAKT_NAME" |
    infrakt_aws_bounded s3 cp --only-show-errors - "s3://$infrakt_bucket/$infrakt_s3_key.sha256"
}

infrakt_sink_s3_abort() {
  infrakt_s3_k=$infrakt_s3_prefix$infrakt_name
  infrakt_aws_quick s3api list-multipart-uploads --bucket "$infrakt_bucket" --prefix="$infrakt_s3_k" \
    --query 'Uploads[].[Key,UploadId]' --output text 2>/dev/null |
    while IFS="$(printf '\t')" read -r infrakt_uk infrakt_uid; do
      if [ "$infrakt_uk" = "$infrakt_s3_k" ] && [ -n "$infrakt_uid" ]; then
        infrakt_aws_quick s3api abort-multipart-upload --bucket "$infrakt_bucket" --key="$infrakt_s3_k" --upload-id "$infrakt_uid" || :
      fi
    done
  # The keys are our own names (letters, digits, . _ - /): safe inside JSON as they are.
  infrakt_aws_quick s3api delete-objects --bucket "$infrakt_bucket" \
    --delete "{\"Objects\":[{\"Key\":\"$infrakt_s3_k\"},{\"Key\":\"$infrakt_s3_k.sha256\"}],\"Quiet\":true}" >/dev/null
}

# An ISO time <seconds> ago (GNU date), or empty.
infrakt_s3_ago() { date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%S 2>/dev/null || :; }

infrakt_sink_s3_sweep() {
  infrakt_s3_cut=$(infrakt_s3_ago "$infrakt_sweep_seconds")
  infrakt_s3_objage=$infrakt_s3_unmarked_seconds
  [ "$infrakt_sweep_seconds" -ge "$infrakt_s3_objage" ] || infrakt_s3_objage=$infrakt_sweep_seconds
  infrakt_s3_cut_obj=$(infrakt_s3_ago "$infrakt_s3_objage")
  infrakt_sw="$infrakt_work/sweep_s3"
  infrakt_tab=$(printf '\t')
  [ -n "$infrakt_s3_cut" ] && [ -n "$infrakt_s3_cut_obj" ] && command -v aws >/dev/null 2>&1 || return 0
  # Objects of this server's database with no .sha256 beside them, finished before the cut-off:
  # a finished upload gets its mark within seconds, so an hour without one means it never will.
  infrakt_aws_quick s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix="$infrakt_s3_prefix$infrakt_base" \
    --query 'Contents[].[Key,LastModified]' --output text >"$infrakt_sw.objects" 2>/dev/null || :
  awk -F '\t' -v c="$infrakt_s3_cut_obj" 'NF >= 2 { if ($1 ~ /\.sha256$/) s[substr($1, 1, length($1) - 7)] = 1; else o[$1] = substr($2, 1, 19) }
    END { for (k in o) if (!(k in s) && o[k] < c) print k }' "$infrakt_sw.objects" >"$infrakt_sw.victims" 2>/dev/null || :
  while IFS= read -r infrakt_sk; do
    infrakt_aws_quick s3api delete-object --bucket "$infrakt_bucket" --key="$infrakt_sk" >/dev/null 2>&1 &&
      echo "infrakt: removed an unfinished S3 upload of an earlier run: $infrakt_sk"
  done <"$infrakt_sw.victims"
  # Multipart uploads never completed (killed runs), started before the cut-off.
  infrakt_aws_quick s3api list-multipart-uploads --bucket "$infrakt_bucket" --prefix="$infrakt_s3_prefix$infrakt_base" \
    --query 'Uploads[].[Key,UploadId,Initiated]' --output text >"$infrakt_sw.uploads" 2>/dev/null || :
  awk -F '\t' -v c="$infrakt_s3_cut" 'NF >= 3 && substr($3, 1, 19) < c { print $1 "\t" $2 }' \
    "$infrakt_sw.uploads" >"$infrakt_sw.stale" 2>/dev/null || :
  while IFS="$infrakt_tab" read -r infrakt_sk infrakt_sid; do
    infrakt_aws_quick s3api abort-multipart-upload --bucket "$infrakt_bucket" --key="$infrakt_sk" --upload-id "$infrakt_sid" >/dev/null 2>&1 &&
      echo "infrakt: aborted an unfinished S3 multipart upload of an earlier run: $infrakt_sk"
  done <"$infrakt_sw.stale"
  return 0
}
