# shellcheck shell=sh
# Test Connection: what backups on this server need, one line each
# (`$infrakt_mark_probe <key> <value>`): os, user, privilege (root, sudo:
# passwordless sudo, or none), docker and aws (their versions, only when
# installed), and backupdir (writable, creatable or not-writable).
#
# Input: infrakt_dir (the backup directory). Reports; never fails.

infrakt_probe_line() {
  printf '%s %s %s\n' "$infrakt_mark_probe" "$1" "$2"
}

infrakt_probe() {
  set -u
  # shellcheck disable=SC1091 # the server's own file
  infrakt_pb_os=$(. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-}") || infrakt_pb_os=''
  [ -n "$infrakt_pb_os" ] || infrakt_pb_os=$(uname -sr)
  infrakt_probe_line os "$infrakt_pb_os"
  infrakt_probe_line user "$(id -un)"
  if [ "$(id -u)" = 0 ]; then
    infrakt_pb_priv=root
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null </dev/null; then
    infrakt_pb_priv=sudo
  else
    infrakt_pb_priv=none
  fi
  infrakt_probe_line privilege "$infrakt_pb_priv"
  if command -v docker >/dev/null 2>&1; then
    infrakt_probe_line docker "$(docker --version 2>/dev/null </dev/null | head -n1)"
  fi
  if command -v aws >/dev/null 2>&1; then
    infrakt_probe_line aws "$(aws --version 2>&1 </dev/null | head -n1)"
  fi
  # An existing dir must be writable; a missing one can be created when its
  # nearest existing parent is writable, or with root or sudo.
  if [ -d "$infrakt_dir" ]; then
    if [ -w "$infrakt_dir" ]; then infrakt_pb_dir=writable; else infrakt_pb_dir=not-writable; fi
  else
    infrakt_pb_up=$(dirname "$infrakt_dir")
    while [ ! -d "$infrakt_pb_up" ]; do infrakt_pb_up=$(dirname "$infrakt_pb_up"); done
    if [ -w "$infrakt_pb_up" ] || [ "$infrakt_pb_priv" != none ]; then
      infrakt_pb_dir=creatable
    else
      infrakt_pb_dir=not-writable
    fi
  fi
  infrakt_probe_line backupdir "$infrakt_pb_dir"
}
