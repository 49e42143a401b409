# shellcheck shell=sh
# Whether a cron daemon runs (by the process names in /proc): Provision Server
# starts one when it does not, Schedule Backups warns.
infrakt_crond_running() {
  for infrakt_cr_f in /proc/[0-9]*/comm; do
    read -r infrakt_cr_comm 2>/dev/null <"$infrakt_cr_f" || continue
    case "$infrakt_cr_comm" in cron | crond | busybox-crond) return 0 ;; esac
  done
  return 1
}
