# shellcheck shell=sh
# Provision Server's step lines, and the run of an engine's own check of one
# database (infrakt_db_check in the engine's module, which prints step lines).

# infrakt_step <id> <status> <detail>: one line
# `$infrakt_mark_provision_step <id> <status> <detail>`; the id is one word,
# the status done (already so), changed, warn or failed, the detail the rest.
infrakt_step() {
  printf '%s %s %s %s\n' "$infrakt_mark_provision_step" "$1" "$2" "$3"
}

# The engine's check of one host-mode database. Whatever happens in it, the
# run goes on (it runs in a subshell, and this always returns 0): a check that
# stops half-way is a warning, never a failed provisioning.
# Input: the engine's infrakt_db_* values and password variable;
# infrakt_provision_db, the database's name in infrakt.
infrakt_provision_check() {
  set -u
  if ! (infrakt_db_check "$infrakt_provision_db"); then
    infrakt_step "check-$infrakt_provision_db" warn "the check of $infrakt_provision_db stopped before it finished: its first backup will show why"
  fi
  return 0
}
