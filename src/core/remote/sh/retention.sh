# shellcheck shell=sh
# Retention, the one implementation that deletes: run by the backup pipeline
# right after a backup is committed (Back Up Now and the scheduled run alike,
# in the same round trip), and by Apply Retention Now… (a preview that deletes
# nothing, then the deletions the user confirmed). Each side has its own rule
# (infrakt_ret_local for this server's disk, infrakt_ret_s3 for the bucket):
# "last=N within=N daily=N weekly=N monthly=N yearly=N", empty keeps all. A
# backup is deleted from the disk only by the local rule and from S3 only by
# the S3 rule.
#
# Rules that keep the last good copy: only verified backups (a .sha256 beside
# the file; in S3 the .sha256 object, the commit mark) are kept by a rule or
# count for one; the newest verified backup and the one just made are never
# deleted; a local backup without a checksum is never deleted (it is reported);
# nothing is deleted on a side whose listing failed, nor in S3 when the upload
# just made is not listed yet. Time buckets are UTC, from the backup's name.
#
# Output: one `retain` mark per backup ("<side> keep|delete <name> <reasons>"),
# a `deleted` mark per deletion, and one `retention` mark line of JSON with the
# counts and the errors. It never changes the backup's exit status.
#
# Input (besides the pipeline's or aws.sh's): infrakt_ret_local, infrakt_ret_s3,
# infrakt_ret_tails (the "<format>.<ext>" a backup of this engine may end
# with), infrakt_ret_apply (all, the default: delete what the rule selects;
# none: preview; confirmed: only names in infrakt_ret_confirmed, S3 ones as
# "s3:<key>").

# Name rule (the same as the extension's parseBackupName).
infrakt_ret_is_backup() {
  infrakt_ret_r=${1#"$infrakt_base"}
  [ "$infrakt_ret_r" != "$1" ] || return 1
  infrakt_ret_ts=${infrakt_ret_r%%.*}
  infrakt_ret_rest=${infrakt_ret_r#*.}
  case "$infrakt_ret_ts" in
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) ;;
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9]) ;;
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9][0-9]) ;;
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9][0-9][0-9]) ;;
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9][0-9][0-9][0-9]) ;;
    *) return 1 ;;
  esac
  for infrakt_ret_x in $infrakt_ret_tails; do
    if [ "$infrakt_ret_rest" = "$infrakt_ret_x" ]; then return 0; fi
  done
  return 1
}

# infrakt_ret_line <name> <verified 0|1>: "<timestamp> <sequence, 4 digits> <name> <verified>",
# so that `sort -r` puts the newest first (then the higher -<n> of the same second).
infrakt_ret_line() {
  infrakt_ret_r=${1#"$infrakt_base"}
  infrakt_ret_ts=${infrakt_ret_r%%Z*}
  case "$infrakt_ret_r" in
    *Z-*)
      infrakt_ret_q=${infrakt_ret_r#*Z-}
      infrakt_ret_q=${infrakt_ret_q%%.*}
      ;;
    *) infrakt_ret_q=1 ;;
  esac
  while [ ${#infrakt_ret_q} -lt 4 ]; do infrakt_ret_q="0$infrakt_ret_q"; done
  printf '%s %s %s %s\n' "$infrakt_ret_ts" "$infrakt_ret_q" "$1" "$2"
}

# infrakt_ret_select <rule> <now, epoch s> <name just made or "">: the selection.
# Reads infrakt_ret_line lines newest first; prints "keep <name> <reasons>" or
# "delete <name>". A day, ISO week (Monday first; week 1 holds the first
# Thursday), month or year counts once, for its newest verified backup.
infrakt_ret_select() {
  awk -v rule="$1" -v now="$2" -v just="$3" '
    function civil(y, m, d,   era, yoe, doy) {
      if (m <= 2) y--
      era = int((y >= 0 ? y : y - 399) / 400)
      yoe = y - era * 400
      doy = int((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
      return era * 146097 + yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy - 719468
    }
    function isoweek(days, y,   thu) {
      thu = days - ((days + 3) % 7 + 1) + 4
      if (thu < civil(y, 1, 1)) y--
      else if (thu >= civil(y + 1, 1, 1)) y++
      return sprintf("%04d-W%02d", y, int((thu - civil(y, 1, 1)) / 7) + 1)
    }
    BEGIN {
      n = split(rule, parts, " ")
      for (i = 1; i <= n; i++) { split(parts[i], kv, "="); r[kv[1]] = kv[2] + 0 }
      nk = split("daily weekly monthly yearly", kinds, " ")
      seen = 0
    }
    {
      ts = $1; name = $3
      why = ""
      if ($4 != 1) {
        why = ", no checksum"
      } else {
        seen++
        y = substr(ts, 1, 4) + 0; m = substr(ts, 5, 2) + 0; d = substr(ts, 7, 2) + 0
        days = civil(y, m, d)
        t = days * 86400 + substr(ts, 10, 2) * 3600 + substr(ts, 12, 2) * 60 + substr(ts, 14, 2)
        key["daily"] = sprintf("%04d-%02d-%02d", y, m, d)
        key["weekly"] = isoweek(days, y)
        key["monthly"] = sprintf("%04d-%02d", y, m)
        key["yearly"] = sprintf("%04d", y)
        if (r["last"] > 0 && seen <= r["last"]) why = why ", last " r["last"]
        if (r["within"] > 0 && t >= now - r["within"] * 86400) why = why ", within " r["within"] " days"
        for (i = 1; i <= nk; i++) {
          k = kinds[i]
          if ((k in prev) && prev[k] == key[k]) continue
          prev[k] = key[k]
          cnt[k]++
          if (r[k] > 0 && cnt[k] <= r[k]) why = why ", " k " " key[k]
        }
        if (seen == 1) why = why ", newest verified"
      }
      if (name == just) why = why ", just made"
      if (why != "") print "keep " name " " substr(why, 3)
      else print "delete " name
    }'
}

infrakt_ret_add_error() { infrakt_ret_error="${infrakt_ret_error:+$infrakt_ret_error; }$1"; }

# infrakt_ret_may_delete <id>: whether this run deletes what the rule selects.
infrakt_ret_may_delete() {
  case "${infrakt_ret_apply:-all}" in
    all) return 0 ;;
    confirmed)
      for infrakt_ret_c in $infrakt_ret_confirmed; do
        if [ "$infrakt_ret_c" = "$1" ]; then return 0; fi
      done
      return 1
      ;;
    *) return 1 ;;
  esac
}

# infrakt_ret_plan <side>: the selection of <side>'s listing ($infrakt_ret_w/<side>)
# into $infrakt_ret_w/<side>.plan.
infrakt_ret_plan() {
  case "$1" in local) infrakt_ret_rule=$infrakt_ret_local ;; *) infrakt_ret_rule=$infrakt_ret_s3 ;; esac
  LC_ALL=C sort -r "$infrakt_ret_w/$1" | infrakt_ret_select "$infrakt_ret_rule" "$(date -u +%s)" "${infrakt_ret_just:-}" \
    >"$infrakt_ret_w/$1.plan"
}

infrakt_ret_local_run() {
  if ! ls -1A -- "$infrakt_dir" >"$infrakt_ret_w/ls" 2>"$infrakt_ret_w/err"; then
    infrakt_ret_add_error "local: cannot list $infrakt_dir: $(infrakt_tail_lines "$infrakt_ret_w/err")"
    return 0
  fi
  : >"$infrakt_ret_w/local"
  while IFS= read -r infrakt_ret_n; do
    infrakt_ret_is_backup "$infrakt_ret_n" || continue
    [ -f "$infrakt_dir/$infrakt_ret_n" ] || continue
    infrakt_ret_v=0
    if [ -s "$infrakt_dir/$infrakt_ret_n.sha256" ]; then infrakt_ret_v=1; fi
    infrakt_ret_line "$infrakt_ret_n" "$infrakt_ret_v" >>"$infrakt_ret_w/local"
  done <"$infrakt_ret_w/ls"
  infrakt_ret_plan local || {
    infrakt_ret_add_error 'local: the selection failed'
    return 0
  }
  while read -r infrakt_ret_a infrakt_ret_n infrakt_ret_why; do
    if [ "$infrakt_ret_a" = delete ]; then
      if ! infrakt_ret_may_delete "$infrakt_ret_n"; then
        if [ "${infrakt_ret_apply:-all}" = confirmed ]; then infrakt_ret_a=keep infrakt_ret_why='not confirmed'; fi
      elif rm -f -- "$infrakt_dir/$infrakt_ret_n" && rm -f -- "$infrakt_dir/$infrakt_ret_n.sha256" "$infrakt_dir/$infrakt_ret_n.counts" "$infrakt_dir/$infrakt_ret_n.verify"; then
        printf '%s local %s\n' "$infrakt_mark_deleted" "$infrakt_ret_n"
        infrakt_ret_deleted_local=$((infrakt_ret_deleted_local + 1))
      else
        infrakt_ret_add_error "local: cannot delete $infrakt_ret_n"
        infrakt_ret_a=keep infrakt_ret_why='the delete failed'
      fi
    fi
    printf '%s local %s %s %s\n' "$infrakt_mark_retain" "$infrakt_ret_a" "$infrakt_ret_n" "$infrakt_ret_why"
  done <"$infrakt_ret_w/local.plan"
  # A checksum (or a backup's counts or verification record) whose backup is
  # gone (deleted by hand) goes after an hour (a running backup writes its
  # .sha256 just before the rename).
  [ "${infrakt_ret_apply:-all}" = none ] ||
    find "$infrakt_dir" -maxdepth 1 -type f \( -name "$infrakt_base*.sha256" -o -name "$infrakt_base*.counts" -o -name "$infrakt_base*.verify" \) -mmin +60 2>/dev/null |
    while IFS= read -r infrakt_ret_f; do
      [ -e "${infrakt_ret_f%.*}" ] || rm -f -- "$infrakt_ret_f"
    done
}

infrakt_ret_s3_run() {
  infrakt_ret_p=$infrakt_s3_prefix
  if ! awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix="$infrakt_ret_p$infrakt_base" \
    --query 'Contents[].[Key]' --output text >"$infrakt_ret_w/keys" 2>"$infrakt_ret_w/err" </dev/null; then
    infrakt_ret_add_error "S3: cannot list $infrakt_ret_p: $(infrakt_tail_lines "$infrakt_ret_w/err")"
    return 0
  fi
  # Only verified backups are backups in S3 (their .sha256 object, the commit
  # mark, is there): an unfinished upload is the sweep's, never retention's.
  awk -v p="$infrakt_ret_p" 'index($0, p) == 1 && /\.sha256$/ { n = substr($0, length(p) + 1); print substr(n, 1, length(n) - 7) }' \
    "$infrakt_ret_w/keys" >"$infrakt_ret_w/sums"
  : >"$infrakt_ret_w/s3"
  while IFS= read -r infrakt_ret_k; do
    infrakt_ret_n=${infrakt_ret_k#"$infrakt_ret_p"}
    [ "$infrakt_ret_n" != "$infrakt_ret_k" ] || continue
    infrakt_ret_is_backup "$infrakt_ret_n" || continue
    grep -qxF -- "$infrakt_ret_n" "$infrakt_ret_w/sums" || continue
    infrakt_ret_line "$infrakt_ret_n" 1 >>"$infrakt_ret_w/s3"
  done <"$infrakt_ret_w/keys"
  # The upload not listed yet: do nothing rather than guess.
  if [ -n "${infrakt_ret_just:-}" ] && ! grep -q " $infrakt_ret_just 1\$" "$infrakt_ret_w/s3"; then
    echo "infrakt: S3 retention skipped: $infrakt_ret_just is not listed in S3 yet" >&2
    return 0
  fi
  infrakt_ret_plan s3 || {
    infrakt_ret_add_error 'S3: the selection failed'
    return 0
  }
  # The deletions go in batches (delete-objects, 500 keys a request): the
  # objects first, then the marks of those that went — a mark never outlives
  # nothing but its own object, and an object whose delete failed keeps its mark.
  : >"$infrakt_ret_w/go"
  while read -r infrakt_ret_a infrakt_ret_n infrakt_ret_why; do
    if [ "$infrakt_ret_a" = delete ] && infrakt_ret_may_delete "s3:$infrakt_ret_p$infrakt_ret_n"; then
      printf '%s\n' "$infrakt_ret_p$infrakt_ret_n" >>"$infrakt_ret_w/go"
    fi
  done <"$infrakt_ret_w/s3.plan"
  infrakt_ret_batch "$infrakt_ret_w/go" "$infrakt_ret_w/gone"
  sed 's/$/.sha256/' "$infrakt_ret_w/gone" >"$infrakt_ret_w/marks"
  infrakt_ret_batch "$infrakt_ret_w/marks" "$infrakt_ret_w/marks-gone"
  while read -r infrakt_ret_a infrakt_ret_n infrakt_ret_why; do
    infrakt_ret_k=$infrakt_ret_p$infrakt_ret_n
    if [ "$infrakt_ret_a" = delete ]; then
      if grep -qxF -- "$infrakt_ret_k" "$infrakt_ret_w/gone"; then
        printf '%s s3 %s\n' "$infrakt_mark_deleted" "$infrakt_ret_k"
        infrakt_ret_deleted_s3=$((infrakt_ret_deleted_s3 + 1))
      elif grep -qxF -- "$infrakt_ret_k" "$infrakt_ret_w/go"; then
        infrakt_ret_a=keep infrakt_ret_why='the delete failed'
      elif [ "${infrakt_ret_apply:-all}" = confirmed ]; then
        infrakt_ret_a=keep infrakt_ret_why='not confirmed'
      fi
    fi
    printf '%s s3 %s %s %s\n' "$infrakt_mark_retain" "$infrakt_ret_a" "$infrakt_ret_k" "$infrakt_ret_why"
  done <"$infrakt_ret_w/s3.plan"
}

# infrakt_ret_batch <keys file> <deleted keys file>: delete-objects in batches
# of 500; what S3 reports deleted goes to the second file, each failure to the
# errors. The keys are our own names (letters, digits, . _ - /): safe inside
# JSON as they are.
infrakt_ret_batch() {
  : >"$2"
  [ -s "$1" ] || return 0
  split -l 500 -- "$1" "$infrakt_ret_w/batch." || {
    infrakt_ret_add_error 'S3: cannot split the deletions'
    return 0
  }
  for infrakt_ret_b in "$infrakt_ret_w"/batch.*; do
    infrakt_ret_json=$(awk 'BEGIN { printf "{\"Objects\":[" } { printf "%s{\"Key\":\"%s\"}", (NR > 1 ? "," : ""), $0 } END { printf "],\"Quiet\":false}" }' "$infrakt_ret_b")
    if awsx s3api delete-objects --bucket "$infrakt_bucket" --delete "$infrakt_ret_json" \
      --query 'Deleted[].Key' --output text </dev/null >"$infrakt_ret_w/deleted" 2>"$infrakt_ret_w/err"; then
      tr '\t' '\n' <"$infrakt_ret_w/deleted" | grep -vx 'None' | grep . >>"$2" || :
      infrakt_ret_left=$(grep -cvxF -f "$2" -- "$infrakt_ret_b") || :
      if [ "${infrakt_ret_left:-0}" -gt 0 ]; then
        infrakt_ret_add_error "S3: $infrakt_ret_left key(s) not deleted (e.g. $(grep -vxF -f "$2" -- "$infrakt_ret_b" | head -n 1))"
      fi
    else
      infrakt_ret_add_error "S3: cannot delete $(head -n 1 "$infrakt_ret_b") and $(($(wc -l <"$infrakt_ret_b") - 1)) more: $(infrakt_tail_lines "$infrakt_ret_w/err")"
    fi
    rm -f -- "$infrakt_ret_b"
  done
}

infrakt_ret_outcome() {
  infrakt_ret_json=$(infrakt_json_text "$infrakt_ret_error")
  printf '%s {"deletedLocal":%s,"deletedS3":%s,"error":"%s"}\n' "$infrakt_mark_retention" \
    "$infrakt_ret_deleted_local" "$infrakt_ret_deleted_s3" "$infrakt_ret_json"
}

# After the commit (infrakt_name is the backup just made). The S3 part runs
# only when the s3 sink uploaded it.
infrakt_retention() {
  infrakt_ret_error='' infrakt_ret_deleted_local=0 infrakt_ret_deleted_s3=0 infrakt_ret_just=$infrakt_name
  infrakt_ret_w=$infrakt_work/retention
  if ! mkdir -p -- "$infrakt_ret_w"; then
    infrakt_ret_add_error 'cannot create a temp dir'
  else
    if [ -n "$infrakt_ret_local" ]; then infrakt_ret_local_run; fi
    if [ -n "$infrakt_ret_s3" ]; then
      infrakt_sg s3 rc
      if [ "$infrakt_r" = 0 ]; then infrakt_ret_s3_run; fi
    fi
  fi
  infrakt_ret_outcome
}

# Apply Retention Now…: the same rules without a new backup (infrakt_dir,
# infrakt_base; S3 when infrakt_s3_bucket is set). Exits 0 with the outcome
# line; the errors are in it.
infrakt_retention_now() {
  set -u
  infrakt_ret_error='' infrakt_ret_deleted_local=0 infrakt_ret_deleted_s3=0 infrakt_ret_just=''
  if [ -n "$infrakt_ret_s3" ] && [ -n "${infrakt_s3_bucket:-}" ]; then
    infrakt_s3_start
  else
    infrakt_tmpdirs=''
    trap 'for infrakt_d in $infrakt_tmpdirs; do rm -rf -- "$infrakt_d"; done' EXIT
    trap 'exit 130' INT TERM HUP
  fi
  infrakt_ret_w=$(mktemp -d "${TMPDIR:-/tmp}/infrakt-ret.XXXXXX") || {
    echo 'infrakt: cannot create a temp dir' >&2
    exit "$infrakt_exit_setup"
  }
  infrakt_tmpdirs="$infrakt_tmpdirs $infrakt_ret_w"
  if [ -n "$infrakt_ret_local" ]; then
    if [ -d "$infrakt_dir" ]; then infrakt_ret_local_run; fi
  fi
  if [ -n "$infrakt_ret_s3" ] && [ -n "${infrakt_s3_bucket:-}" ]; then infrakt_ret_s3_run; fi
  infrakt_ret_outcome
  exit 0
}
