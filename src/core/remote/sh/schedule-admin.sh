# shellcheck shell=sh
# Installing and removing a scheduled backup: the root-only secret files, the
# script cron runs (written to a temp file, syntax-checked, 0700, renamed) and
# its crontab line with its marker. Every function is idempotent: run twice,
# the second changes nothing.

# Reads the crontab into $infrakt_cron_dir/tab: "no crontab yet" is an empty
# one; any other failure stops the script, so an unreadable crontab is never
# replaced by one holding only our line.
infrakt_read_crontab() {
  infrakt_cron_dir=$(mktemp -d "${TMPDIR:-/tmp}/infrakt-cron.XXXXXX") || {
    echo "infrakt: cannot create a temp dir for the crontab" >&2
    exit "$infrakt_exit_setup"
  }
  if ! crontab -l >"$infrakt_cron_dir/tab" 2>"$infrakt_cron_dir/err"; then
    if grep -qiE "no crontab|can't open|no such file" "$infrakt_cron_dir/err"; then
      : >"$infrakt_cron_dir/tab"
    else
      echo "infrakt: cannot read the crontab: $(head -c 300 "$infrakt_cron_dir/err")" >&2
      rm -rf -- "$infrakt_cron_dir"
      exit "$infrakt_exit_crontab"
    fi
  fi
}

# Replaces (or adds) the line marked infrakt_cron_marker with infrakt_cron_line;
# other lines are kept as they are. Status: whether the entry is now installed.
infrakt_cron_install() {
  command -v crontab >/dev/null 2>&1 || {
    echo "infrakt: crontab not found on this server — run Provision Server" >&2
    exit 127
  }
  infrakt_read_crontab
  {
    grep -vF "$infrakt_cron_marker" "$infrakt_cron_dir/tab"
    printf '%s\n' "$infrakt_cron_line"
  } | crontab -
  infrakt_cron_rc=$?
  rm -rf -- "$infrakt_cron_dir"
  [ "$infrakt_cron_rc" = 0 ] || {
    echo "infrakt: crontab refused the new entry (exit $infrakt_cron_rc)" >&2
    exit "$infrakt_exit_crontab"
  }
  crontab -l 2>/dev/null | grep -qxF "$infrakt_cron_line"
}

# Removes the line marked infrakt_cron_marker (nothing to do when there is
# none, or no crontab). Status: whether it is gone.
infrakt_cron_remove() {
  command -v crontab >/dev/null 2>&1 || return 0
  infrakt_read_crontab
  if grep -qF "$infrakt_cron_marker" "$infrakt_cron_dir/tab"; then
    grep -vF "$infrakt_cron_marker" <"$infrakt_cron_dir/tab" | crontab -
  fi
  rm -rf -- "$infrakt_cron_dir"
  ! crontab -l 2>/dev/null | grep -qF "$infrakt_cron_marker"
}

# infrakt_put_file <temp> <path> <mode> <exit code>: the temp file, made
# <mode>, replaces <path> by a rename — unless <path> is a regular file (not a
# link) with the same bytes, which is then only given <mode>. Sets
# infrakt_changed (true|false); any failure exits with the code.
infrakt_put_file() {
  chmod "$3" -- "$1" || exit "$4"
  if [ -f "$2" ] && [ ! -L "$2" ] && cmp -s "$1" "$2" 2>/dev/null; then
    infrakt_changed=false
    chmod "$3" -- "$2" || exit "$4"
  else
    mv -f -- "$1" "$2" || {
      echo "infrakt: cannot replace $2" >&2
      exit "$4"
    }
    infrakt_changed=true
  fi
}

infrakt_warn() { printf '%s %s\n' "$infrakt_mark_warning" "$1"; }

# Installs (or replaces) the schedule: infrakt_script_text into infrakt_script
# (in infrakt_dir), then the crontab line. Warns about what would make it fail
# at 3 a.m.: a missing credentials or password file (infrakt_need_credentials,
# infrakt_need_password), no awscli (infrakt_need_aws=1), no curl or wget for
# the alerts (infrakt_need_http=1), no cron daemon.
infrakt_install_schedule() {
  set -u
  umask 077
  if [ ! -d "$infrakt_dir" ]; then
    mkdir -p -- "$infrakt_dir" || {
      echo "infrakt: cannot create $infrakt_dir" >&2
      exit "$infrakt_exit_backup_dir"
    }
  fi
  mkdir -p -- "$infrakt_status_dir" || {
    echo "infrakt: cannot create $infrakt_status_dir" >&2
    exit "$infrakt_exit_backup_dir"
  }
  infrakt_tmp=$(mktemp "$infrakt_dir/.${infrakt_script##*/}.XXXXXX") || {
    echo "infrakt: cannot write in $infrakt_dir" >&2
    exit "$infrakt_exit_backup_dir"
  }
  trap 'rm -f -- "$infrakt_tmp"' EXIT
  printf '%s' "$infrakt_script_text" >"$infrakt_tmp" || {
    echo "infrakt: cannot write $infrakt_tmp" >&2
    exit "$infrakt_exit_backup_dir"
  }
  sh -n "$infrakt_tmp" || {
    echo "infrakt: the generated script does not parse in sh on this server" >&2
    exit "$infrakt_exit_script_invalid"
  }
  if command -v bash >/dev/null 2>&1; then
    bash -n "$infrakt_tmp" || {
      echo "infrakt: the generated script does not parse in bash on this server" >&2
      exit "$infrakt_exit_script_invalid"
    }
  fi
  infrakt_put_file "$infrakt_tmp" "$infrakt_script" 700 "$infrakt_exit_backup_dir"
  infrakt_cron_install || {
    echo "infrakt: the crontab entry is not in place after installing it" >&2
    exit "$infrakt_exit_crontab"
  }
  if [ -n "$infrakt_need_credentials" ] && [ ! -r "$infrakt_need_credentials" ]; then
    infrakt_warn "the S3 credentials file $infrakt_need_credentials is missing: scheduled uploads will fail until it is written"
  fi
  if [ "$infrakt_need_aws" = 1 ] && ! command -v aws >/dev/null 2>&1; then
    infrakt_warn 'awscli (aws) is not installed: scheduled uploads will fail — run Provision Server'
  fi
  if [ -n "${infrakt_need_http:-}" ] && ! command -v curl >/dev/null 2>&1 && ! infrakt_gnu_wget; then
    infrakt_warn 'neither curl nor GNU wget is installed: alerts cannot be sent — run Provision Server'
  fi
  if [ -n "$infrakt_need_password" ] && [ ! -r "$infrakt_need_password" ]; then
    infrakt_warn "the password file $infrakt_need_password is missing: scheduled backups will fail until it is written"
  fi
  # The daemon: an entry nobody runs is the silent failure schedules exist to avoid.
  infrakt_crond_running ||
    infrakt_warn 'no cron daemon is running on this server: the schedule is installed but will not run — start cron (or run Provision Server)'
  printf '%s {"script":"%s","changed":%s,"cron":"%s"}\n' "$infrakt_mark_result" "$infrakt_script" "$infrakt_changed" \
    "$infrakt_cron_expression"
}

# Removes the crontab entry, then the schedule's files (infrakt_remove: one
# path per line; the log stays, for the record). Nothing to do when gone.
infrakt_unschedule() {
  set -u
  infrakt_cron_remove || {
    echo "infrakt: the crontab entry is still there after removing it" >&2
    exit "$infrakt_exit_crontab"
  }
  while IFS= read -r infrakt_f; do
    [ -n "$infrakt_f" ] || continue
    rm -f -- "$infrakt_f" || {
      echo "infrakt: cannot remove the schedule's files" >&2
      exit "$infrakt_exit_backup_dir"
    }
  done <<EOF
$infrakt_remove
EOF
  printf '%s {"removed":"%s"}\n' "$infrakt_mark_result" "$infrakt_script"
}

# Writes a root-only secret file (infrakt_path; 0600 in a 0700 dir of this
# user's, never through a symbolic link, replaced atomically, unchanged when
# equal). Its text is infrakt_secret_text, or, with infrakt_secret_env set,
# a file the scheduled script sources: that variable, exported, holding
# infrakt_secret_value. printf is a builtin: the secret is in no argv.
infrakt_write_secret_file() {
  set -u
  umask 077
  infrakt_sdir=${infrakt_path%/*}
  [ ! -L "$infrakt_sdir" ] || {
    echo "infrakt: $infrakt_sdir is a symbolic link; refusing to put secrets there" >&2
    exit "$infrakt_exit_secret_file"
  }
  if [ ! -d "$infrakt_sdir" ]; then
    mkdir -p -- "$infrakt_sdir" || {
      echo "infrakt: cannot create $infrakt_sdir" >&2
      exit "$infrakt_exit_secret_file"
    }
  fi
  [ -O "$infrakt_sdir" ] || {
    echo "infrakt: $infrakt_sdir belongs to another user; refusing to put secrets there" >&2
    exit "$infrakt_exit_secret_file"
  }
  chmod 700 -- "$infrakt_sdir" || exit "$infrakt_exit_secret_file"
  infrakt_tmp=$(mktemp "$infrakt_sdir/.infrakt.XXXXXX") || {
    echo "infrakt: cannot write in $infrakt_sdir" >&2
    exit "$infrakt_exit_secret_file"
  }
  trap 'rm -f -- "$infrakt_tmp"' EXIT
  if [ -n "${infrakt_secret_env:-}" ]; then
    # Single-quoted for the shell that sources it: each ' becomes '\''.
    infrakt_q=$(printf '%s' "$infrakt_secret_value" | sed "s/'/'\\\\''/g"; printf x)
    infrakt_q=${infrakt_q%x}
    printf "%s='%s'\nexport %s\n" "$infrakt_secret_env" "$infrakt_q" "$infrakt_secret_env" >"$infrakt_tmp"
  else
    printf '%s' "$infrakt_secret_text" >"$infrakt_tmp"
  fi || {
    echo "infrakt: cannot write $infrakt_tmp" >&2
    exit "$infrakt_exit_secret_file"
  }
  infrakt_put_file "$infrakt_tmp" "$infrakt_path" 600 "$infrakt_exit_secret_file"
  printf '%s {"path":"%s","changed":%s}\n' "$infrakt_mark_result" "$infrakt_path" "$infrakt_changed"
}

# Removes a secret file (infrakt_path); nothing to do when absent.
infrakt_remove_secret_file() {
  set -u
  if [ -e "$infrakt_path" ] || [ -L "$infrakt_path" ]; then
    rm -f -- "$infrakt_path" || {
      echo "infrakt: cannot remove $infrakt_path" >&2
      exit "$infrakt_exit_secret_file"
    }
    infrakt_removed=true
  else
    infrakt_removed=false
  fi
  printf '%s {"path":"%s","removed":%s}\n' "$infrakt_mark_result" "$infrakt_path" "$infrakt_removed"
}
