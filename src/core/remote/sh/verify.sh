# shellcheck shell=sh
# Verify Backup: restores a backup into a throwaway target on the server and
# says what came back. The engine's module defines where (never the live
# database):
#   infrakt_db_verify_open   create the scratch target and point the
#                            infrakt_db_* values at it (PostgreSQL, MariaDB:
#                            the database infrakt_verify_scratch; SQLite: a
#                            temp file in the run's private dir)
#   infrakt_db_verify_load   optional: load the backup (infrakt_file) itself
#                            (Redis: a spare redis-server on a free port);
#                            without it the restore's own stream runs
#                            (restore.sh infrakt_restore_stream)
#   infrakt_db_counts        "<rows> <table>" per table (or "<keys> db<n>")
#   infrakt_db_verify_close  drop the scratch target (run by the exit trap:
#                            after success, failure and cancel alike)
#
# The counts are compared with <backup>.counts, written beside the backup by
# the pipeline from the live database at backup time. A backup that restores
# nothing, or lacks a table or rows the live database had, fails. The verdict
# is one result line and <backup>.verify beside the backup (one JSON line, the
# newest verification), which the listing reads: a scheduled verification
# records it the same way.
#
# The sha256 is checked first, and an encrypted backup (.age) is decrypted as
# a restore does it (restore.sh: the identity through a FIFO, never on disk).
#
# Input: restore.sh's values (infrakt_dir, infrakt_name, infrakt_compression,
# infrakt_encrypted, infrakt_identity, infrakt_format, infrakt_allow_unverified,
# infrakt_restore_polls) and the engine's infrakt_db_*.

# Milliseconds since the epoch (seconds * 1000 where date has no %N).
infrakt_now_ms() {
  infrakt_nm=$(date +%s%N 2>/dev/null) || infrakt_nm=
  case "$infrakt_nm" in
    '' | *[!0-9]*) echo $(($(date +%s) * 1000)) ;;
    *) echo $((infrakt_nm / 1000000)) ;;
  esac
}

# The verdict: the result line and the record beside the backup (written whole, then renamed).
infrakt_verify_verdict() {
  infrakt_vd_json="{\"verified\":\"$infrakt_name\",\"ok\":$1,\"at\":$(date +%s),\"ms\":${infrakt_verify_ms:-null},\"tables\":${infrakt_verify_tables:-null},\"rows\":${infrakt_verify_rows:-null},\"expectedTables\":${infrakt_verify_etables:-null},\"expectedRows\":${infrakt_verify_erows:-null},\"problem\":\"$(infrakt_json_text "$2")\"}"
  infrakt_verify_recorded=1
  printf '%s %s\n' "$infrakt_mark_result" "$infrakt_vd_json"
  if printf '%s\n' "$infrakt_vd_json" >"$infrakt_verify_of.verify.partial" 2>/dev/null; then
    mv -f -- "$infrakt_verify_of.verify.partial" "$infrakt_verify_of.verify" || :
  else
    rm -f -- "$infrakt_verify_of.verify.partial"
    echo "infrakt: warning: could not record the verification beside $infrakt_name" >&2
  fi
}

infrakt_verify_fail() {
  echo "infrakt: verification of $infrakt_name failed: $1" >&2
  infrakt_verify_verdict false "$1"
  exit "$infrakt_exit_verify_failed"
}

# The exit trap: the scratch target goes (after success, failure and cancel),
# then the run's processes and temp files; a failure of the backup itself is
# recorded. A cancel records nothing: it is no verdict — nor does a scratch
# target that could not be made (the backup was not tried).
infrakt_verify_end() {
  infrakt_ve_rc=$1
  [ "$infrakt_verify_ended" = 0 ] || return 0
  infrakt_verify_ended=1
  trap '' PIPE INT TERM HUP
  if [ "$infrakt_verify_phase" = restore ]; then
    exec 2>&3
    cat "$infrakt_work/restore.err" >&2 2>/dev/null || :
  fi
  if infrakt_has_fn infrakt_db_verify_close; then
    infrakt_db_verify_close </dev/null >&2 ||
      echo "infrakt: warning: could not remove the scratch copy ${infrakt_verify_scratch:-} — remove it by hand" >&2
  fi
  if [ "$infrakt_ve_rc" != 0 ] && [ "$infrakt_verify_recorded" = 0 ]; then
    case "$infrakt_ve_rc" in
      "$infrakt_exit_interrupted" | "$infrakt_exit_terminated" | "$infrakt_exit_hangup" | "$infrakt_exit_tool_missing" | "$infrakt_exit_decrypt" | "$infrakt_exit_not_found") ;;
      *)
        if [ "$infrakt_verify_phase" = restore ]; then
          infrakt_verify_verdict false "the backup did not restore: $(infrakt_tail_lines "$infrakt_work/restore.err")"
        elif [ "$infrakt_verify_phase" != open ]; then
          infrakt_verify_verdict false "the verification failed (exit $infrakt_ve_rc)"
        fi
        ;;
    esac
  fi
  infrakt_cleanup
}

# Compares the restored counts with the backup's; prints a vtable mark per
# table ("<rows restored|-> <rows at backup time|-> <name>") and writes
# "summary <tables> <rows> <tables then|-> <rows then|->" and at most one
# "problem <text>" line to $infrakt_work/summary.
infrakt_verify_compare() {
  INFRAKT_VC_EXP=$1 INFRAKT_VC_SUM=$infrakt_work/summary awk -v mark="$infrakt_mark_vtable" '
    function rest(l) { sub(/^[^ ]* /, "", l); return l }
    BEGIN {
      ef = ENVIRON["INFRAKT_VC_EXP"]; sf = ENVIRON["INFRAKT_VC_SUM"]
      if (ef != "") while ((getline l < ef) > 0) { split(l, p, " "); n = rest(l); want[n] = p[1] + 0; et++; er += p[1] }
    }
    {
      n = rest($0); got[n] = $1 + 0; gt++; gr += $1
      e = (ef != "" && (n in want)) ? want[n] : "-"
      print mark, $1 + 0, e, n
      if (e != "-" && $1 + 0 < e) { short++; sl = sl (sl == "" ? "" : ", ") n " (" $1 + 0 " of " e ")" }
    }
    END {
      for (n in want) if (!(n in got)) { miss++; ml = ml (ml == "" ? "" : ", ") n; print mark, "-", want[n], n }
      print "summary", gt + 0, gr + 0, (ef != "" ? et + 0 : "-"), (ef != "" ? er + 0 : "-") > sf
      if (gt == 0) print "problem nothing came back: the restored copy has no tables or keys" > sf
      else if (miss) print "problem " miss " of " et " tables (or databases of keys) at backup time did not come back: " ml > sf
      else if (short) print "problem " short " came back with fewer rows (or keys) than at backup time: " sl > sf
    }' "$infrakt_work/got"
}

# The sha256 first, as a restore checks it — but a hash cut short (a cancel
# killing sha256sum) is no mismatch: only a whole digest that differs is
# recorded as a failed verification.
infrakt_verify_checksum() {
  [ -f "$infrakt_file" ] || {
    echo "infrakt: $infrakt_file not found" >&2
    exit "$infrakt_exit_not_found"
  }
  [ -f "$infrakt_file.sha256" ] || {
    echo "infrakt: $infrakt_name has no .sha256" >&2
    exit "$infrakt_exit_no_checksum"
  }
  infrakt_expected=$(head -c 64 <"$infrakt_file.sha256")
  infrakt_actual=$($infrakt_sha <"$infrakt_file" | cut -c1-64) || exit "$infrakt_exit_terminated"
  case "$infrakt_actual" in
    *[!0-9a-f]* | '') exit "$infrakt_exit_terminated" ;;
  esac
  [ "${#infrakt_actual}" = 64 ] || exit "$infrakt_exit_terminated"
  if [ "$infrakt_expected" != "$infrakt_actual" ]; then
    echo "infrakt: checksum mismatch for $infrakt_name: expected $infrakt_expected, file has $infrakt_actual" >&2
    infrakt_verify_verdict false "the file does not match its sha256"
    exit "$infrakt_exit_checksum_mismatch"
  fi
  printf '%s verified %s\n' "$infrakt_mark_step" "$infrakt_actual"
}

infrakt_verify_backup() {
  infrakt_pipeline_init
  infrakt_verify_ended=0 infrakt_verify_recorded=0 infrakt_verify_phase=check
  trap 'infrakt_verify_end "$?"' EXIT
  trap 'infrakt_verify_end "$infrakt_exit_interrupted"; exit "$infrakt_exit_interrupted"' INT
  trap 'infrakt_verify_end "$infrakt_exit_terminated"; exit "$infrakt_exit_terminated"' TERM
  trap 'infrakt_verify_end "$infrakt_exit_hangup"; exit "$infrakt_exit_hangup"' HUP
  infrakt_load_password
  infrakt_file="$infrakt_dir/$infrakt_name"
  infrakt_verify_of=$infrakt_file
  if [ "$infrakt_db_mode" != host ] || ! infrakt_has_fn infrakt_db_verify_open || ! infrakt_has_fn infrakt_db_counts; then
    echo "infrakt: Verify Backup restores into a scratch copy on the server; it is not available for this database (container mode, or an engine without a scratch target)" >&2
    exit "$infrakt_exit_restore_failed"
  fi
  infrakt_pick_sha
  infrakt_db_restore_plan
  if [ "${infrakt_db_restore_raw:-0}" != 1 ]; then infrakt_pick_decompressor; fi
  if [ "$infrakt_encrypted" = 1 ]; then infrakt_resolve infrakt_age age; fi
  infrakt_verify_checksum
  # Made with TERM ignored: a cancel that lands here is handled once the name is
  # assigned, so the exit trap knows the dir it must remove.
  infrakt_work=$(
    trap '' TERM HUP INT
    mktemp -d "${TMPDIR:-/tmp}/infrakt.XXXXXX"
  )
  if [ "$infrakt_encrypted" = 1 ]; then
    infrakt_check_identity
    if [ "${infrakt_db_restore_raw:-0}" = 1 ] || infrakt_has_fn infrakt_db_verify_load; then
      infrakt_plain="$infrakt_work/${infrakt_name%.age}"
      infrakt_decrypted >"$infrakt_plain"
      infrakt_decrypt_ok
      infrakt_file=$infrakt_plain infrakt_encrypted=0
    fi
  fi
  # A name of ours, lowercase: no quoting needed in any engine's SQL.
  infrakt_verify_scratch="infrakt_verify_$(date -u +%Y%m%d%H%M%S)_$$"
  infrakt_verify_t0=$(infrakt_now_ms)
  infrakt_verify_phase=open
  infrakt_db_verify_open
  printf '%s verify-target %s\n' "$infrakt_mark_step" "$infrakt_verify_scratch"
  # The restore's messages are kept for the verdict (and passed on after).
  infrakt_verify_phase=restore
  exec 3>&2 2>"$infrakt_work/restore.err"
  if infrakt_has_fn infrakt_db_verify_load; then
    infrakt_db_verify_load
  else
    infrakt_db_prestart
    infrakt_restore_stream
  fi
  infrakt_verify_phase=count
  exec 2>&3 3>&-
  cat "$infrakt_work/restore.err" >&2
  infrakt_verify_ms=$(($(infrakt_now_ms) - infrakt_verify_t0))
  infrakt_db_counts >"$infrakt_work/got" 2>"$infrakt_work/count.err" ||
    infrakt_verify_fail "the restored copy could not be counted: $(infrakt_tail_lines "$infrakt_work/count.err")"
  infrakt_vc_exp=
  if [ -f "$infrakt_verify_of.counts" ]; then infrakt_vc_exp=$infrakt_verify_of.counts; fi
  infrakt_verify_compare "$infrakt_vc_exp"
  read -r infrakt_k infrakt_verify_tables infrakt_verify_rows infrakt_verify_etables infrakt_verify_erows <"$infrakt_work/summary"
  if [ "$infrakt_verify_etables" = - ]; then infrakt_verify_etables='' infrakt_verify_erows=''; fi
  infrakt_vc_problem=$(sed -n 's/^problem //p' "$infrakt_work/summary")
  [ -z "$infrakt_vc_problem" ] || infrakt_verify_fail "$infrakt_vc_problem"
  infrakt_verify_phase=finished
  infrakt_verify_verdict true ''
  exit 0
}
