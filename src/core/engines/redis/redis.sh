# shellcheck shell=sh
# Redis: an RDB snapshot (redis-cli --rdb). Host mode reads REDISCLI_AUTH (and
# the ACL user when one is set); container mode the container's REDIS_PASSWORD.

# Inside the container: $1 the tool-missing code.
# shellcheck disable=SC2016 # expanded in the container
infrakt_redis_container_dump='command -v redis-cli >/dev/null 2>&1 || { echo "infrakt: redis-cli not found in the container" >&2; exit "$1"; }
if [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD"; fi
t=$(mktemp) || exit 71
redis-cli --rdb "$t" </dev/null >&2 && cat "$t"
rc=$?; rm -f "$t"; exit $rc'

infrakt_db_plan() {
  infrakt_db_precompressed=0
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_db_snapshots=0 infrakt_db_tool=redis-cli infrakt_db_stage="redis-cli in container $infrakt_db_container"
  else
    # redis-cli --rdb - to a pipe keeps the 40-byte EOF marker at the end (Redis 7
    # truncates it with ftruncate, which a pipe ignores), so the snapshot goes to a
    # file first and is then streamed like any dump.
    infrakt_db_snapshots=1 infrakt_db_stage='redis-cli --rdb'
    infrakt_resolve infrakt_dump redis-cli
  fi
}

infrakt_db_prestart() { :; }

infrakt_db_snapshot() {
  set -- -h "$infrakt_db_host" -p "$infrakt_db_port"
  if [ -n "$infrakt_db_user" ]; then set -- "$@" --user "$infrakt_db_user"; fi
  exec redis-cli "$@" --rdb "$infrakt_raw" </dev/null >&2
}

infrakt_db_dump() {
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_in_container "$infrakt_redis_container_dump"
  fi
  exec cat -- "$infrakt_raw"
}
