# shellcheck shell=sh
# Retention, the one implementation: run by the backup pipeline right after a
# backup is committed (Back Up Now and the scheduled run alike), in the same
# round trip. Local: this server's backups of this database older than
# infrakt_ret_days days (0: keep all). S3: the newest infrakt_ret_keep backups
# of this server's in the database's prefix (0: keep all), only after this
# run's upload succeeded. Rules that keep the last good copy: the backup just
# made is never deleted; in S3 only marked backups (their .sha256 object is
# there) count, and nothing is deleted when the listing fails or does not show
# the new upload yet. Each deletion prints a `deleted` mark; the outcome is one
# `retention` mark line of JSON. It never changes the backup's exit status:
# the caller decides what a retention error means.
#
# Input (besides the pipeline's): infrakt_ret_days, infrakt_ret_keep,
# infrakt_ret_tails (the "<format>.<ext>" a backup of this engine may end with).

# Name rule shared by both retentions (the same rule as the extension's parseBackupName).
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

# "<timestamp> <sequence, 4 digits> <name>": sorts by start time, then by the -<n> of the same second.
infrakt_ret_sortkey() {
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
  printf '%s %s %s\n' "$infrakt_ret_ts" "$infrakt_ret_q" "$1"
}

infrakt_ret_add_error() { infrakt_ret_error="${infrakt_ret_error:+$infrakt_ret_error; }$1"; }

infrakt_ret_local() {
  infrakt_ret_cutoff=$(($(date +%s) - infrakt_ret_days * 86400))
  for infrakt_ret_f in "$infrakt_dir/$infrakt_base"*; do
    [ -f "$infrakt_ret_f" ] || continue
    infrakt_ret_n=${infrakt_ret_f##*/}
    case "$infrakt_ret_n" in
      *.sha256)
        # A checksum whose backup is gone (deleted by hand) goes with the same age rule.
        infrakt_ret_b=${infrakt_ret_n%.sha256}
        [ ! -e "$infrakt_dir/$infrakt_ret_b" ] || continue
        ;;
      *) infrakt_ret_b=$infrakt_ret_n ;;
    esac
    infrakt_ret_is_backup "$infrakt_ret_b" || continue
    [ "$infrakt_ret_b" != "$infrakt_name" ] || continue
    infrakt_ret_m=$(stat -c %Y -- "$infrakt_ret_f") || {
      infrakt_ret_add_error "local: cannot stat $infrakt_ret_n"
      continue
    }
    [ "$infrakt_ret_m" -lt "$infrakt_ret_cutoff" ] || continue
    if rm -f -- "$infrakt_ret_f" && rm -f -- "$infrakt_ret_f.sha256"; then
      case "$infrakt_ret_n" in
        *.sha256) ;;
        *)
          printf '%s local %s\n' "$infrakt_mark_deleted" "$infrakt_ret_n"
          infrakt_ret_deleted_local=$((infrakt_ret_deleted_local + 1))
          ;;
      esac
    else
      infrakt_ret_add_error "local: cannot delete $infrakt_ret_n"
    fi
  done
}

infrakt_ret_s3() {
  infrakt_ret_p=$infrakt_s3_prefix
  infrakt_ret_w=$infrakt_work/retention
  mkdir -p -- "$infrakt_ret_w" || {
    infrakt_ret_add_error "S3: cannot create a temp dir"
    return 0
  }
  if ! awsx s3api list-objects-v2 --bucket "$infrakt_bucket" --prefix="$infrakt_ret_p" --query 'Contents[].[Key]' \
    --output text >"$infrakt_ret_w/keys" 2>"$infrakt_ret_w/err" </dev/null; then
    infrakt_ret_add_error "S3: cannot list $infrakt_ret_p: $(infrakt_tail_lines "$infrakt_ret_w/err")"
    return 0
  fi
  : >"$infrakt_ret_w/mine"
  while IFS= read -r infrakt_ret_k; do
    infrakt_ret_n=${infrakt_ret_k#"$infrakt_ret_p"}
    [ "$infrakt_ret_n" != "$infrakt_ret_k" ] || continue
    infrakt_ret_is_backup "$infrakt_ret_n" || continue
    infrakt_ret_sortkey "$infrakt_ret_n" >>"$infrakt_ret_w/mine"
  done <"$infrakt_ret_w/keys"
  # Only verified backups count (their .sha256 object, the commit mark, is there): an
  # unfinished upload must never be kept in place of a real backup.
  awk -v p="$infrakt_ret_p" 'index($0, p) == 1 && /\.sha256$/ { n = substr($0, length(p) + 1); print substr(n, 1, length(n) - 7) }' \
    "$infrakt_ret_w/keys" >"$infrakt_ret_w/sums"
  awk 'NR == FNR { s[$0] = 1; next } ($3 in s)' "$infrakt_ret_w/sums" "$infrakt_ret_w/mine" | LC_ALL=C sort -r |
    cut -d" " -f3 >"$infrakt_ret_w/sorted"
  # The upload not listed yet: do nothing rather than guess.
  if ! grep -qxF "$infrakt_name" "$infrakt_ret_w/sorted"; then
    echo "infrakt: S3 retention skipped: $infrakt_name is not listed in S3 yet" >&2
    return 0
  fi
  infrakt_ret_i=0
  while IFS= read -r infrakt_ret_n; do
    infrakt_ret_i=$((infrakt_ret_i + 1))
    [ "$infrakt_ret_i" -gt "$infrakt_ret_keep" ] || continue
    [ "$infrakt_ret_n" != "$infrakt_name" ] || continue
    if awsx s3api delete-object --bucket "$infrakt_bucket" --key="$infrakt_ret_p$infrakt_ret_n" </dev/null >/dev/null 2>"$infrakt_ret_w/err" &&
      awsx s3api delete-object --bucket "$infrakt_bucket" --key="$infrakt_ret_p$infrakt_ret_n.sha256" </dev/null >/dev/null 2>"$infrakt_ret_w/err"; then
      printf '%s s3 %s\n' "$infrakt_mark_deleted" "$infrakt_ret_p$infrakt_ret_n"
      infrakt_ret_deleted_s3=$((infrakt_ret_deleted_s3 + 1))
    else
      infrakt_ret_add_error "S3: cannot delete $infrakt_ret_p$infrakt_ret_n: $(infrakt_tail_lines "$infrakt_ret_w/err")"
    fi
  done <"$infrakt_ret_w/sorted"
}

# After the commit (infrakt_name is the backup just made). The S3 part runs
# only when the s3 sink uploaded it.
infrakt_retention() {
  infrakt_ret_error='' infrakt_ret_deleted_local=0 infrakt_ret_deleted_s3=0
  if [ "$infrakt_ret_days" -gt 0 ]; then infrakt_ret_local; fi
  if [ "$infrakt_ret_keep" -gt 0 ]; then
    infrakt_sg s3 rc
    if [ "$infrakt_r" = 0 ]; then infrakt_ret_s3; fi
  fi
  infrakt_ret_json=$(infrakt_json_text "$infrakt_ret_error")
  printf '%s {"deletedLocal":%s,"deletedS3":%s,"error":"%s"}\n' "$infrakt_mark_retention" \
    "$infrakt_ret_deleted_local" "$infrakt_ret_deleted_s3" "$infrakt_ret_json"
}
