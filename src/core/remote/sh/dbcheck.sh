# shellcheck shell=sh
# Add Database's check, before the database is saved: the dump tool a backup
# would use, resolved as a backup resolves it (the engine's infrakt_db_plan: a
# missing tool is the `missing` mark and its exit code), and whether the
# database answers, asked with the engine's infrakt_db_size — the query a backup
# makes for its size. An engine without that query (or a server without its
# client) is checked for its tool only: the result says so.
#
# Input: the engine's infrakt_db_* values (and its password variable).
# Output: one result line {"tool":"<stage>","answered":"yes"|"unknown","size":"<bytes or empty>"};
# a database that does not answer exits with the stage-failed code and its client's words on stderr.

infrakt_check_database() {
  infrakt_strict
  infrakt_load_password
  if [ "$infrakt_db_mode" = container ]; then infrakt_resolve infrakt_docker docker; fi
  infrakt_db_plan
  infrakt_ck_answered=unknown infrakt_ck_size=''
  if infrakt_has_fn infrakt_db_size; then
    infrakt_ck_rc=0
    infrakt_ck_out=$(infrakt_db_size) || infrakt_ck_rc=$?
    if [ "$infrakt_ck_rc" != 0 ]; then
      printf '%s %s %s\n' "$infrakt_mark_failed" "the database" "$infrakt_ck_rc"
      echo "infrakt: the database did not answer (exit $infrakt_ck_rc)" >&2
      exit "$infrakt_exit_stage_failed"
    fi
    infrakt_ck_out=$(printf '%s\n' "$infrakt_ck_out" | head -n 1 | tr -d ' \r')
    case "$infrakt_ck_out" in
      '') ;;
      *[!0-9]*) infrakt_ck_answered=yes ;;
      *) infrakt_ck_answered=yes infrakt_ck_size=$infrakt_ck_out ;;
    esac
  fi
  printf '%s {"tool":"%s","answered":"%s","size":"%s"}\n' "$infrakt_mark_result" \
    "$(infrakt_json_text "$infrakt_db_stage")" "$infrakt_ck_answered" "$infrakt_ck_size"
}
