# shellcheck shell=sh
# The scheduled run (the file cron runs, backup-<db>.sh): the backup pipeline
# exactly as Back Up Now runs it (infrakt_backup, in a subshell), then local
# retention and S3 keep-newest-N, a status record and a size-capped log. The
# file holds no secret: S3 keys come from a root-only credentials file (see
# aws.sh), a host-mode database password from a root-only file it sources.
# Every failure (dump, upload, retention) ends the run non-zero and is written
# into the status record.
#
# Input (besides the pipeline's): infrakt_s_status_dir, infrakt_s_status,
# infrakt_s_log, infrakt_s_lock, infrakt_s_cap (log bytes), infrakt_s_title,
# infrakt_s_days (local retention), infrakt_s_keep (S3 keep-newest, 0: off),
# infrakt_s_s3 (1: upload), infrakt_s_tails (the "<format>.<ext>" a backup of
# this engine may end with).

infrakt_s_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# JSON string content.
infrakt_s_json() { printf '%s' "$1" | tr '\n\r\t' '   ' | tr -d '\000-\037' | cut -c1-600 | sed 's/\\/\\\\/g; s/"/\\"/g'; }

# The last lines of an error file, on one line.
infrakt_s_tail() {
  grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 3 | {
    infrakt_s_t=
    while IFS= read -r infrakt_s_l; do infrakt_s_t="${infrakt_s_t:+$infrakt_s_t | }$infrakt_s_l"; done
    printf '%s' "$infrakt_s_t"
  }
}

infrakt_s_add_error() { if [ -n "$infrakt_s_error" ]; then infrakt_s_error="$infrakt_s_error; $1"; else infrakt_s_error=$1; fi; }

infrakt_s_write_status() {
  infrakt_s_wrote=
  infrakt_s_finished=$(infrakt_s_now)
  if [ "$1" = true ]; then infrakt_s_last_success=$infrakt_s_finished; fi
  {
    printf '{"started":"%s","finished":"%s","ok":%s,"exitCode":%s' "$infrakt_s_started" "$infrakt_s_finished" "$1" "$2"
    if [ -n "$infrakt_s_file" ]; then printf ',"file":"%s","size":%s,"sha256":"%s"' "$infrakt_s_file" "${infrakt_s_size:-0}" "$infrakt_s_sha"; fi
    if [ -n "$infrakt_s_uploaded" ]; then printf ',"uploaded":%s' "$infrakt_s_uploaded"; fi
    printf ',"deletedLocal":%s,"deletedS3":%s' "$infrakt_s_deleted_local" "$infrakt_s_deleted_s3"
    if [ -n "$infrakt_s_last_success" ]; then printf ',"lastSuccess":"%s"' "$infrakt_s_last_success"; fi
    if [ -n "$infrakt_s_error" ]; then printf ',"error":"%s"' "$(infrakt_s_json "$infrakt_s_error")"; fi
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
  if [ "$1" = true ]; then infrakt_s_msg="ok: $infrakt_s_file (${infrakt_s_size:-0} bytes)"; else infrakt_s_msg="FAILED (exit $2): $infrakt_s_error"; fi
  echo "== $(infrakt_s_now) infrakt: scheduled backup $infrakt_s_msg"
  if [ -n "${infrakt_s_stderr_fd:-}" ]; then echo "infrakt: scheduled backup $infrakt_s_msg (log: $infrakt_s_log)" >&3; fi
  infrakt_s_trim_log
  exit "$2"
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

infrakt_s_on_signal() {
  trap '' INT TERM HUP
  if [ -n "$infrakt_s_pid" ]; then
    kill -TERM "$infrakt_s_pid" 2>/dev/null
    wait "$infrakt_s_pid" 2>/dev/null
    infrakt_s_add_error "interrupted by $1 during the backup; no backup was kept from this run"
  else
    infrakt_s_add_error "interrupted by $1${infrakt_s_file:+ after $infrakt_s_file was saved}"
  fi
  infrakt_s_finish false "$2"
}

# Name rule shared by both retentions (the same rule as the extension's parseBackupName).
infrakt_s_is_backup() {
  infrakt_s_r=${1#"$infrakt_base"}
  [ "$infrakt_s_r" != "$1" ] || return 1
  infrakt_s_ts=${infrakt_s_r%%.*}
  infrakt_s_rest=${infrakt_s_r#*.}
  case "$infrakt_s_ts" in
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) ;;
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9]) ;;
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9][0-9]) ;;
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9][0-9][0-9]) ;;
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9][0-9][0-9][0-9]) ;;
    *) return 1 ;;
  esac
  for infrakt_s_x in $infrakt_s_tails; do
    if [ "$infrakt_s_rest" = "$infrakt_s_x" ]; then return 0; fi
  done
  return 1
}

# "<timestamp> <sequence, 4 digits> <name>": sorts by start time, then by the -<n> of the same second.
infrakt_s_sortkey() {
  infrakt_s_r=${1#"$infrakt_base"}
  infrakt_s_ts=${infrakt_s_r%%Z*}
  case "$infrakt_s_r" in
    *Z-*)
      infrakt_s_q=${infrakt_s_r#*Z-}
      infrakt_s_q=${infrakt_s_q%%.*}
      ;;
    *) infrakt_s_q=1 ;;
  esac
  while [ ${#infrakt_s_q} -lt 4 ]; do infrakt_s_q="0$infrakt_s_q"; done
  printf '%s %s %s\n' "$infrakt_s_ts" "$infrakt_s_q" "$1"
}

# This server's backups of this database (and their .sha256) older than N days.
infrakt_s_local_retention() {
  infrakt_s_cutoff=$(($(date +%s) - infrakt_s_days * 86400))
  infrakt_s_localret_err=
  for infrakt_s_f in "$infrakt_dir/$infrakt_base"*; do
    [ -f "$infrakt_s_f" ] || continue
    infrakt_s_n=${infrakt_s_f##*/}
    case "$infrakt_s_n" in
      *.sha256)
        infrakt_s_b=${infrakt_s_n%.sha256}
        [ ! -e "$infrakt_dir/$infrakt_s_b" ] || continue
        ;;
      *) infrakt_s_b=$infrakt_s_n ;;
    esac
    infrakt_s_is_backup "$infrakt_s_b" || continue
    [ "$infrakt_s_b" != "$infrakt_s_file" ] || continue
    infrakt_s_m=$(stat -c %Y -- "$infrakt_s_f") || {
      infrakt_s_localret_err="cannot stat $infrakt_s_n"
      continue
    }
    [ "$infrakt_s_m" -lt "$infrakt_s_cutoff" ] || continue
    if rm -f -- "$infrakt_s_f" && rm -f -- "$infrakt_s_f.sha256"; then
      echo "infrakt: local retention ($infrakt_s_days days): deleted $infrakt_s_n"
      case "$infrakt_s_n" in *.sha256) ;; *) infrakt_s_deleted_local=$((infrakt_s_deleted_local + 1)) ;; esac
    else
      infrakt_s_localret_err="cannot delete $infrakt_s_n"
    fi
  done
  if [ -n "$infrakt_s_localret_err" ]; then
    infrakt_s_add_error "local retention failed: $infrakt_s_localret_err"
    [ "$infrakt_s_rc" != 0 ] || infrakt_s_rc=$infrakt_exit_local_retention
  fi
}

# Keep-newest-N of this server's backups of this database, only after a successful upload.
infrakt_s_s3_retention() {
  [ "$infrakt_s_keep" -gt 0 ] && [ "$infrakt_s_uploaded" = true ] && [ -n "$infrakt_s_file" ] || return 0
  infrakt_s_s3ret_err=
  infrakt_s_prefix=$infrakt_s3_prefix
  if awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix "$infrakt_s_prefix" --query 'Contents[].[Key]' \
    --output text >"$infrakt_s_work/keys" 2>"$infrakt_s_work/s3err"; then
    : >"$infrakt_s_work/mine"
    while IFS= read -r infrakt_s_k; do
      infrakt_s_n=${infrakt_s_k#"$infrakt_s_prefix"}
      [ "$infrakt_s_n" != "$infrakt_s_k" ] || continue
      infrakt_s_is_backup "$infrakt_s_n" || continue
      infrakt_s_sortkey "$infrakt_s_n" >>"$infrakt_s_work/mine"
    done <"$infrakt_s_work/keys"
    # Only verified backups count (their .sha256 object, the commit mark, is there): an
    # unfinished upload must never be kept in place of a real backup.
    awk -v p="$infrakt_s_prefix" 'index($0, p) == 1 && /\.sha256$/ { n = substr($0, length(p) + 1); print substr(n, 1, length(n) - 7) }' \
      "$infrakt_s_work/keys" >"$infrakt_s_work/sums"
    awk 'NR == FNR { s[$0] = 1; next } ($3 in s)' "$infrakt_s_work/sums" "$infrakt_s_work/mine" | LC_ALL=C sort -r |
      cut -d" " -f3 >"$infrakt_s_work/sorted"
    # The upload not listed yet: do nothing rather than guess.
    if grep -qxF "$infrakt_s_file" "$infrakt_s_work/sorted"; then
      infrakt_s_i=0
      while IFS= read -r infrakt_s_n; do
        infrakt_s_i=$((infrakt_s_i + 1))
        [ "$infrakt_s_i" -gt "$infrakt_s_keep" ] || continue
        [ "$infrakt_s_n" != "$infrakt_s_file" ] || continue
        if awsx s3api delete-object --bucket "$infrakt_bucket" --key "$infrakt_s_prefix$infrakt_s_n" </dev/null >/dev/null 2>>"$infrakt_s_work/s3err" &&
          awsx s3api delete-object --bucket "$infrakt_bucket" --key "$infrakt_s_prefix$infrakt_s_n.sha256" </dev/null >/dev/null 2>>"$infrakt_s_work/s3err"; then
          echo "infrakt: S3 retention (keep newest $infrakt_s_keep): deleted $infrakt_s_prefix$infrakt_s_n"
          infrakt_s_deleted_s3=$((infrakt_s_deleted_s3 + 1))
        else
          infrakt_s_s3ret_err="cannot delete $infrakt_s_prefix$infrakt_s_n: $(infrakt_s_tail "$infrakt_s_work/s3err")"
        fi
      done <"$infrakt_s_work/sorted"
    else
      echo "infrakt: S3 retention skipped: $infrakt_s_file is not listed in S3 yet"
    fi
  else
    infrakt_s_s3ret_err="cannot list $infrakt_s_prefix: $(infrakt_s_tail "$infrakt_s_work/s3err")"
  fi
  if [ -n "$infrakt_s_s3ret_err" ]; then
    cat "$infrakt_s_work/s3err" 2>/dev/null
    infrakt_s_add_error "S3 retention failed: $infrakt_s_s3ret_err"
    [ "$infrakt_s_rc" != 0 ] || infrakt_s_rc=$infrakt_exit_s3_retention
  fi
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
  infrakt_s_result=$(grep "^$infrakt_mark_result " "$infrakt_s_work/out" | tail -n 1)
  if [ -n "$infrakt_s_result" ] && { [ "$infrakt_s_inner_rc" = 0 ] || [ "$infrakt_s_inner_rc" = "$infrakt_exit_sink_failed" ]; }; then
    infrakt_s_file=$(printf '%s\n' "$infrakt_s_result" | sed -n 's/.*"file":"\([^"]*\)".*/\1/p')
    infrakt_s_size=$(printf '%s\n' "$infrakt_s_result" | sed -n 's/.*"size":\([0-9]*\).*/\1/p')
    infrakt_s_sha=$(printf '%s\n' "$infrakt_s_result" | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')
    echo "infrakt: saved $infrakt_s_file ($infrakt_s_size bytes, sha256 $infrakt_s_sha)"
  fi
  if [ -z "$infrakt_s_file" ]; then
    infrakt_s_why=$(infrakt_s_tail "$infrakt_s_work/err")
    infrakt_s_add_error "backup failed (exit $infrakt_s_inner_rc): ${infrakt_s_why:-no output}"
    infrakt_s_rc=$infrakt_s_inner_rc
    [ "$infrakt_s_rc" != 0 ] || infrakt_s_rc=1
    # No backup this run: no retention (the last good backups stay).
    infrakt_s_finish false "$infrakt_s_rc"
  fi
  [ "$infrakt_s_s3" = 1 ] || return 0
  if [ "$infrakt_s_inner_rc" = "$infrakt_exit_sink_failed" ]; then
    infrakt_s_uploaded=false
    if [ "$infrakt_s_cred_missing" = 1 ]; then
      infrakt_s_why="the credentials file $AWS_SHARED_CREDENTIALS_FILE is missing — save the S3 settings again to re-create it"
    else
      infrakt_s_why=$(infrakt_s_tail "$infrakt_s_work/err")
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
  infrakt_s_deleted_local=0 infrakt_s_deleted_s3=0 infrakt_tmpdirs=''
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
  infrakt_s_work=$(mktemp -d "${TMPDIR:-/tmp}/infrakt-sched.XXXXXX") || infrakt_s_setup_failed "cannot create a temp dir"
  # The pipeline needs pipefail (bash, busybox ash); dash alone cannot run it.
  # shellcheck disable=SC3040 # that is the test
  (set -o pipefail) 2>/dev/null || infrakt_s_setup_failed "this shell has no pipefail and bash is not installed — install bash (or run Provision Server)"
  if [ "$infrakt_s_s3" = 1 ]; then infrakt_s_s3_setup; fi
  if [ -n "${infrakt_db_password_file:-}" ] && [ ! -r "$infrakt_db_password_file" ]; then
    infrakt_s_setup_failed "the database password file $infrakt_db_password_file is missing or unreadable — schedule the backup again to re-create it"
  fi

  infrakt_s_run_backup
  infrakt_s_local_retention
  if [ "$infrakt_s_s3" = 1 ]; then infrakt_s_s3_retention; fi
  if [ "$infrakt_s_rc" = 0 ]; then infrakt_s_finish true 0; else infrakt_s_finish false "$infrakt_s_rc"; fi
}
