# shellcheck shell=sh
# Whether the server has GNU wget (not busybox's): alerts send with curl, or
# with GNU wget when curl is missing — busybox wget has no config file, so its
# headers (a token) and URL would have to go on its command line, where any
# user of the server can read them; it is never used for alerts.
infrakt_gnu_wget() {
  command -v wget >/dev/null 2>&1 || return 1
  infrakt_gw=$(wget --version 2>/dev/null </dev/null | head -n 1) || infrakt_gw=''
  case "$infrakt_gw" in 'GNU Wget'*) return 0 ;; esac
  return 1
}
