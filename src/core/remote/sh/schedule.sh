# shellcheck shell=sh
# The scheduled run (the file cron runs, backup-<db>.sh): the backup pipeline
# exactly as Back Up Now runs it (infrakt_backup, in a subshell, with its
# retention: retention.sh), a status record and a size-capped log. The
# file holds no secret: S3 keys come from a root-only credentials file (see
# aws.sh), a host-mode database password from a root-only file it sources.
# Every failure (dump, upload, retention) ends the run non-zero and is written
# into the status record.
#
# Input (besides the pipeline's): infrakt_s_status_dir, infrakt_s_status,
# infrakt_s_log, infrakt_s_lock, infrakt_s_cap (log bytes), infrakt_s_title,
# infrakt_s_s3 (1: upload), infrakt_s_alerts (the root-only alert destinations
# file; empty: no alerts), infrakt_s_verify (off, each or weekly: the
# verification restore after a good backup, verify.sh; with restore.sh's
# infrakt_restore_polls) and the event's infrakt_alert_server,
# infrakt_alert_database, infrakt_alert_engine (alert.sh).
#
# The verification runs inside the backup's run, after its commit and before
# its retention: a backup that does not restore fails the run (and alerts),
# and the retention is not applied, so no older backup goes because of it. A
# verification that could not run (no scratch database) fails the run too,
# but holds nothing back: it said nothing about the backup.
# Its verdict is recorded beside the backup as Verify Backup records it;
# "weekly" verifies when the last good verification (<status>.verified) is
# about a week old.

infrakt_s_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

infrakt_s_add_error() { if [ -n "$infrakt_s_error" ]; then infrakt_s_error="$infrakt_s_error; $1"; else infrakt_s_error=$1; fi; }

infrakt_s_write_status() {
  infrakt_s_wrote=
  infrakt_s_finished=$(infrakt_s_now)
  if [ "$1" = true ]; then infrakt_s_last_success=$infrakt_s_finished; fi
  {
    printf '{"started":"%s","finished":"%s","ok":%s,"exitCode":%s' "$infrakt_s_started" "$infrakt_s_finished" "$1" "$2"
    if [ -n "$infrakt_s_file" ]; then printf ',"file":"%s","size":%s,"sha256":"%s"' "$infrakt_s_file" "${infrakt_s_size:-0}" "$infrakt_s_sha"; fi
    if [ -n "$infrakt_s_uploaded" ]; then printf ',"uploaded":%s' "$infrakt_s_uploaded"; fi
    if [ -n "$infrakt_s_verified" ]; then printf ',"verified":%s' "$infrakt_s_verified"; fi
    printf ',"deletedLocal":%s,"deletedS3":%s' "$infrakt_s_deleted_local" "$infrakt_s_deleted_s3"
    if [ -n "$infrakt_s_last_success" ]; then printf ',"lastSuccess":"%s"' "$infrakt_s_last_success"; fi
    if [ -n "$infrakt_s_error" ]; then printf ',"error":"%s"' "$(infrakt_json_text "$infrakt_s_error")"; fi
    if [ -n "$infrakt_s_alert_error" ]; then printf ',"alertError":"%s"' "$(infrakt_json_text "$infrakt_s_alert_error")"; fi
    printf '}\n'
  } >"$infrakt_s_status.tmp.$$" || infrakt_s_wrote=no
  if [ "${infrakt_s_wrote:-}" = no ] || ! mv -f -- "$infrakt_s_status.tmp.$$" "$infrakt_s_status"; then
    echo "infrakt: cannot write the status record $infrakt_s_status"
    rm -f -- "$infrakt_s_status.tmp.$$"
    return 1
  fi
}

infrakt_s_trim_log() {
  if [ -f "$infrakt_s_log" ] && [ "$(wc -c <"$infrakt_s_log")" -gt "$infrakt_s_cap" ]; then
    # In place (cat >), so a writer that holds the log open in append mode (cron's >>) keeps appending to it.
    tail -c "$((infrakt_s_cap / 2))" "$infrakt_s_log" >"$infrakt_s_log.trim" && cat "$infrakt_s_log.trim" >"$infrakt_s_log"
    rm -f -- "$infrakt_s_log.trim"
  fi
}

# Ends the run: status record, log line, summary for a person running it by hand, exit code.
infrakt_s_finish() {
  trap '' INT TERM HUP
  if [ "$1" = true ]; then infrakt_s_write_status true 0 || set -- false 1; fi
  if [ "$1" != true ]; then infrakt_s_write_status false "$2"; fi
  # The alerts say what the status record says; one that fails is recorded, the result stays.
  if infrakt_s_alert "$1"; then infrakt_s_write_status "$1" "$2" || :; fi
  if [ "$1" = true ]; then infrakt_s_msg="ok: $infrakt_s_file (${infrakt_s_size:-0} bytes)"; else infrakt_s_msg="FAILED (exit $2): $infrakt_s_error"; fi
  echo "== $(infrakt_s_now) infrakt: scheduled backup $infrakt_s_msg"
  if [ -n "${infrakt_s_stderr_fd:-}" ]; then echo "infrakt: scheduled backup $infrakt_s_msg (log: $infrakt_s_log)" >&3; fi
  infrakt_s_trim_log
  exit "$2"
}

# The destinations, read once per run from the root-only file (never exported, never in argv).
infrakt_s_alert_load() {
  [ -n "$infrakt_s_alerts" ] || return 0
  if [ -r "$infrakt_s_alerts" ]; then
    infrakt_alert_dests=$(cat -- "$infrakt_s_alerts")
  else
    infrakt_s_alert_missing="the alert destinations file $infrakt_s_alerts is missing or unreadable — save the alert destinations again to re-create it"
    echo "infrakt: $infrakt_s_alert_missing"
  fi
}

# infrakt_s_alert <start|true|false>: sends the event; status 0 when an alert
# failed (so the status record is written again with alertError).
infrakt_s_alert() {
  [ -n "$infrakt_s_alerts" ] || return 1
  case "$1" in
    start) infrakt_alert_event=start ;;
    true) infrakt_alert_event=ok ;;
    *) infrakt_alert_event=failed ;;
  esac
  infrakt_alert_trigger=scheduled
  infrakt_alert_cause=$infrakt_s_error
  infrakt_alert_file=$infrakt_s_file
  infrakt_alert_size=$infrakt_s_size
  infrakt_alert_duration=$(($(date +%s) - infrakt_s_t0))
  infrakt_alert_failures=
  if [ -n "$infrakt_alert_dests" ]; then infrakt_alert_send_all; fi
  infrakt_s_alert_error=${infrakt_s_alert_missing:-}
  if [ -n "$infrakt_alert_failures" ]; then infrakt_s_alert_error="${infrakt_s_alert_error:+$infrakt_s_alert_error; }$infrakt_alert_failures"; fi
  [ -n "$infrakt_s_alert_error" ]
}

infrakt_s_setup_failed() {
  infrakt_s_add_error "$1"
  echo "infrakt: $1" >&2
  infrakt_s_finish false "$infrakt_exit_setup"
}

infrakt_s_cleanup() {
  if [ -n "$infrakt_s_work" ]; then rm -rf -- "$infrakt_s_work"; fi
  for infrakt_s_f in ${infrakt_tmpdirs:-}; do rm -rf -- "$infrakt_s_f"; done
}

# The last result line in an output file (the backup's or its verification's), and its file name.
infrakt_s_last_result() { grep "^$infrakt_mark_result " "$1" | tail -n 1; }
infrakt_s_result_file() { printf '%s\n' "$1" | sed -n 's/.*"file":"\([^"]*\)".*/\1/p'; }

infrakt_s_on_signal() {
  trap '' INT TERM HUP
  if [ -n "$infrakt_s_pid" ]; then
    kill -TERM "$infrakt_s_pid" 2>/dev/null
    wait "$infrakt_s_pid" 2>/dev/null
    # How far the backup got says what this run leaves: nothing, a file saved
    # here only, or a backup with its copies (its verification or retention cut short).
    infrakt_s_saved=$(cat -- "$infrakt_s_work/committing" 2>/dev/null)
    [ -n "$infrakt_s_saved" ] && [ -f "$infrakt_s_saved" ] || infrakt_s_saved=''
    infrakt_s_file=$(infrakt_s_result_file "$(infrakt_s_last_result "$infrakt_s_work/out")")
    if [ -f "$infrakt_s_work/verify.out" ] && [ ! -f "$infrakt_s_work/verify.done" ]; then
      # Its verification restore was cut short (its scratch copy dropped).
      infrakt_s_add_error "interrupted by $1 during the verification restore; ${infrakt_s_file:-the backup} was kept, unverified, and retention was not applied"
    elif [ -n "$infrakt_s_file" ]; then
      infrakt_s_add_error "interrupted by $1 after $infrakt_s_file was saved, during its retention; the retention may not have finished — the next run applies it"
    elif [ -n "$infrakt_s_saved" ]; then
      infrakt_s_file=${infrakt_s_saved##*/}
      infrakt_s_add_error "interrupted by $1 after $infrakt_s_file was saved on the server, before its uploads finished; it is kept on the server only, and retention was not applied"
    else
      infrakt_s_add_error "interrupted by $1 during the backup; no backup was kept from this run"
    fi
  else
    infrakt_s_add_error "interrupted by $1${infrakt_s_file:+ after $infrakt_s_file was saved}"
  fi
  infrakt_s_finish false "$2"
}

# The pipeline's step just before its commit (in the backup's subshell): the
# file's path, so a signal can tell whether the file was saved.
infrakt_on_commit() {
  printf '%s\n' "$infrakt_final" >"$infrakt_s_work/committing" 2>/dev/null || :
}

# What the pipeline's retention did (its mark in the backup's output): the
# counts for the status record, its deletions in the log, and an error as
# this run's failure.
infrakt_s_retention() {
  grep "^$infrakt_mark_deleted " "$infrakt_s_work/out" | while IFS= read -r infrakt_s_l; do
    echo "infrakt: retention deleted ${infrakt_s_l#"$infrakt_mark_deleted "}"
  done
  infrakt_s_ret=$(grep "^$infrakt_mark_retention " "$infrakt_s_work/out" | tail -n 1)
  [ -n "$infrakt_s_ret" ] || return 0
  infrakt_s_deleted_local=$(printf '%s\n' "$infrakt_s_ret" | sed -n 's/.*"deletedLocal":\([0-9]*\).*/\1/p')
  infrakt_s_deleted_s3=$(printf '%s\n' "$infrakt_s_ret" | sed -n 's/.*"deletedS3":\([0-9]*\).*/\1/p')
  infrakt_s_reterr=$(printf '%s\n' "$infrakt_s_ret" | sed -n 's/.*"error":"\(.*\)"}$/\1/p' | sed 's/\\"/"/g; s/\\\\/\\/g')
  [ -n "$infrakt_s_reterr" ] || return 0
  echo "infrakt: retention failed: $infrakt_s_reterr"
  infrakt_s_add_error "retention failed: $infrakt_s_reterr"
  [ "$infrakt_s_rc" = 0 ] || return 0
  case "$infrakt_s_reterr" in
    local:*) infrakt_s_rc=$infrakt_exit_local_retention ;;
    *) infrakt_s_rc=$infrakt_exit_s3_retention ;;
  esac
}

# The S3 set-up of the run itself (retention lists and deletes; the upload is the pipeline's).
infrakt_s_s3_setup() {
  infrakt_aws_setup
  [ -d "${infrakt_aws_dir:-}" ] || infrakt_s_setup_failed "cannot create a temp dir for the awscli config"
  if command -v aws >/dev/null 2>&1; then
    echo "infrakt: using $(command -v aws): $(aws --version 2>&1 | head -n 1)"
  else
    echo "infrakt: awscli (aws) not found on this server: the upload will fail — run Provision Server"
  fi
  if [ ! -r "$AWS_SHARED_CREDENTIALS_FILE" ]; then
    infrakt_s_cred_missing=1
    echo "infrakt: S3 credentials file $AWS_SHARED_CREDENTIALS_FILE is missing or unreadable: the upload will fail — save the S3 settings again to re-create it"
  fi
}

# Whether this run verifies: always, or weekly when the last good one is a week old (less an hour of slack).
infrakt_s_verify_due() {
  case "$infrakt_s_verify" in
    each) return 0 ;;
    weekly) [ -z "$(find "$infrakt_s_verified_stamp" -mmin -10020 2>/dev/null)" ] ;;
    *) return 1 ;;
  esac
}

# The pipeline's step after the commit (in the backup's subshell): the
# verification restore of the backup just made, as Verify Backup runs it, in
# a child the pipeline's clean-up stops (a cancel drops the scratch copy).
infrakt_after_commit() {
  infrakt_s_verify_due || return 0
  echo "infrakt: verification restore of $infrakt_name into a scratch copy" >&2
  infrakt_vs_rc=0
  (
    # The backup's own sinks are done: the verification's clean-up has none to stop.
    infrakt_sinks='' infrakt_compression=$infrakt_ext infrakt_encrypted=0 infrakt_identity='' infrakt_allow_unverified=0
    infrakt_verify_backup
  ) >"$infrakt_s_work/verify.out" 2>"$infrakt_s_work/verify.err" </dev/null &
  infrakt_step_pid=$!
  wait "$infrakt_step_pid" || infrakt_vs_rc=$?
  infrakt_step_pid=''
  : >"$infrakt_s_work/verify.done"
  # Only a verdict against the backup holds the retention: a verification that
  # could not run (no scratch database: a grant missing) says nothing of it.
  if [ "$infrakt_vs_rc" != 0 ] && grep -q '"ok":false' "$infrakt_s_work/verify.out"; then
    infrakt_retention_hold="the verification restore of $infrakt_name did not pass"
  fi
}

# The verification's outcome (after the backup's subshell): status, log, error.
infrakt_s_verification() {
  [ -f "$infrakt_s_work/verify.out" ] || return 0
  cat "$infrakt_s_work/verify.err"
  infrakt_s_vres=$(infrakt_s_last_result "$infrakt_s_work/verify.out")
  case "$infrakt_s_vres" in
    *'"ok":true'*)
      infrakt_s_verified=true
      touch -- "$infrakt_s_verified_stamp" 2>/dev/null || :
      infrakt_s_vsum=$(printf '%s\n' "$infrakt_s_vres" | sed -n 's/.*"tables":\([0-9]*\),"rows":\([0-9]*\).*/\1 tables, \2 rows/p')
      echo "infrakt: verified $infrakt_s_file: it restores${infrakt_s_vsum:+ ($infrakt_s_vsum)}"
      return 0
      ;;
    *'"ok":false'*)
      infrakt_s_vwhy=$(printf '%s\n' "$infrakt_s_vres" | sed -n 's/.*"problem":"\(.*\)"}$/\1/p' | sed 's/\\"/"/g; s/\\\\/\\/g')
      infrakt_s_add_error "$infrakt_s_file was saved but did not pass its verification restore: ${infrakt_s_vwhy:-no reason given}; retention was not applied"
      ;;
    *)
      infrakt_s_vwhy=$(infrakt_tail_lines "$infrakt_s_work/verify.err")
      infrakt_s_add_error "the verification restore of $infrakt_s_file could not run: ${infrakt_s_vwhy:-no output}"
      ;;
  esac
  infrakt_s_verified=false
  echo "infrakt: $infrakt_s_error"
  [ "$infrakt_s_rc" != 0 ] || infrakt_s_rc=$infrakt_exit_verify_failed
}

# The backup itself, in a subshell (it exits), its output kept apart.
infrakt_s_run_backup() {
  # Children get neither the caller's stderr (fd 3) nor the lock (fd 9): a straggler (the
  # progress ticker's sleep) must not hold the SSH channel open or block the next run.
  (infrakt_backup) >"$infrakt_s_work/out" 2>"$infrakt_s_work/err" </dev/null 3>&- 9>&- &
  infrakt_s_pid=$!
  infrakt_s_inner_rc=0
  wait "$infrakt_s_pid" || infrakt_s_inner_rc=$?
  infrakt_s_pid=
  cat "$infrakt_s_work/err"
  infrakt_s_result=$(infrakt_s_last_result "$infrakt_s_work/out")
  if [ -n "$infrakt_s_result" ] && { [ "$infrakt_s_inner_rc" = 0 ] || [ "$infrakt_s_inner_rc" = "$infrakt_exit_sink_failed" ]; }; then
    infrakt_s_file=$(infrakt_s_result_file "$infrakt_s_result")
    infrakt_s_size=$(printf '%s\n' "$infrakt_s_result" | sed -n 's/.*"size":\([0-9]*\).*/\1/p')
    infrakt_s_sha=$(printf '%s\n' "$infrakt_s_result" | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')
    echo "infrakt: saved $infrakt_s_file ($infrakt_s_size bytes, sha256 $infrakt_s_sha)"
  fi
  if [ -z "$infrakt_s_file" ]; then
    infrakt_s_why=$(infrakt_tail_lines "$infrakt_s_work/err")
    infrakt_s_add_error "backup failed (exit $infrakt_s_inner_rc): ${infrakt_s_why:-no output}"
    infrakt_s_rc=$infrakt_s_inner_rc
    [ "$infrakt_s_rc" != 0 ] || infrakt_s_rc=1
    # No backup this run, so no retention ran (the last good backups stay).
    infrakt_s_finish false "$infrakt_s_rc"
  fi
  [ "$infrakt_s_s3" = 1 ] || return 0
  if [ "$infrakt_s_inner_rc" = "$infrakt_exit_sink_failed" ]; then
    infrakt_s_uploaded=false
    if [ "$infrakt_s_cred_missing" = 1 ]; then
      infrakt_s_why="the credentials file $AWS_SHARED_CREDENTIALS_FILE is missing — save the S3 settings again to re-create it"
    else
      infrakt_s_why=$(infrakt_tail_lines "$infrakt_s_work/err")
    fi
    infrakt_s_add_error "saved locally; upload to S3 failed: ${infrakt_s_why:-no output}"
    infrakt_s_rc=$infrakt_exit_sink_failed
  else
    infrakt_s_uploaded=true
    echo "infrakt: uploaded to s3://$infrakt_bucket/$infrakt_s3_prefix$infrakt_s_file"
  fi
}

infrakt_scheduled() {
  # The same shell Back Up Now uses: bash when the server has it (pipefail), else sh.
  if [ -z "${INFRAKT_SCHEDULED_SHELL:-}" ] && [ -f "$0" ] && command -v bash >/dev/null 2>&1; then
    INFRAKT_SCHEDULED_SHELL=bash
    export INFRAKT_SCHEDULED_SHELL
    exec bash "$0"
  fi
  set -u
  umask 077
  # cron's PATH is minimal (/usr/bin:/bin): add where awscli and database tools usually live.
  PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  HOME=${HOME:-/}
  export PATH HOME
  infrakt_s_work='' infrakt_s_pid='' infrakt_s_file='' infrakt_s_size='' infrakt_s_sha=''
  infrakt_s_uploaded='' infrakt_s_error='' infrakt_s_rc=0 infrakt_s_cred_missing=0
  infrakt_s_deleted_local=0 infrakt_s_deleted_s3=0 infrakt_tmpdirs='' infrakt_s_verified=''
  infrakt_s_verified_stamp=${infrakt_s_status%.json}.verified
  infrakt_s_alert_error='' infrakt_s_alert_missing='' infrakt_alert_dests='' infrakt_alert_dir=''
  infrakt_s_t0=$(date +%s)
  infrakt_s_started=$(infrakt_s_now)
  infrakt_s_last_success=$(sed -n 's/.*"lastSuccess":"\([^"]*\)".*/\1/p' "$infrakt_s_status" 2>/dev/null | head -n 1)
  trap 'infrakt_s_cleanup' EXIT
  trap 'infrakt_s_on_signal SIGINT 130' INT
  trap 'infrakt_s_on_signal SIGTERM 143' TERM
  trap 'infrakt_s_on_signal SIGHUP 129' HUP

  # Status dir and log: everything from here on goes to the (capped) log.
  if [ ! -d "$infrakt_dir" ]; then
    mkdir -p -- "$infrakt_dir" || {
      echo "infrakt: cannot create $infrakt_dir" >&2
      exit "$infrakt_exit_backup_dir"
    }
  fi
  mkdir -p -- "$infrakt_s_status_dir" || {
    echo "infrakt: cannot create $infrakt_s_status_dir" >&2
    exit "$infrakt_exit_backup_dir"
  }
  infrakt_s_trim_log
  # A person running the script by hand gets a one-line summary on their stderr (cron's stderr is the log).
  infrakt_s_stderr_fd=
  # shellcheck disable=SC3013 # dash, bash and busybox have -ef; elsewhere the summary is only doubled
  if ! [ /dev/fd/2 -ef "$infrakt_s_log" ] 2>/dev/null; then
    exec 3>&2
    infrakt_s_stderr_fd=3
  fi
  exec >>"$infrakt_s_log" 2>&1
  echo "== $infrakt_s_started infrakt: scheduled backup of $infrakt_s_title starts (pid $$)"
  # One run at a time per database: cron may start the next while a long one still runs.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$infrakt_s_lock"
    if ! flock -n 9; then
      echo "infrakt: another run of this backup still holds the lock; this run is skipped"
      if [ -n "${infrakt_s_stderr_fd:-}" ]; then echo "infrakt: another run of this backup is in progress; skipped" >&3; fi
      exit "$infrakt_exit_busy"
    fi
  fi
  infrakt_s_alert_load
  # healthchecks-style pings get /start (the others ignore it); its failure is logged only.
  infrakt_s_alert start || :
  infrakt_s_alert_error=''
  infrakt_s_work=$(mktemp -d "${TMPDIR:-/tmp}/infrakt-sched.XXXXXX") || infrakt_s_setup_failed "cannot create a temp dir"
  # The pipeline needs pipefail (bash, busybox ash); dash alone cannot run it.
  # shellcheck disable=SC3040 # that is the test
  (set -o pipefail) 2>/dev/null || infrakt_s_setup_failed "this shell has no pipefail and bash is not installed — install bash (or run Provision Server)"
  if [ "$infrakt_s_s3" = 1 ]; then infrakt_s_s3_setup; fi
  if [ -n "${infrakt_db_password_file:-}" ] && [ ! -r "$infrakt_db_password_file" ]; then
    infrakt_s_setup_failed "the database password file $infrakt_db_password_file is missing or unreadable — schedule the backup again to re-create it"
  fi

  infrakt_s_run_backup
  infrakt_s_verification
  infrakt_s_retention
  if [ "$infrakt_s_rc" = 0 ]; then infrakt_s_finish true 0; else infrakt_s_finish false "$infrakt_s_rc"; fi
}
