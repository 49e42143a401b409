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

# Restores. Redis has no "load this dump" command, so a restore replaces the RDB file:
# - container mode: `docker stop`, `docker cp` the RDB over CONFIG GET dir/dbfilename, `docker start`;
# - host mode, a systemd unit owns the redis-server pid: `systemctl stop`, swap, `systemctl start`;
# - host mode otherwise (a hand-started redis-server), or when AOF is on (a restart
#   would load the AOF, not the RDB): the RDB is loaded by a temporary redis-server
#   on 127.0.0.1 and the target replicates from it (REPLICAOF, wait for the link to
#   be up and the sync done, REPLICAOF NO ONE, SAVE). No restart, no need to know
#   how the server was launched.
infrakt_db_restore_plan() {
  infrakt_db_restore_tool=redis-cli
  if [ "$infrakt_db_mode" = host ]; then infrakt_resolve infrakt_cli redis-cli; fi
}

# shellcheck disable=SC2016 # expanded in the container
infrakt_redis_container_cli='if [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD"; fi
shift
exec redis-cli --raw "$@"'

infrakt_rcc() { (infrakt_in_container "$infrakt_redis_container_cli" "$@"); }

infrakt_rc() {
  set -- -h "$infrakt_db_host" -p "$infrakt_db_port" "$@"
  if [ -n "$infrakt_db_user" ]; then set -- --user "$infrakt_db_user" "$@"; fi
  redis-cli "$@" </dev/null
}

infrakt_redis_fail() {
  echo "infrakt: $1" >&2
  exit "$infrakt_exit_not_ready"
}

infrakt_db_cleanup() {
  if [ "${infrakt_replicating:-0}" = 1 ]; then infrakt_rc REPLICAOF NO ONE >/dev/null 2>&1 || :; fi
}

infrakt_redis_restore_container() {
  infrakt_rdir=$(infrakt_rcc CONFIG GET dir | sed -n 2p)
  infrakt_rfile=$(infrakt_rcc CONFIG GET dbfilename | sed -n 2p)
  infrakt_aof=$(infrakt_rcc CONFIG GET appendonly | sed -n 2p)
  if [ -z "$infrakt_rdir" ] || [ -z "$infrakt_rfile" ]; then
    infrakt_redis_fail "CONFIG GET dir/dbfilename failed in container $infrakt_db_container"
  fi
  [ "$infrakt_aof" != yes ] ||
    infrakt_redis_fail "appendonly is on in container $infrakt_db_container: a restart would load the AOF, not the backup; turn AOF off to restore"
  infrakt_raw="$infrakt_work/restore.rdb"
  $infrakt_decomp <"$infrakt_file" >"$infrakt_raw" || infrakt_stage_failed decompress $?
  printf '%s swap container\n' "$infrakt_mark_step"
  docker stop "$infrakt_db_container" >/dev/null
  docker cp "$infrakt_raw" "$infrakt_db_container:$infrakt_rdir/$infrakt_rfile" || {
    docker start "$infrakt_db_container" >/dev/null
    exit "$infrakt_exit_not_ready"
  }
  docker start "$infrakt_db_container" >/dev/null
  infrakt_wait_pong infrakt_rcc PING
}

# A temporary redis-server on a free port, serving the backup.
infrakt_redis_temp_server() {
  command -v redis-server >/dev/null 2>&1 || infrakt_missing redis-server
  $infrakt_decomp <"$infrakt_file" >"$infrakt_work/load.rdb" || infrakt_stage_failed decompress $?
  infrakt_tport='' infrakt_try=0
  while [ -z "$infrakt_tport" ]; do
    infrakt_try=$((infrakt_try + 1))
    [ "$infrakt_try" -le 20 ] || infrakt_redis_fail "could not start a temporary redis-server"
    infrakt_p=$(($(od -An -N2 -tu2 /dev/urandom | tr -d " ") % 20000 + 40000))
    redis-server --port "$infrakt_p" --bind 127.0.0.1 --dir "$infrakt_work" --dbfilename load.rdb --save '' \
      --appendonly no --repl-diskless-sync-delay 0 --daemonize no --logfile "$infrakt_work/tmp.log" </dev/null >/dev/null 2>&1 &
    infrakt_tpid=$!
    infrakt_pids="$infrakt_pids $infrakt_tpid"
    infrakt_i=0
    while kill -0 "$infrakt_tpid" 2>/dev/null; do
      if [ "$(redis-cli -h 127.0.0.1 -p "$infrakt_p" PING 2>/dev/null </dev/null)" = PONG ]; then
        infrakt_tport=$infrakt_p
        break
      fi
      infrakt_i=$((infrakt_i + 1))
      [ "$infrakt_i" -le "$infrakt_restore_polls" ] || break
      sleep 0.2
    done
  done
}

infrakt_redis_replicate() {
  infrakt_redis_temp_server
  printf '%s replicate %s\n' "$infrakt_mark_step" "$infrakt_tport"
  infrakt_replicating=1
  infrakt_rc REPLICAOF 127.0.0.1 "$infrakt_tport" >/dev/null
  infrakt_i=0
  while :; do
    infrakt_info=$(infrakt_rc INFO replication | tr -d '\r')
    case "$infrakt_info" in *master_link_status:up*) case "$infrakt_info" in *master_sync_in_progress:0*) break ;; esac ;; esac
    infrakt_i=$((infrakt_i + 1))
    [ "$infrakt_i" -le "$infrakt_restore_polls" ] ||
      infrakt_redis_fail "Redis did not finish loading the backup (replication from the temporary server)"
    sleep 0.2
  done
  infrakt_rc REPLICAOF NO ONE >/dev/null
  infrakt_replicating=0
  # Persist now: until the next save, a restart would bring back the old RDB.
  [ "$(infrakt_rc SAVE)" = OK ] || echo "infrakt: warning: SAVE after restore failed; the restored data is live but not yet on disk" >&2
}

infrakt_db_restore() {
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_redis_restore_container
    return 0
  fi
  infrakt_rdir=$(infrakt_rc --raw CONFIG GET dir | sed -n 2p)
  infrakt_rfile=$(infrakt_rc --raw CONFIG GET dbfilename | sed -n 2p)
  infrakt_aof=$(infrakt_rc --raw CONFIG GET appendonly | sed -n 2p)
  if [ -z "$infrakt_rdir" ] || [ -z "$infrakt_rfile" ]; then
    infrakt_redis_fail "CONFIG GET dir/dbfilename failed (is CONFIG renamed or the password wrong?)"
  fi
  infrakt_role=$(infrakt_rc INFO replication | tr -d '\r' | sed -n 's/^role://p')
  [ "$infrakt_role" = master ] || infrakt_redis_fail "this Redis is a replica ($infrakt_role): restore its master instead"
  infrakt_rpid=$(infrakt_rc INFO server | tr -d '\r' | sed -n 's/^process_id://p')
  infrakt_unit=''
  if [ "$infrakt_aof" != yes ] && command -v systemctl >/dev/null 2>&1 && [ -r "/proc/$infrakt_rpid/cgroup" ]; then
    infrakt_unit=$(sed -n 's#^.*/\([^/]*\.service\)$#\1#p' "/proc/$infrakt_rpid/cgroup" | head -n1)
    if [ -n "$infrakt_unit" ] && ! systemctl is-active --quiet "$infrakt_unit" 2>/dev/null; then infrakt_unit=; fi
  fi
  if [ -z "$infrakt_unit" ]; then
    infrakt_redis_replicate
    return 0
  fi
  # Same filesystem as the live RDB, so the final mv is an atomic rename.
  infrakt_raw="$infrakt_rdir/.infrakt-restore-$$.rdb"
  $infrakt_decomp <"$infrakt_file" >"$infrakt_raw" || infrakt_stage_failed decompress $?
  chown "$(stat -c %u:%g "$infrakt_rdir")" "$infrakt_raw" 2>/dev/null || :
  printf '%s swap systemd %s\n' "$infrakt_mark_step" "$infrakt_unit"
  systemctl stop "$infrakt_unit"
  mv -f -- "$infrakt_raw" "$infrakt_rdir/$infrakt_rfile"
  infrakt_raw=
  systemctl start "$infrakt_unit"
  infrakt_wait_pong infrakt_rc PING
}

# infrakt_wait_pong <command>...: polls until the command prints PONG.
infrakt_wait_pong() {
  infrakt_i=0
  until [ "$("$@" 2>/dev/null)" = PONG ]; do
    infrakt_i=$((infrakt_i + 1))
    [ "$infrakt_i" -le "$infrakt_restore_polls" ] || {
      echo "infrakt: Redis did not answer PING after the restore" >&2
      exit "$infrakt_exit_not_ready"
    }
    sleep 0.2
  done
}

# Key counts of the server infrakt_db_host/_port name, one line per logical
# database: "<keys> db<n>" (INFO keyspace). Run beside a backup (after its
# snapshot) and by Verify Backup (on its spare server).
infrakt_db_counts() {
  [ "$infrakt_db_mode" = host ] || return 1
  infrakt_rk=$(infrakt_rc --raw INFO keyspace) || return 1
  printf '%s\n' "$infrakt_rk" | tr -d '\r' | sed -n 's/^\(db[0-9]*\):keys=\([0-9]*\),.*$/\2 \1/p'
}

# Verify Backup (verify.sh): the RDB is served by a spare redis-server on a
# free 127.0.0.1 port in the run's private dir (the restore's own temporary
# server), counted there and stopped; the live server is never asked.
infrakt_db_verify_open() { :; }

infrakt_db_verify_load() {
  infrakt_redis_temp_server
  printf '%s spare-server %s\n' "$infrakt_mark_step" "$infrakt_tport"
  # The spare server has no password, no ACL user.
  unset REDISCLI_AUTH
  infrakt_db_host=127.0.0.1 infrakt_db_port=$infrakt_tport infrakt_db_user=
}

infrakt_db_verify_close() {
  if [ -n "${infrakt_tpid:-}" ]; then
    kill "$infrakt_tpid" 2>/dev/null || :
    wait "$infrakt_tpid" 2>/dev/null || :
    infrakt_tpid=
  fi
}
