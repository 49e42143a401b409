# shellcheck shell=sh
# PostgreSQL: pg_dump's custom format without its own compression (-Fc -Z0; the
# pipeline's compressor is faster). Host mode connects with infrakt_db_host,
# _port, _user, _name and PGPASSWORD (exported by the preamble or sourced from
# the password file); container mode reads the container's own POSTGRES_* env.

# Inside the container: $1 the tool-missing code, $2 the user, $3 the database (empty: the image's).
# shellcheck disable=SC2016 # expanded in the container
infrakt_pg_container_dump='command -v pg_dump >/dev/null 2>&1 || { echo "infrakt: pg_dump not found in the container" >&2; exit "$1"; }
export PGPASSWORD="${POSTGRES_PASSWORD:-}"
exec pg_dump -Fc -Z0 -U "${2:-${POSTGRES_USER:-postgres}}" -d "${3:-${POSTGRES_DB:-${POSTGRES_USER:-postgres}}}"'

infrakt_db_plan() {
  infrakt_db_precompressed=0 infrakt_db_snapshots=0
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_db_tool=pg_dump infrakt_db_stage="pg_dump in container $infrakt_db_container"
  else
    infrakt_db_stage=pg_dump
    infrakt_resolve infrakt_dump pg_dump
  fi
}

infrakt_db_prestart() { :; }

# The database's size as the server reports it (bytes; nothing when it cannot
# say): it bounds the compressed dump, so an S3 upload can size its parts.
# shellcheck disable=SC2016 # expanded in the container
# Bounded: 10 s to connect, 20 s for the query (it must never hold up a backup).
infrakt_pg_container_size='command -v psql >/dev/null 2>&1 || exit 0
export PGPASSWORD="${POSTGRES_PASSWORD:-}" PGCONNECT_TIMEOUT=10 PGOPTIONS="-c statement_timeout=20000"
exec psql -X -w -Atq -U "${2:-${POSTGRES_USER:-postgres}}" -d "${3:-${POSTGRES_DB:-${POSTGRES_USER:-postgres}}}" -c "select pg_database_size(current_database())"'

infrakt_db_size() {
  if [ "$infrakt_db_mode" = container ]; then
    (infrakt_in_container "$infrakt_pg_container_size" "$infrakt_db_user" "$infrakt_db_name")
    return
  fi
  command -v psql >/dev/null 2>&1 || return 0
  PGCONNECT_TIMEOUT=10 PGOPTIONS='-c statement_timeout=20000' infrakt_bounded 30 psql -X -w -Atq -h "$infrakt_db_host" \
    -p "$infrakt_db_port" -U "$infrakt_db_user" -d "$infrakt_db_name" -c 'select pg_database_size(current_database())' </dev/null
}

infrakt_db_dump() {
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_in_container "$infrakt_pg_container_dump" "$infrakt_db_user" "$infrakt_db_name"
  fi
  exec pg_dump -Fc -Z0 -h "$infrakt_db_host" -p "$infrakt_db_port" -U "$infrakt_db_user" -d "$infrakt_db_name" </dev/null
}

# Restores: pg_restore into the database (--clean --if-exists: objects are
# replaced; one transaction: all or nothing), or psql for a plain `.sql` dump.
# shellcheck disable=SC2016 # expanded in the container
infrakt_pg_container_restore='command -v pg_restore >/dev/null 2>&1 || { echo "infrakt: pg_restore not found in the container" >&2; exit "$1"; }
export PGPASSWORD="${POSTGRES_PASSWORD:-}"
exec pg_restore --clean --if-exists --no-owner --single-transaction -U "${2:-${POSTGRES_USER:-postgres}}" -d "${3:-${POSTGRES_DB:-${POSTGRES_USER:-postgres}}}"'
# shellcheck disable=SC2016 # expanded in the container
infrakt_pg_container_psql='command -v psql >/dev/null 2>&1 || { echo "infrakt: psql not found in the container" >&2; exit "$1"; }
export PGPASSWORD="${POSTGRES_PASSWORD:-}"
exec psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U "${2:-${POSTGRES_USER:-postgres}}" -d "${3:-${POSTGRES_DB:-${POSTGRES_USER:-postgres}}}"'

infrakt_db_restore_plan() {
  # One transaction: a streamed restore that is stopped before its end leaves the database as it was.
  infrakt_db_restore_atomic=1
  if [ "$infrakt_format" = sql ]; then infrakt_db_restore_tool=psql; else infrakt_db_restore_tool=pg_restore; fi
  if [ "$infrakt_db_mode" = container ]; then
    infrakt_db_restore_tool="restore in container $infrakt_db_container"
  else
    infrakt_resolve infrakt_restore "$infrakt_db_restore_tool"
  fi
}

infrakt_db_restore_cmd() {
  if [ "$infrakt_db_mode" = container ]; then
    if [ "$infrakt_format" = sql ]; then infrakt_ic=$infrakt_pg_container_psql; else infrakt_ic=$infrakt_pg_container_restore; fi
    infrakt_in_container_i "$infrakt_ic" "$infrakt_db_user" "$infrakt_db_name"
  fi
  set -- -h "$infrakt_db_host" -p "$infrakt_db_port" -U "$infrakt_db_user" -d "$infrakt_db_name"
  if [ "$infrakt_format" = sql ]; then exec psql -X -q -v ON_ERROR_STOP=1 --single-transaction "$@"; fi
  exec pg_restore --clean --if-exists --no-owner --single-transaction "$@"
}

# Restore To… a new database: createdb (it quotes the name itself; it fails
# when the database exists), and dropdb --force when that restore does not finish.
# shellcheck disable=SC2016 # expanded in the container
infrakt_pg_container_admin='command -v "$2" >/dev/null 2>&1 || { echo "infrakt: $2 not found in the container" >&2; exit "$1"; }
export PGPASSWORD="${POSTGRES_PASSWORD:-}"
tool=$2 user=${3:-${POSTGRES_USER:-postgres}} db=$4
shift 4
exec "$tool" -U "$user" ${1:+"$1"} -- "$db"'

infrakt_pg_admin() {
  if [ "$infrakt_db_mode" = container ]; then
    (infrakt_in_container "$infrakt_pg_container_admin" "$1" "$infrakt_db_user" "$infrakt_db_name" "${2:-}")
    return
  fi
  # shellcheck disable=SC2086 # $2: one fixed option or none
  "$1" -h "$infrakt_db_host" -p "$infrakt_db_port" -U "$infrakt_db_user" ${2:-} -- "$infrakt_db_name" </dev/null
}

infrakt_db_create() {
  if [ "$infrakt_db_mode" != container ]; then infrakt_resolve infrakt_createdb createdb; fi
  infrakt_pg_admin createdb 2>"$infrakt_work/create.err" || {
    cat "$infrakt_work/create.err" >&2
    if grep -q 'already exists' "$infrakt_work/create.err"; then
      echo "infrakt: the database $infrakt_db_name already exists on this server — choose another name" >&2
      exit "$infrakt_exit_database_exists"
    fi
    echo "infrakt: could not create the database $infrakt_db_name" >&2
    exit "$infrakt_exit_restore_failed"
  }
}

infrakt_db_drop() { infrakt_pg_admin dropdb --force; }

# Provision Server, host mode (infrakt_db_check <name>): pg_dump refuses to dump
# a server newer than itself, so warn before the first backup fails. Asks the
# server for its version with psql (PGPASSWORD as for a backup) and prints one
# `pgversion-<name>` step line (infrakt_step). Says nothing when pg_dump or
# psql is missing: the tool steps say so.
infrakt_db_check() {
  if ! command -v pg_dump >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then return 0; fi
  infrakt_pg_sv=$(psql -X -w -h "$infrakt_db_host" -p "$infrakt_db_port" -U "$infrakt_db_user" -d "$infrakt_db_name" \
    -Atqc 'show server_version_num' 2>/dev/null </dev/null) || infrakt_pg_sv=''
  infrakt_pg_cv=$(pg_dump --version 2>/dev/null </dev/null | sed -n 's/.* \([0-9][0-9]*\)\.\([0-9]*\).*/\1/p' | head -n1)
  case "$infrakt_pg_sv" in '' | *[!0-9]*) infrakt_pg_sv='' ;; esac
  case "$infrakt_pg_cv" in '' | *[!0-9]*) infrakt_pg_cv='' ;; esac
  if [ -z "$infrakt_pg_sv" ]; then
    infrakt_step "pgversion-$1" warn "could not ask $1's server for its version (psql to $infrakt_db_host:$infrakt_db_port as $infrakt_db_user failed): check the database's host, port, user and password"
    return 0
  fi
  infrakt_pg_major=$((infrakt_pg_sv / 10000))
  if [ -n "$infrakt_pg_cv" ] && [ "$infrakt_pg_major" -gt "$infrakt_pg_cv" ]; then
    infrakt_step "pgversion-$1" warn "pg_dump $infrakt_pg_cv is older than the server ($infrakt_pg_major) for $1: install postgresql-client-$infrakt_pg_major"
  else
    infrakt_step "pgversion-$1" 'done' "pg_dump $infrakt_pg_cv can dump server $infrakt_pg_major"
  fi
}

# Row counts of the database infrakt_db_name names, one line per table:
# "<rows> <schema>.<table>", exact (count(*)), all in one repeatable-read
# snapshot. Run beside a backup (the live database: read only) and by Verify
# Backup (its scratch copy). The SQL is constant; query_to_xml runs each count.
infrakt_pg_counts_sql="select (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I.%I', table_schema, table_name), false, true, '')))[1]::text || ' ' || table_schema || '.' || table_name from information_schema.tables where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') and position(chr(10) in table_schema || table_name) = 0 order by table_schema, table_name"

infrakt_db_counts() {
  [ "$infrakt_db_mode" = host ] || return 1
  psql -X -w -q -At -v ON_ERROR_STOP=1 -h "$infrakt_db_host" -p "$infrakt_db_port" -U "$infrakt_db_user" -d "$infrakt_db_name" \
    -c 'begin transaction isolation level repeatable read read only' -c "$infrakt_pg_counts_sql" -c commit </dev/null
}

# Verify Backup (verify.sh): a scratch database named infrakt_verify_scratch
# (ours: lowercase letters, digits and _), created by the database's user
# (who needs CREATEDB) on its server, restored with the restore's own command,
# dropped after — WITH (FORCE) where the server has it (13+), so a restore
# that was killed half-way cannot keep it open.
# The CREATE and DROP run to their end (TERM ignored, a cancel then drops what
# was created): a client killed mid-CREATE would leave the server finishing it
# after our DROP.
infrakt_pg_scratch_sql() {
  (
    trap '' TERM HUP
    exec psql -X -w -q -At -v ON_ERROR_STOP=1 -h "$infrakt_db_host" -p "$infrakt_db_port" -U "$infrakt_db_user" -d "$infrakt_verify_live" -c "$1" </dev/null
  )
}

infrakt_db_verify_open() {
  infrakt_verify_live=$infrakt_db_name
  # Marked first: a cancel may land after the server created it, before the client returned.
  infrakt_verify_made=1
  infrakt_pg_scratch_sql "create database $infrakt_verify_scratch" >&2 || {
    echo "infrakt: could not create the scratch database $infrakt_verify_scratch as $infrakt_db_user — the user needs CREATEDB (ALTER ROLE $infrakt_db_user CREATEDB)" >&2
    exit "$infrakt_exit_restore_failed"
  }
  infrakt_db_name=$infrakt_verify_scratch
}

infrakt_db_verify_close() {
  [ "${infrakt_verify_made:-0}" = 1 ] || return 0
  infrakt_pg_scratch_sql "drop database if exists $infrakt_verify_scratch with (force)" >/dev/null 2>&1 ||
    infrakt_pg_scratch_sql "drop database if exists $infrakt_verify_scratch" >&2 || return 1
  infrakt_verify_made=0
}
