# shellcheck shell=sh
# The server's backups and schedules, and Delete. One `find` over the backup
# dir (infrakt_list_dir) with `stat` on its batches of names: nothing parses
# `ls`, and the cost is linear in the number of files. Partials are never
# listed; the parser (listScript.ts) decides what is a backup.

# One file mark per file named infrakt_list_pattern (`<server>_*`); the nodir
# mark when the backup dir does not exist yet. Status: the listing's.
infrakt_list_local() {
  if [ ! -d "$infrakt_list_dir" ]; then
    printf '%s\n' "$infrakt_mark_nodir"
    return 0
  fi
  (
    cd -- "$infrakt_list_dir" || exit "$infrakt_exit_backup_dir"
    infrakt_nl=$(printf '\nx')
    infrakt_nl=${infrakt_nl%x}
    # One stat per batch of names. A file removed between find and stat (a
    # delete, a retention prune) must not fail the whole listing, so stat's
    # status is dropped; its message still reaches stderr. A name holding a
    # newline could forge a line of output, so it is never passed to stat.
    # shellcheck disable=SC2016 # expanded by the inner sh
    find . -maxdepth 1 -type f -name "$infrakt_list_pattern" ! -name "*$infrakt_nl*" \
      ! -name '*.partial' ! -name '*.partial-*' -exec sh -c 'stat -c "$0 %s %Y %n" "$@" || :' "$infrakt_mark_file" {} +
  )
}

# Every status record, installed script and infrakt crontab entry of the
# server's schedules (under infrakt_list_dir), one mark line each.
infrakt_sched_status() {
  if [ -d "$infrakt_list_dir/.status" ]; then
    for infrakt_st_f in "$infrakt_list_dir/.status/"*.json; do
      [ -f "$infrakt_st_f" ] || continue
      infrakt_st_n=${infrakt_st_f##*/}
      printf '%s %s ' "$infrakt_mark_sched_status" "${infrakt_st_n%.json}"
      tr -d '\n' <"$infrakt_st_f" 2>/dev/null
      printf '\n'
    done
  fi
  for infrakt_st_f in "$infrakt_list_dir/backup-"*.sh; do
    [ -f "$infrakt_st_f" ] || continue
    infrakt_st_n=${infrakt_st_f##*/backup-}
    printf '%s %s\n' "$infrakt_mark_sched_script" "${infrakt_st_n%.sh}"
  done
  if command -v crontab >/dev/null 2>&1; then
    crontab -l 2>/dev/null | sed -n "s/^\\(.*\\) # infrakt:backup:\\([A-Za-z0-9-]*\\)\$/$infrakt_mark_sched_cron \\2 \\1/p"
  fi
}

# A listing on its own (exit: the listing's status).
infrakt_list() {
  set -u
  infrakt_list_local
  exit $?
}

# The tree's round trip for one server: local files and the listing's status
# mark, whether awscli is on the PATH (the shared S3 listing is not asked of a
# server without it), whether each client tool of infrakt_listing_tools (one
# `a|b` item a line: alternatives) is there, and with
# infrakt_listing_schedules=1 the schedules' records.
infrakt_listing() {
  set -u
  infrakt_list_local
  printf '%s %s\n' "$infrakt_mark_local_rc" "$?"
  if command -v aws >/dev/null 2>&1; then
    printf '%s yes\n' "$infrakt_mark_awscli"
  else
    printf '%s no\n' "$infrakt_mark_awscli"
  fi
  while IFS= read -r infrakt_lt_item; do
    [ -n "$infrakt_lt_item" ] || continue
    infrakt_lt_found=no
    infrakt_lt_rest=$infrakt_lt_item
    while [ -n "$infrakt_lt_rest" ]; do
      infrakt_lt_one=${infrakt_lt_rest%%|*}
      if [ "$infrakt_lt_one" = "$infrakt_lt_rest" ]; then infrakt_lt_rest=''; else infrakt_lt_rest=${infrakt_lt_rest#*|}; fi
      if command -v "$infrakt_lt_one" >/dev/null 2>&1; then
        infrakt_lt_found=yes
        break
      fi
    done
    printf '%s %s %s\n' "$infrakt_mark_list_tool" "$infrakt_lt_found" "$infrakt_lt_item"
  done <<EOF
$infrakt_listing_tools
EOF
  if [ "$infrakt_listing_schedules" = 1 ]; then infrakt_sched_status; fi
  infrakt_list_verified
  exit 0
}

# Each backup's newest verification (Verify Backup's <backup>.verify, one JSON
# line): "<mark> <backup name> <json>".
infrakt_list_verified() {
  [ -d "$infrakt_list_dir" ] || return 0
  for infrakt_lv_f in "$infrakt_list_dir"/$infrakt_list_pattern.verify; do
    [ -f "$infrakt_lv_f" ] || continue
    infrakt_lv_n=${infrakt_lv_f##*/}
    printf '%s %s ' "$infrakt_mark_verified" "${infrakt_lv_n%.verify}"
    head -n 1 "$infrakt_lv_f" | tr -d '\n'
    printf '\n'
  done
}

# Deletes one backup (infrakt_file), its checksum, counts and verification record; a file already gone is not an error.
infrakt_delete_local() {
  set -eu
  infrakt_existed=false
  if [ -e "$infrakt_file" ]; then infrakt_existed=true; fi
  rm -f -- "$infrakt_file" "$infrakt_file.sha256" "$infrakt_file.counts" "$infrakt_file.verify"
  printf '%s {"deleted":"%s","existed":%s}\n' "$infrakt_mark_result" "$infrakt_name" "$infrakt_existed"
}

# The checksum recorded beside a backup (infrakt_file), as a result line.
infrakt_checksum() {
  set -u
  [ -f "$infrakt_file.sha256" ] || exit "$infrakt_exit_no_checksum"
  infrakt_sum=$(head -c 64 <"$infrakt_file.sha256")
  printf '%s {"sha256":"%s","recipient":"%s"}\n' "$infrakt_mark_result" "$infrakt_sum" "$(infrakt_json_text "$(infrakt_sum_recipient "$infrakt_file.sha256")")"
}
