# shellcheck shell=sh
# MySQL and MariaDB: mariadb-dump (or mysqldump) in one transaction, with
# routines and triggers. Host mode reads MYSQL_PWD; container mode the
# container's MYSQL_*/MARIADB_* env (its user, else root).

# Inside the container: $1 the tool-missing code, $2 the database (empty: the image's).
# shellcheck disable=SC2016 # expanded in the container
infrakt_mysql_container_dump='if command -v mariadb-dump >/dev/null 2>&1; then dump=mariadb-dump
elif command -v mysqldump >/dev/null 2>&1; then dump=mysqldump
else echo "infrakt: mariadb-dump or mysqldump not found in the container" >&2; exit "$1"; fi
if [ -n "${MYSQL_USER:-${MARIADB_USER:-}}" ]; then u="${MYSQL_USER:-${MARIADB_USER:-}}"; MYSQL_PWD="${MYSQL_PASSWORD:-${MARIADB_PASSWORD:-}}"
else u=root; MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-${MARIADB_ROOT_PASSWORD:-}}"; fi
export MYSQL_PWD
db=${2:-${MYSQL_DATABASE:-${MARIADB_DATABASE:-}}}
[ -n "$db" ] || { echo "infrakt: no database name: set it on the database or MYSQL_DATABASE in the container" >&2; exit 71; }
exec "$dump" --single-transaction --routines --triggers --no-tablespaces -u "$u" "$db"'

infrakt_db_plan() {
  infrakt_db_precompressed=0 infrakt_db_snapshots=0 infrakt_db_stage=mysqldump
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_db_tool=mysqldump infrakt_db_stage="mysqldump in container $infrakt_db_container"
  else
    infrakt_resolve infrakt_dump mariadb-dump mysqldump
  fi
}

infrakt_db_prestart() { :; }

# The database's size as the server reports it (bytes of its tables and
# indexes; nothing when it cannot say): it bounds the dump, so an S3 upload can
# size its parts. The database is the client's argument; the SQL is constant.
# Bounded: 10 s to connect, 30 s in all (it must never hold up a backup).
# shellcheck disable=SC2016 # expanded in the container
infrakt_mysql_container_size='if command -v mariadb >/dev/null 2>&1; then client=mariadb
elif command -v mysql >/dev/null 2>&1; then client=mysql
else exit 0; fi
if [ -n "${MYSQL_USER:-${MARIADB_USER:-}}" ]; then u="${MYSQL_USER:-${MARIADB_USER:-}}"; MYSQL_PWD="${MYSQL_PASSWORD:-${MARIADB_PASSWORD:-}}"
else u=root; MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-${MARIADB_ROOT_PASSWORD:-}}"; fi
export MYSQL_PWD
db=${2:-${MYSQL_DATABASE:-${MARIADB_DATABASE:-}}}
set -- "$client"
if command -v timeout >/dev/null 2>&1; then set -- timeout 30 "$client"; fi
exec "$@" -N -B --connect-timeout=10 -u "$u" -e "select coalesce(sum(data_length + index_length), 0) from information_schema.tables where table_schema = database()" "$db"'

infrakt_db_size() {
  if [ "$infrakt_db_mode" = container ]; then
    (infrakt_in_container "$infrakt_mysql_container_size" "$infrakt_db_name")
    return
  fi
  infrakt_my_client=$(command -v mariadb || command -v mysql) || return 0
  infrakt_bounded 30 "$infrakt_my_client" -N -B --connect-timeout=10 -h "$infrakt_db_host" -P "$infrakt_db_port" -u "$infrakt_db_user" \
    -e 'select coalesce(sum(data_length + index_length), 0) from information_schema.tables where table_schema = database()' \
    "$infrakt_db_name" </dev/null
}

infrakt_db_dump() {
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_in_container "$infrakt_mysql_container_dump" "$infrakt_db_name"
  fi
  exec "$infrakt_dump" --single-transaction --routines --triggers --no-tablespaces \
    -h "$infrakt_db_host" -P "$infrakt_db_port" -u "$infrakt_db_user" "$infrakt_db_name" </dev/null
}

# Restores: the SQL dump into the database with the mariadb (or mysql) client.
# shellcheck disable=SC2016 # expanded in the container
infrakt_mysql_container_restore='if command -v mariadb >/dev/null 2>&1; then client=mariadb
elif command -v mysql >/dev/null 2>&1; then client=mysql
else echo "infrakt: mariadb or mysql not found in the container" >&2; exit "$1"; fi
if [ -n "${MYSQL_USER:-${MARIADB_USER:-}}" ]; then u="${MYSQL_USER:-${MARIADB_USER:-}}"; MYSQL_PWD="${MYSQL_PASSWORD:-${MARIADB_PASSWORD:-}}"
else u=root; MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-${MARIADB_ROOT_PASSWORD:-}}"; fi
export MYSQL_PWD
db=${2:-${MYSQL_DATABASE:-${MARIADB_DATABASE:-}}}
[ -n "$db" ] || { echo "infrakt: no database name: set it on the database or MYSQL_DATABASE in the container" >&2; exit 71; }
exec "$client" -u "$u" "$db"'

infrakt_db_restore_plan() {
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_db_restore_tool="restore in container $infrakt_db_container"
  else
    infrakt_db_restore_tool=mysql
    infrakt_resolve infrakt_restore mariadb mysql
  fi
}

infrakt_db_restore_cmd() {
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_in_container_i "$infrakt_mysql_container_restore" "$infrakt_db_name"
  fi
  exec "$infrakt_restore" -h "$infrakt_db_host" -P "$infrakt_db_port" -u "$infrakt_db_user" "$infrakt_db_name"
}

# Row counts of the database infrakt_db_name names, one line per table:
# "<rows> <table>", exact (count(*)), in one statement (one read view). The
# table names come from the server; each is quoted as an identifier (` doubled).
infrakt_db_counts() {
  [ "$infrakt_db_mode" = host ] || return 1
  infrakt_my_client=$(command -v mariadb || command -v mysql) || return 1
  set -- "$infrakt_my_client" -N -B -h "$infrakt_db_host" -P "$infrakt_db_port" -u "$infrakt_db_user"
  infrakt_my_tables=$("$@" -e "select table_name from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE' order by table_name" "$infrakt_db_name" </dev/null) || return 1
  [ -n "$infrakt_my_tables" ] || return 0
  infrakt_my_sql=$(printf '%s\n' "$infrakt_my_tables" | awk '{ gsub(/`/, "``"); printf "%sselect %d as i, count(*) from `%s`", (NR > 1 ? " union all " : ""), NR, $0 } END { print " order by i" }')
  # The counts in table order, each with its name (from the environment: awk -v would unescape it).
  "$@" -e "$infrakt_my_sql" "$infrakt_db_name" </dev/null |
    INFRAKT_MY_T=$infrakt_my_tables awk -F '\t' 'BEGIN { split(ENVIRON["INFRAKT_MY_T"], t, "\n") } { print $2 " " t[$1] }'
}

# Verify Backup (verify.sh): a scratch database infrakt_verify_scratch (ours:
# lowercase letters, digits and _) on the same server, created and dropped by
# the database's user (who needs CREATE and DROP on infrakt_verify_%), restored
# with the restore's own command.
# The CREATE and DROP run to their end (TERM ignored, a cancel then drops what
# was created), as PostgreSQL's do.
infrakt_my_admin() {
  infrakt_my_client=$(command -v mariadb || command -v mysql) || return 1
  (
    trap '' TERM HUP
    exec "$infrakt_my_client" -N -B -h "$infrakt_db_host" -P "$infrakt_db_port" -u "$infrakt_db_user" -e "$1" </dev/null
  )
}

# Restore To… a new database (restore.sh infrakt_restore_create), host mode:
# created by the database's user (who needs CREATE), dropped again when the
# restore does not finish. The name passed the model's name check (letters,
# digits, . _ -: no backtick).
infrakt_db_create() {
  infrakt_my_admin "create database \`$infrakt_db_name\`" 2>"$infrakt_work/create.err" || {
    cat "$infrakt_work/create.err" >&2
    if grep -q 'database exists' "$infrakt_work/create.err"; then
      echo "infrakt: the database $infrakt_db_name already exists on this server — choose another name" >&2
      exit "$infrakt_exit_database_exists"
    fi
    echo "infrakt: could not create the database $infrakt_db_name as $infrakt_db_user — grant it CREATE, or create the database and restore into it" >&2
    exit "$infrakt_exit_restore_failed"
  }
}

infrakt_db_drop() { infrakt_my_admin "drop database if exists \`$infrakt_db_name\`"; }

infrakt_db_verify_open() {
  # Marked first: a cancel may land after the server created it, before the client returned.
  infrakt_verify_made=1
  infrakt_my_admin "create database \`$infrakt_verify_scratch\`" >&2 || {
    echo "infrakt: could not create the scratch database $infrakt_verify_scratch as $infrakt_db_user — grant it CREATE and DROP on \`infrakt_verify_%\`.*" >&2
    exit "$infrakt_exit_restore_failed"
  }
  infrakt_db_name=$infrakt_verify_scratch
}

infrakt_db_verify_close() {
  [ "${infrakt_verify_made:-0}" = 1 ] || return 0
  infrakt_my_admin "drop database if exists \`$infrakt_verify_scratch\`" >&2 || return 1
  infrakt_verify_made=0
}
