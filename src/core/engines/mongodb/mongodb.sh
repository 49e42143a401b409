# shellcheck shell=sh
# MongoDB: mongodump --archive --gzip (compressed already: the pipeline skips its
# compressor). Host mode reads INFRAKT_MONGO_PASSWORD into a config fifo (see
# infrakt_mongo_config_fifo); container mode the container's MONGO_INITDB_ROOT_*.

# mongodump/mongorestore take a password only in argv or a YAML --config file:
# they get a fifo, so the secret goes from the environment through a pipe and
# never lands on disk or in `ps`. Writes "$infrakt_work/mongo.yaml".
infrakt_mongo_config_fifo() {
  mkfifo "$infrakt_work/mongo.yaml"
  (printf "password: '%s'\n" "$(printf '%s' "${INFRAKT_MONGO_PASSWORD:-}" | sed "s/'/''/g")" >"$infrakt_work/mongo.yaml") &
  infrakt_pids="$infrakt_pids $!"
}

# Inside the container: $1 the tool-missing code, $2 the database (empty: all).
# shellcheck disable=SC2016 # expanded in the container
infrakt_mongo_container_dump='command -v mongodump >/dev/null 2>&1 || { echo "infrakt: mongodump not found in the container" >&2; exit "$1"; }
db=$2
set --
if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then
  d=$(mktemp -d) && mkfifo "$d/c" || exit 71
  ( printf "password: '"'"'%s'"'"'\n" "$(printf "%s" "${MONGO_INITDB_ROOT_PASSWORD:-}" | sed "s/'"'"'/'"''"'/g")" > "$d/c" ) & w=$!
  set -- --username "$MONGO_INITDB_ROOT_USERNAME" --authenticationDatabase admin --config "$d/c"
fi
if [ -n "$db" ]; then set -- "$@" --db "$db"; fi
mongodump "$@" --archive --gzip
rc=$?
if [ -n "${w:-}" ]; then kill "$w" 2>/dev/null; fi
if [ -n "${d:-}" ]; then rm -rf "$d"; fi
exit $rc'

infrakt_db_plan() {
  infrakt_db_precompressed=1 infrakt_db_snapshots=0
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_db_tool=mongodump infrakt_db_stage="mongodump in container $infrakt_db_container"
  else
    infrakt_db_stage=mongodump
    infrakt_resolve infrakt_dump mongodump
  fi
}

infrakt_db_prestart() {
  if [ "$infrakt_db_mode" = host ] && [ -n "$infrakt_db_user" ]; then infrakt_mongo_config_fifo; fi
}

infrakt_db_dump() {
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_in_container "$infrakt_mongo_container_dump" "$infrakt_db_name"
  fi
  set -- --host "$infrakt_db_host" --port "$infrakt_db_port"
  if [ -n "$infrakt_db_user" ]; then
    set -- "$@" --username "$infrakt_db_user" --authenticationDatabase admin --config "$infrakt_work/mongo.yaml"
  fi
  if [ -n "$infrakt_db_name" ]; then set -- "$@" --db "$infrakt_db_name"; fi
  exec mongodump "$@" --archive --gzip </dev/null
}

# Restores: mongorestore --drop from the archive as it is (its own gzip).
# shellcheck disable=SC2016 # expanded in the container
infrakt_mongo_container_restore='command -v mongorestore >/dev/null 2>&1 || { echo "infrakt: mongorestore not found in the container" >&2; exit "$1"; }
set --
if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then
  d=$(mktemp -d) && mkfifo "$d/c" || exit 71
  ( printf "password: '"'"'%s'"'"'\n" "$(printf "%s" "${MONGO_INITDB_ROOT_PASSWORD:-}" | sed "s/'"'"'/'"''"'/g")" > "$d/c" ) & w=$!
  set -- --username "$MONGO_INITDB_ROOT_USERNAME" --authenticationDatabase admin --config "$d/c"
fi
mongorestore "$@" --drop --archive --gzip
rc=$?
if [ -n "${w:-}" ]; then kill "$w" 2>/dev/null; fi
if [ -n "${d:-}" ]; then rm -rf "$d"; fi
exit $rc'

infrakt_db_restore_plan() {
  infrakt_db_restore_raw=1
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_db_restore_tool="restore in container $infrakt_db_container"
  else
    infrakt_db_restore_tool=mongorestore
    infrakt_resolve infrakt_restore mongorestore
  fi
}

infrakt_db_restore_cmd() {
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_in_container_i "$infrakt_mongo_container_restore"
  fi
  set -- --host "$infrakt_db_host" --port "$infrakt_db_port"
  if [ -n "$infrakt_db_user" ]; then
    set -- "$@" --username "$infrakt_db_user" --authenticationDatabase admin --config "$infrakt_work/mongo.yaml"
  fi
  exec mongorestore "$@" --drop --archive --gzip
}
