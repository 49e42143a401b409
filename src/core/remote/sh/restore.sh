# shellcheck shell=sh
# Restore: verify the sha256 first (a mismatch exits before anything touches
# the database), then decompress by the file's extension and hand the dump to
# the engine's module. An engine either defines infrakt_db_restore_cmd (one
# process reading the dump on stdin: it `exec`s its tool, in a subshell of ours) or its own
# infrakt_db_restore (Redis swaps its RDB file, SQLite replaces its file).
#
# An encrypted backup (.age) is decrypted on the way with the identity sent in
# this script (infrakt_identity, never exported, never in an argv): age reads
# it from a FIFO in the run's private temp dir, written by the shell's printf
# builtin, so the key never lands on the server's disk. Whether it opens the
# backup is checked on the first bytes before anything touches the database.
#
# The stored bytes come from the backup file on this server (infrakt_source=file),
# from S3 (s3: infrakt_s3_key, the object's .sha256 object read first), or
# from this computer (stream: a FIFO in the private work dir, announced with
# the stream-in mark, that VS Code fills over a second channel with what the
# source server sends; infrakt_expected_sha256). A streamed restore needs no
# copy on this disk: the bytes are hashed on the way, and the last
# infrakt_holdback bytes are held back until the sha256 matched, so the
# restore tool cannot finish before the verdict; a mismatch kills it first (its
# one transaction is rolled back: infrakt_db_restore_atomic=1, PostgreSQL).
# An engine that cannot roll back, or reads the file itself, gets the stream
# spooled to a private file in the backup dir first (free space checked,
# sha256 checked), then restored from it as from a local backup.
#
# infrakt_create_db=1: the database is created first (the engine's
# infrakt_db_create; it must not exist yet) and dropped again when the restore
# does not finish.
#
# Input: infrakt_dir, infrakt_name (the backup file), infrakt_compression (zst|gz),
# infrakt_encrypted (1: .age) and infrakt_identity (the age identities, one per line),
# infrakt_format, infrakt_allow_unverified (1: a file without .sha256 may be
# restored), infrakt_restore_polls (5 per second of waiting for a server to come
# back); the engine's infrakt_db_* values.

infrakt_pick_decompressor() {
  if [ "$infrakt_compression" = zst ]; then
    infrakt_resolve infrakt_unz zstd
    infrakt_decomp="zstd -dc -q"
  elif command -v pigz >/dev/null 2>&1; then
    infrakt_decomp="pigz -dc"
  elif command -v gzip >/dev/null 2>&1; then
    infrakt_decomp="gzip -dc"
  else
    infrakt_missing gzip
  fi
}

infrakt_verify() {
  [ -f "$infrakt_file" ] || {
    echo "infrakt: $infrakt_file not found" >&2
    exit "$infrakt_exit_not_found"
  }
  if [ -f "$infrakt_file.sha256" ]; then
    infrakt_expected=$(head -c 64 <"$infrakt_file.sha256")
    infrakt_actual=$($infrakt_sha <"$infrakt_file" | cut -c1-64)
    if [ "$infrakt_expected" != "$infrakt_actual" ]; then
      echo "infrakt: checksum mismatch for $infrakt_name: expected $infrakt_expected, file has $infrakt_actual" >&2
      exit "$infrakt_exit_checksum_mismatch"
    fi
    printf '%s verified %s\n' "$infrakt_mark_step" "$infrakt_actual"
  elif [ "$infrakt_allow_unverified" = 1 ]; then
    printf '%s unverified no-checksum\n' "$infrakt_mark_step"
  else
    echo "infrakt: $infrakt_name has no .sha256" >&2
    exit "$infrakt_exit_no_checksum"
  fi
}

# The identity into a fresh FIFO for one age process to read ($infrakt_work/id).
infrakt_age_identity() {
  if [ -n "${infrakt_id_pid:-}" ]; then kill "$infrakt_id_pid" 2>/dev/null || :; fi
  rm -f -- "$infrakt_work/id"
  mkfifo -m 600 "$infrakt_work/id"
  printf '%s\n' "$infrakt_identity" >"$infrakt_work/id" &
  infrakt_id_pid=$!
}

# Before anything is touched: the identity opens the backup (age decrypts its header and first chunk).
# A refusal names the key the backup was encrypted for (from its .sha256) on a line of its own.
infrakt_check_identity() {
  infrakt_for=$(infrakt_sum_recipient "$infrakt_file.sha256")
  if [ -n "$infrakt_for" ]; then printf '%s %s\n' "$infrakt_mark_recipient" "$infrakt_for"; fi
  if [ -z "${infrakt_identity:-}" ]; then
    echo "infrakt: $infrakt_name is encrypted and no identity was given" >&2
    exit "$infrakt_exit_decrypt"
  fi
  infrakt_age_identity
  # Under pipefail age's status (SIGPIPE once head has its byte) is the pipeline's: only the count matters.
  infrakt_first=$({ $infrakt_age -d -i "$infrakt_work/id" <"$infrakt_file" 2>"$infrakt_work/age.err"; } | head -c 1 | wc -c) || :
  if [ "$infrakt_first" -lt 1 ]; then
    kill "$infrakt_id_pid" 2>/dev/null || :
    echo "infrakt: cannot decrypt $infrakt_name: $(infrakt_tail_lines "$infrakt_work/age.err")" >&2
    exit "$infrakt_exit_decrypt"
  fi
}

# The stored bytes, decrypted (its status in $infrakt_work/dec_rc when it fails).
infrakt_decrypted() {
  infrakt_age_identity
  $infrakt_age -d -i "$infrakt_work/id" <"$infrakt_file" || echo "$?" >"$infrakt_work/dec_rc"
}

# After infrakt_decrypted: the restore stops when age failed on the way.
infrakt_decrypt_ok() {
  if [ -s "$infrakt_work/dec_rc" ]; then
    echo "infrakt: age failed while decrypting (exit $(cat "$infrakt_work/dec_rc"))" >&2
    exit "$infrakt_exit_restore_failed"
  fi
}

# The decompressed dump into the engine's restore command. The decompressor's
# status is kept in a file: without pipefail (dash) a pipeline's status is only
# its last command's. An engine whose tool reads the file as it is (mongorestore
# --gzip) sets infrakt_db_restore_raw=1.
infrakt_restore_stream() {
  printf '%s restore %s\n' "$infrakt_mark_step" "$infrakt_db_restore_tool"
  infrakt_restore_rc=0
  if [ "${infrakt_db_restore_raw:-0}" = 1 ]; then
    (infrakt_db_restore_cmd) <"$infrakt_file" >&2 || infrakt_restore_rc=$?
  elif [ "$infrakt_encrypted" = 1 ]; then
    { infrakt_decrypted | $infrakt_decomp || echo "$?" >"$infrakt_work/decomp_rc"; } | (infrakt_db_restore_cmd) >&2 || infrakt_restore_rc=$?
  else
    { $infrakt_decomp <"$infrakt_file" || echo "$?" >"$infrakt_work/decomp_rc"; } | (infrakt_db_restore_cmd) >&2 || infrakt_restore_rc=$?
  fi
  if [ "$infrakt_restore_rc" != 0 ]; then
    echo "infrakt: $infrakt_db_restore_tool failed (exit $infrakt_restore_rc)" >&2
    exit "$infrakt_exit_restore_failed"
  fi
  infrakt_decrypt_ok
  if [ -s "$infrakt_work/decomp_rc" ]; then
    echo "infrakt: $infrakt_decomp failed (exit $(cat "$infrakt_work/decomp_rc"))" >&2
    exit "$infrakt_exit_restore_failed"
  fi
}

# The stored bytes of a streamed restore, on stdout: the S3 object, or what
# VS Code writes into the stream-in FIFO.
infrakt_source_bytes() {
  if [ "$infrakt_source" = s3 ]; then
    exec aws --endpoint-url "$infrakt_endpoint" s3 cp --only-show-errors "s3://$infrakt_bucket/$infrakt_s3_key" - </dev/null
  fi
  exec cat "$infrakt_work/in"
}

# The expected sha256 of a streamed restore. From S3 its .sha256 object is
# fetched beside the stream (an awscli start costs about a second); the
# verdict waits for it (infrakt_expected_ready).
infrakt_stream_expect() {
  if [ "$infrakt_source" = stream ]; then
    infrakt_expected=$infrakt_expected_sha256
    return 0
  fi
  infrakt_aws_setup || {
    echo "infrakt: cannot create a temp dir for awscli's config" >&2
    exit "$infrakt_exit_setup"
  }
  if ! infrakt_streams_atomically; then infrakt_s3_size; fi
  {
    awsx s3 cp --only-show-errors "s3://$infrakt_bucket/$infrakt_s3_key.sha256" "$infrakt_work/sha256" </dev/null 2>"$infrakt_work/aws.err" ||
      echo "$?" >"$infrakt_work/sha_rc"
  } &
  infrakt_sha_pid=$!
  infrakt_pids="$infrakt_pids $infrakt_sha_pid"
}

# 0 with infrakt_expected set; 3 when S3 has no checksum object, 2 when it could not be read.
infrakt_expected_ready() {
  [ -n "${infrakt_sha_pid:-}" ] || return 0
  wait "$infrakt_sha_pid" || :
  infrakt_sha_pid=''
  if [ -s "$infrakt_work/sha_rc" ]; then
    cat "$infrakt_work/aws.err" >&2
    if grep -Eq '\((404|NoSuchKey)\)|Not Found|does not exist' "$infrakt_work/aws.err"; then
      echo "infrakt: no checksum object $infrakt_s3_key.sha256 in S3 — refusing to restore an unverifiable file" >&2
      return 3
    fi
    echo "infrakt: cannot read the checksum object $infrakt_s3_key.sha256 from S3" >&2
    return 2
  fi
  infrakt_expected=$(head -c 64 <"$infrakt_work/sha256")
}

# The S3 object's size (for a spool's free-space check; every awscli start costs up to a second).
infrakt_s3_size() {
  infrakt_stream_size=$(awsx s3api head-object --bucket "$infrakt_bucket" --key="$infrakt_s3_key" \
    --query ContentLength --output text </dev/null 2>/dev/null) || infrakt_stream_size=''
}

# Before a spool: the backup dir must hold the stream (its size and 1 MiB of headroom).
infrakt_spool_space() {
  case "${infrakt_stream_size:-}" in '' | *[!0-9]*) return 0 ;; esac
  infrakt_free=$(df -Pk -- "$infrakt_dir" 2>/dev/null | awk 'NR == 2 { print $4 }') || infrakt_free=
  infrakt_need=$((infrakt_stream_size / 1024 + 1024))
  if [ -n "$infrakt_free" ] && [ "$infrakt_free" -lt "$infrakt_need" ]; then
    printf '%s %s %s %s\n' "$infrakt_mark_nospace" "$((infrakt_need * 1024))" "$((infrakt_free * 1024))" "$infrakt_stream_size"
    echo "infrakt: not enough free space in $infrakt_dir to restore $infrakt_name: it is copied there first (this engine cannot undo a partial restore), about $((infrakt_need / 1024)) MiB needed, $((infrakt_free / 1024)) MiB free" >&2
    exit "$infrakt_exit_no_space"
  fi
}

# Streamed restore, part 1 (every engine): the stored bytes hashed while they
# pass (tee; its -p goes on writing to the others when a reader died) into
# $infrakt_work/b, and with $1 = tail also into $infrakt_work/t (the held-back
# tail's reader). Sets infrakt_hash_pid, infrakt_tee_pid.
infrakt_stream_start() {
  # busybox tee has no -p; it ignores SIGPIPE and writes on to the others by itself.
  if tee -p </dev/null >/dev/null 2>&1; then infrakt_teep='tee -p'; else infrakt_teep='tee'; fi
  mkfifo -m 600 "$infrakt_work/h" "$infrakt_work/b"
  $infrakt_sha <"$infrakt_work/h" >"$infrakt_work/sum" &
  infrakt_hash_pid=$!
  infrakt_pids="$infrakt_pids $infrakt_hash_pid"
  if [ "$infrakt_source" = stream ]; then
    mkfifo -m 600 "$infrakt_work/in"
    printf '%s %s\n' "$infrakt_mark_stream_in" "$infrakt_work/in"
  fi
  if [ "${1:-}" = tail ]; then
    mkfifo -m 600 "$infrakt_work/t"
    tail -c "$infrakt_holdback" <"$infrakt_work/t" >"$infrakt_work/tail" &
    infrakt_tail_pid=$!
    infrakt_pids="$infrakt_pids $infrakt_tail_pid"
    { (infrakt_source_bytes) 2>"$infrakt_work/src.err" || echo "$?" >"$infrakt_work/src_rc"; } |
      $infrakt_teep "$infrakt_work/h" "$infrakt_work/t" >"$infrakt_work/b" &
  else
    { (infrakt_source_bytes) 2>"$infrakt_work/src.err" || echo "$?" >"$infrakt_work/src_rc"; } |
      $infrakt_teep "$infrakt_work/h" >"$infrakt_work/b" &
  fi
  infrakt_tee_pid=$!
  infrakt_pids="$infrakt_pids $infrakt_tee_pid"
}

# After the stream ended: 0 when its sha256 is the expected one, 1 on a
# mismatch, 2 when reading it (or its checksum object) failed, 3 when S3 has
# no checksum object.
infrakt_stream_verdict() {
  wait "$infrakt_tee_pid" || :
  wait "$infrakt_hash_pid" || :
  infrakt_expected_ready || return $?
  infrakt_actual=$(cut -c1-64 <"$infrakt_work/sum")
  if [ -s "$infrakt_work/src_rc" ]; then
    echo "infrakt: reading the backup failed (exit $(cat "$infrakt_work/src_rc")): $(infrakt_tail_lines "$infrakt_work/src.err")" >&2
    return 2
  fi
  if [ "$infrakt_actual" != "$infrakt_expected" ]; then
    echo "infrakt: checksum mismatch for $infrakt_name: expected $infrakt_expected, received $infrakt_actual" >&2
    return 1
  fi
  printf '%s verified %s\n' "$infrakt_mark_step" "$infrakt_actual"
}

# Exits with the protocol's code for a verdict other than 0.
infrakt_verdict_exit() {
  case "$1" in
    0) return 0 ;;
    1) exit "$infrakt_exit_checksum_mismatch" ;;
    3) exit "$infrakt_exit_no_checksum" ;;
    *) exit "$infrakt_exit_restore_failed" ;;
  esac
}

# Spool: the stream into a private file in the backup dir (removed by the
# clean-up), checked, then restored from as a local backup is.
infrakt_stream_spool() {
  infrakt_spool_space
  infrakt_spool="$infrakt_dir/.restore-$$-$infrakt_name.partial"
  infrakt_stream_start
  cat "$infrakt_work/b" >"$infrakt_spool"
  infrakt_spool_rc=0
  infrakt_stream_verdict || infrakt_spool_rc=$?
  infrakt_verdict_exit "$infrakt_spool_rc"
  infrakt_file=$infrakt_spool
}

# All but the held-back tail, then the tail once the verdict is in (the go
# file), or nothing (stop).
infrakt_stream_feed() {
  head -c -"$infrakt_holdback" <"$infrakt_work/b"
  while [ ! -e "$infrakt_work/go" ] && [ ! -e "$infrakt_work/stop" ]; do sleep 0.1; done
  if [ -e "$infrakt_work/go" ]; then cat "$infrakt_work/tail"; else exit 1; fi
}

# Streamed restore, part 2 (an engine whose restore tool rolls back): each
# stage its own process on a FIFO, so the restore tool's pid is known and it
# is killed before its input could end when the sha256 does not match.
infrakt_stream_restore() {
  printf '%s restore %s\n' "$infrakt_mark_step" "$infrakt_db_restore_tool"
  infrakt_stream_start tail
  mkfifo -m 600 "$infrakt_work/f" "$infrakt_work/z"
  infrakt_stream_feed >"$infrakt_work/f" &
  infrakt_pids="$infrakt_pids $!"
  infrakt_plain_in="$infrakt_work/f"
  if [ "$infrakt_encrypted" = 1 ]; then
    mkfifo -m 600 "$infrakt_work/d"
    infrakt_age_identity
    { $infrakt_age -d -i "$infrakt_work/id" <"$infrakt_work/f" 2>"$infrakt_work/age.err" || echo "$?" >"$infrakt_work/dec_rc"; } >"$infrakt_work/d" &
    infrakt_pids="$infrakt_pids $!"
    infrakt_plain_in="$infrakt_work/d"
  fi
  { $infrakt_decomp <"$infrakt_plain_in" || echo "$?" >"$infrakt_work/decomp_rc"; } >"$infrakt_work/z" &
  infrakt_pids="$infrakt_pids $!"
  (infrakt_db_restore_cmd) <"$infrakt_work/z" >&2 &
  infrakt_restore_pid=$!
  infrakt_pids="$infrakt_pids $infrakt_restore_pid"
  infrakt_verdict=0
  infrakt_stream_verdict || infrakt_verdict=$?
  wait "$infrakt_tail_pid" || :
  if [ "$infrakt_verdict" != 0 ]; then
    # The restore tool first: killed before its input ends, it cannot commit.
    kill -TERM "$infrakt_restore_pid" 2>/dev/null || :
    wait "$infrakt_restore_pid" 2>/dev/null || :
    : >"$infrakt_work/stop"
    infrakt_verdict_exit "$infrakt_verdict"
  fi
  : >"$infrakt_work/go"
  infrakt_restore_rc=0
  wait "$infrakt_restore_pid" || infrakt_restore_rc=$?
  if [ -s "$infrakt_work/dec_rc" ]; then
    infrakt_for=$(infrakt_sum_recipient "$infrakt_work/sha256")
    if [ -n "$infrakt_for" ]; then printf '%s %s\n' "$infrakt_mark_recipient" "$infrakt_for"; fi
    echo "infrakt: cannot decrypt $infrakt_name: $(infrakt_tail_lines "$infrakt_work/age.err")" >&2
    exit "$infrakt_exit_decrypt"
  fi
  if [ "$infrakt_restore_rc" != 0 ]; then
    echo "infrakt: $infrakt_db_restore_tool failed (exit $infrakt_restore_rc)" >&2
    exit "$infrakt_exit_restore_failed"
  fi
  if [ -s "$infrakt_work/decomp_rc" ]; then
    echo "infrakt: $infrakt_decomp failed (exit $(cat "$infrakt_work/decomp_rc"))" >&2
    exit "$infrakt_exit_restore_failed"
  fi
}

# Whether the engine's restore tool reads the stream and rolls back when stopped (else: spool).
infrakt_streams_atomically() {
  [ "${infrakt_db_restore_atomic:-0}" = 1 ] && [ "${infrakt_db_restore_raw:-0}" != 1 ] && ! infrakt_has_fn infrakt_db_restore
}

# A new database: created first (the engine's infrakt_db_create), dropped again by the clean-up unless the restore finished.
infrakt_restore_create() {
  infrakt_has_fn infrakt_db_create || {
    echo "infrakt: creating a new $infrakt_db_restore_tool database is not supported" >&2
    exit "$infrakt_exit_restore_failed"
  }
  infrakt_db_create
  infrakt_created_db=1
  printf '%s created %s\n' "$infrakt_mark_step" "$infrakt_db_name"
}

infrakt_restore() {
  infrakt_pipeline_init
  infrakt_load_password
  infrakt_file="$infrakt_dir/$infrakt_name"
  infrakt_source=${infrakt_source:-file}
  infrakt_pick_sha
  if [ "$infrakt_db_mode" = container ]; then infrakt_resolve infrakt_docker docker; fi
  infrakt_db_restore_plan
  if [ "${infrakt_db_restore_raw:-0}" != 1 ]; then infrakt_pick_decompressor; fi
  if [ "$infrakt_encrypted" = 1 ]; then infrakt_resolve infrakt_age age; fi
  if [ "$infrakt_source" = file ]; then infrakt_verify; fi
  infrakt_work=$(mktemp -d "${TMPDIR:-/tmp}/infrakt.XXXXXX")
  if [ "$infrakt_source" != file ]; then
    if [ "$infrakt_source" = s3 ]; then infrakt_aws_found || exit 127; fi
    infrakt_stream_expect
    if [ "${infrakt_create_db:-0}" = 1 ]; then infrakt_restore_create; fi
    if infrakt_streams_atomically; then
      # Decrypted on the way; a wrong key makes age fail on the header, before any data reaches the tool.
      infrakt_db_prestart
      infrakt_stream_restore
      infrakt_done=1
      printf '%s {"restored":"%s"}\n' "$infrakt_mark_result" "$infrakt_name"
      exit 0
    fi
    infrakt_stream_spool
  elif [ "${infrakt_create_db:-0}" = 1 ]; then
    infrakt_restore_create
  fi
  if [ "$infrakt_encrypted" = 1 ]; then
    infrakt_check_identity
    # An engine that reads the file itself gets it decrypted in the private work dir.
    if [ "${infrakt_db_restore_raw:-0}" = 1 ] || infrakt_has_fn infrakt_db_restore; then
      infrakt_plain="$infrakt_work/${infrakt_name%.age}"
      infrakt_decrypted >"$infrakt_plain"
      infrakt_decrypt_ok
      infrakt_file=$infrakt_plain infrakt_encrypted=0
    fi
  fi
  if infrakt_has_fn infrakt_db_restore; then
    infrakt_db_restore
  else
    infrakt_db_prestart
    infrakt_restore_stream
  fi
  infrakt_done=1
  printf '%s {"restored":"%s"}\n' "$infrakt_mark_result" "$infrakt_name"
  exit 0
}
