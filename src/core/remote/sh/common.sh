# shellcheck shell=sh
# Helpers of every script: strict mode, tool lookup, the missing/failed marks,
# and one temp dir list removed on exit. Scripts run under `bash -s` or busybox
# `ash -s`, and the installed cron file under sh (dash): POSIX sh only.

# Strict mode; pipefail where the shell has it (bash, busybox ash). dash has none,
# and an unknown `set -o` is a special-builtin error that exits dash before any
# `|| :`, so it is tried in a subshell first.
infrakt_strict() {
  set -eu
  # shellcheck disable=SC3040 # tried first, used only where it exists
  if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi
  umask 077
}

# infrakt_missing <what>: a required tool is not there (the caller names it).
infrakt_missing() {
  printf '%s %s\n' "$infrakt_mark_missing" "$1"
  echo "infrakt: $1 not found" >&2
  exit "$infrakt_exit_tool_missing"
}

# infrakt_stage_failed <stage> <status>
infrakt_stage_failed() {
  printf '%s %s %s\n' "$infrakt_mark_failed" "$1" "$2"
  echo "infrakt: $1 failed (exit $2)" >&2
  exit "$infrakt_exit_stage_failed"
}

# infrakt_bounded <seconds> <command>...: the command, stopped after that many
# seconds where the server has timeout(1) (coreutils, busybox).
infrakt_bounded() {
  infrakt_bd_s=$1
  shift
  if command -v timeout >/dev/null 2>&1; then timeout "$infrakt_bd_s" "$@"; else "$@"; fi
}

# infrakt_resolve <variable> <tool>...: sets the variable to the first tool found.
infrakt_resolve() {
  infrakt_rv=$1
  shift
  for infrakt_rt in "$@"; do
    if command -v "$infrakt_rt" >/dev/null 2>&1; then
      eval "$infrakt_rv=\$infrakt_rt"
      return 0
    fi
  done
  infrakt_rt=$1
  shift
  for infrakt_ro in "$@"; do infrakt_rt="$infrakt_rt or $infrakt_ro"; done
  infrakt_missing "$infrakt_rt"
}

# Runs a command as a child the caller's TERM trap can kill ($infrakt_cur).
infrakt_bg() {
  "$@" &
  infrakt_cur=$!
  wait "$infrakt_cur"
}

# The database password of a scheduled run: a root-only file that exports it.
infrakt_load_password() {
  if [ -n "${infrakt_db_password_file:-}" ]; then
    # shellcheck disable=SC1090 # the path is the user's, checked when it was set
    . "$infrakt_db_password_file"
  fi
}

# infrakt_in_container <inner script> <arg>...: runs the inner script in the
# database's container with `sh -c`. The inner text is a constant; values go in
# as arguments ($1 is the tool-missing exit code). Replaces this process.
infrakt_in_container() {
  infrakt_ic=$1
  shift
  exec docker exec "$infrakt_db_container" sh -c "$infrakt_ic" sh "$infrakt_exit_tool_missing" "$@" </dev/null
}

# The same with the caller's stdin (restores).
infrakt_in_container_i() {
  infrakt_ic=$1
  shift
  exec docker exec -i "$infrakt_db_container" sh -c "$infrakt_ic" sh "$infrakt_exit_tool_missing" "$@"
}

# JSON string content of $1: one line, no control characters, at most 600 characters.
infrakt_json_text() { printf '%s' "$1" | tr '\n\r\t' '   ' | tr -d '\000-\037' | cut -c1-600 | sed 's/\\/\\\\/g; s/"/\\"/g'; }

# The last three non-empty lines of a file, on one line ("a | b | c").
infrakt_tail_lines() {
  grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 3 | {
    infrakt_tl=
    while IFS= read -r infrakt_tl_l; do infrakt_tl="${infrakt_tl:+$infrakt_tl | }$infrakt_tl_l"; done
    printf '%s' "$infrakt_tl"
  }
}

# The key an encrypted backup was encrypted for, from its .sha256 ($1); empty when it does not say.
infrakt_sum_recipient() {
  { sed -n 's/^# age recipient: //p' "$1" 2>/dev/null || :; } | head -n 1
}
