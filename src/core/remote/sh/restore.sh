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

infrakt_restore() {
  infrakt_pipeline_init
  infrakt_load_password
  infrakt_file="$infrakt_dir/$infrakt_name"
  infrakt_resolve infrakt_sha sha256sum
  if [ "$infrakt_db_mode" = container ]; then infrakt_resolve infrakt_docker docker; fi
  infrakt_db_restore_plan
  if [ "${infrakt_db_restore_raw:-0}" != 1 ]; then infrakt_pick_decompressor; fi
  if [ "$infrakt_encrypted" = 1 ]; then infrakt_resolve infrakt_age age; fi
  infrakt_verify
  infrakt_work=$(mktemp -d "${TMPDIR:-/tmp}/infrakt.XXXXXX")
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
  printf '%s {"restored":"%s"}\n' "$infrakt_mark_result" "$infrakt_name"
  exit 0
}
