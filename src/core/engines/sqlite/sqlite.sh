# shellcheck shell=sh
# SQLite: the database is a file (infrakt_db_path). The backup is a consistent
# copy made with VACUUM INTO: one read transaction, so it sees one state of the
# database however busy the writers are (sqlite3's .backup restarts whenever
# another connection writes, and never ends under a steady writer). It waits
# up to 30 s for a writer's lock. The copy is checked with PRAGMA quick_check,
# then streamed through the pipeline like any dump.
# A restore decompresses into the run's temp dir, checks the copy with
# PRAGMA integrity_check, and loads it into the live file with sqlite3's
# .restore (one transaction; other connections wait, then see the new data).

infrakt_db_plan() {
  infrakt_db_precompressed=0 infrakt_db_snapshots=1 infrakt_db_stage='sqlite3 VACUUM INTO'
  infrakt_resolve infrakt_dump sqlite3
  if [ ! -f "$infrakt_db_path" ]; then
    echo "infrakt: $infrakt_db_path is not a file on this server — check the database's path" >&2
    infrakt_stage_failed "$infrakt_db_stage" 1
  fi
}

infrakt_db_prestart() { :; }

# The copy goes to "$infrakt_raw" (a name of ours in the backup directory: no quote in it).
infrakt_db_snapshot() {
  case "$infrakt_raw" in *"'"*) exit 1 ;; esac
  exec sqlite3 -bail -cmd '.timeout 30000' "$infrakt_db_path" "VACUUM INTO '$infrakt_raw'" </dev/null >&2
}

infrakt_db_dump() {
  infrakt_sq_check=$(sqlite3 -bail "$infrakt_raw" 'PRAGMA quick_check' </dev/null 2>&1) || infrakt_sq_check="$infrakt_sq_check (sqlite3 failed)"
  if [ "$infrakt_sq_check" != ok ]; then
    echo "infrakt: the copy of $infrakt_db_path does not pass PRAGMA quick_check: $(printf '%s' "$infrakt_sq_check" | head -n 3)" >&2
    exit 1
  fi
  exec cat -- "$infrakt_raw"
}

infrakt_db_restore_plan() {
  infrakt_db_restore_tool=sqlite3
  infrakt_resolve infrakt_restore sqlite3
}

infrakt_sqlite_restore_fail() {
  echo "infrakt: $1" >&2
  exit "$infrakt_exit_restore_failed"
}

infrakt_db_restore() {
  infrakt_sq_dir=${infrakt_db_path%/*}
  [ -n "$infrakt_sq_dir" ] || infrakt_sq_dir=/
  [ -d "$infrakt_sq_dir" ] || infrakt_sqlite_restore_fail "the directory $infrakt_sq_dir of the database file does not exist"
  infrakt_raw="$infrakt_work/restore.sqlite"
  case "$infrakt_raw" in *"'"*) infrakt_sqlite_restore_fail "the temp dir $infrakt_work has a quote in its path" ;; esac
  $infrakt_decomp <"$infrakt_file" >"$infrakt_raw" || infrakt_stage_failed decompress $?
  printf '%s restore sqlite3\n' "$infrakt_mark_step"
  infrakt_sq_check=$(sqlite3 -bail "$infrakt_raw" 'PRAGMA integrity_check' </dev/null 2>&1) || infrakt_sq_check="$infrakt_sq_check (sqlite3 failed)"
  if [ "$infrakt_sq_check" != ok ]; then
    infrakt_sqlite_restore_fail "the backup does not pass PRAGMA integrity_check, so $infrakt_db_path was not touched: $(printf '%s' "$infrakt_sq_check" | head -n 3)"
  fi
  # The online backup API, into the live file: one write transaction (all or nothing,
  # crash-safe through SQLite's own journal), taken with the locks other connections
  # honour — they wait, then see the restored data. The file keeps its inode, owner and mode.
  sqlite3 -bail -cmd '.timeout 30000' "$infrakt_db_path" ".restore '$infrakt_raw'" </dev/null >&2 ||
    infrakt_sqlite_restore_fail "sqlite3 could not load the backup into $infrakt_db_path (is a long write transaction holding it?)"
}

# Restore To… a new database (restore.sh infrakt_restore_create): a new file at
# infrakt_db_path, made empty and exclusively (noclobber: a file that appears
# meanwhile is never taken over), so the clean-up removes only what this run
# made when the restore does not finish. An existing file is refused untouched.
infrakt_db_create() {
  if [ -e "$infrakt_db_path" ] || [ -L "$infrakt_db_path" ]; then
    echo "infrakt: $infrakt_db_path already exists on this server — choose another file" >&2
    exit "$infrakt_exit_database_exists"
  fi
  infrakt_sq_dir=${infrakt_db_path%/*}
  [ -n "$infrakt_sq_dir" ] || infrakt_sq_dir=/
  [ -d "$infrakt_sq_dir" ] || infrakt_sqlite_restore_fail "the directory $infrakt_sq_dir does not exist on this server — create it, or choose a file in a directory that exists"
  (set -C && : >"$infrakt_db_path") 2>/dev/null || {
    if [ -e "$infrakt_db_path" ]; then
      echo "infrakt: $infrakt_db_path already exists on this server — choose another file" >&2
      exit "$infrakt_exit_database_exists"
    fi
    infrakt_sqlite_restore_fail "could not create $infrakt_db_path (permissions of $infrakt_sq_dir?)"
  }
}

infrakt_db_drop() { rm -f -- "$infrakt_db_path" "$infrakt_db_path-journal" "$infrakt_db_path-wal" "$infrakt_db_path-shm"; }

# Row counts, one line per table: "<rows> <table>", exact, in one statement
# (one read transaction). Beside a backup they count its snapshot (the VACUUM
# INTO copy, so exactly what the backup holds); in Verify Backup the restored
# copy. Table names come from the file; each is quoted as an identifier.
infrakt_db_counts() {
  infrakt_sq_f=${infrakt_raw:-$infrakt_db_path}
  [ -f "$infrakt_sq_f" ] || return 1
  infrakt_sq_tables=$(sqlite3 -bail -readonly -cmd '.timeout 30000' "$infrakt_sq_f" \
    "select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\' and instr(name, char(10)) = 0 order by name" </dev/null) || return 1
  [ -n "$infrakt_sq_tables" ] || return 0
  infrakt_sq_sql=$(printf '%s\n' "$infrakt_sq_tables" | awk '{ gsub(/"/, "\"\""); printf "%sselect %d, count(*) from \"%s\"", (NR > 1 ? " union all " : ""), NR, $0 } END { print " order by 1" }')
  sqlite3 -bail -readonly -separator ' ' -cmd '.timeout 30000' "$infrakt_sq_f" "$infrakt_sq_sql" </dev/null |
    INFRAKT_SQ_T=$infrakt_sq_tables awk '{ split(ENVIRON["INFRAKT_SQ_T"], t, "\n"); print $2 " " t[$1] }'
}

# Verify Backup (verify.sh): the backup decompressed into a temp file in the
# run's private dir, checked with PRAGMA integrity_check, counted, removed.
infrakt_db_verify_open() {
  infrakt_db_path="$infrakt_work/verify.sqlite"
}

infrakt_db_verify_load() {
  $infrakt_decomp <"$infrakt_file" >"$infrakt_db_path" || infrakt_stage_failed decompress $?
  printf '%s restore sqlite3\n' "$infrakt_mark_step"
  infrakt_sq_check=$(sqlite3 -bail "$infrakt_db_path" 'PRAGMA integrity_check' </dev/null 2>&1) || infrakt_sq_check="$infrakt_sq_check (sqlite3 failed)"
  if [ "$infrakt_sq_check" != ok ]; then
    infrakt_sqlite_restore_fail "the backup does not pass PRAGMA integrity_check: $(printf '%s' "$infrakt_sq_check" | head -n 3)"
  fi
}

infrakt_db_verify_close() {
  rm -f -- "$infrakt_work/verify.sqlite"
}
